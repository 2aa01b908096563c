/**
 * Which format rule applies to a topic. Rules are compiled once; the answer per topic is cached
 * because a fleet publishes on a small, stable set of topics.
 */
import { compileFilter, validateFilter } from './topic-filter.js';
import type { FormatRule } from './types.js';

export interface CompiledRule {
  readonly format: 'json' | 'raw';
  readonly tsField: string;
  /** tsField split on '.', once. */
  readonly tsPath: readonly string[];
  readonly tsUnit: FormatRule['tsUnit'];
  readonly idField: string | undefined;
  readonly idPath: readonly string[] | undefined;
}

/** What applies when no rule's filter matches the topic. */
export const DEFAULT_RULE: CompiledRule = Object.freeze({
  format: 'json',
  tsField: 'ts',
  tsPath: Object.freeze(['ts']),
  tsUnit: 'auto',
  idField: undefined,
  idPath: undefined,
});

/** Bounds the cache: 10k topics × ≤ 512 chars stays under ~10 MB of keys. */
const CACHE_MAX_ENTRIES = 10_000;
/** Longer topics are looked up every time rather than letting one sender fill memory with keys. */
const CACHE_MAX_TOPIC_CHARS = 512;

function compileRule(rule: FormatRule): CompiledRule {
  return Object.freeze({
    format: rule.format,
    tsField: rule.tsField,
    tsPath: Object.freeze(rule.tsField.split('.')),
    tsUnit: rule.tsUnit,
    idField: rule.idField,
    idPath: rule.idField === undefined ? undefined : Object.freeze(rule.idField.split('.')),
  });
}

/** Why the rules are unusable, or undefined. For config validation; createRuleSelector throws the same. */
export function validateRules(rules: readonly FormatRule[]): string | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const problem = validateFilter(rule.filter);
    if (problem !== undefined) return `formats.${i}.filter: ${problem}`;
    if (rule.tsField === '') return `formats.${i}.tsField: must not be empty`;
    if (rule.idField === '') return `formats.${i}.idField: must not be empty`;
  }
  return undefined;
}

/** Compile the rules; the returned function picks the first rule matching a topic and never throws. */
export function createRuleSelector(rules: readonly FormatRule[]): (topic: string) => CompiledRule {
  const problem = validateRules(rules);
  if (problem !== undefined) throw new RangeError(`invalid format rules: ${problem}`);
  if (rules.length === 0) return () => DEFAULT_RULE;

  const matchers = rules.map((r) => compileFilter(r.filter));
  const compiled = rules.map(compileRule);
  const cache = new Map<string, CompiledRule>();

  const lookup = (topic: string): CompiledRule => {
    for (let i = 0; i < matchers.length; i++) {
      if (matchers[i]!(topic)) return compiled[i]!;
    }
    return DEFAULT_RULE;
  };

  return (topic: string): CompiledRule => {
    const hit = cache.get(topic);
    if (hit !== undefined) return hit;
    const rule = lookup(topic);
    if (topic.length <= CACHE_MAX_TOPIC_CHARS) {
      // Clearing all at once is cheaper than LRU bookkeeping on every hit, and a stable
      // fleet refills the cache within a few messages per topic.
      if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
      cache.set(topic, rule);
    }
    return rule;
  };
}
