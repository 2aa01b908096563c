/** A preset: the format rules that make one device ecosystem's topics come out right. */
import type { FormatRule } from '../types.js';

export interface Preset {
  readonly name: string;
  /** One line for check-config and the README. */
  readonly description: string;
  readonly rules: readonly FormatRule[];
}

/** A rule with the defaults the config schema would fill in, tagged with its preset. */
export function rule(source: string, r: Partial<FormatRule> & { filter: string }): FormatRule {
  return Object.freeze({ format: 'auto', tsField: 'ts', tsUnit: 'auto', source, ...r });
}
