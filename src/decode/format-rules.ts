/**
 * Which format rule applies to a topic. A rule applies when its filter matches the topic and, if
 * it has its own topic template, that template matches too (so a preset can say
 * 'zigbee2mqtt/{device#}/availability', which no MQTT filter can). Rules are compiled once; the
 * answer per topic is cached because a fleet publishes on a small, stable set of topics.
 */
import { isKnownZone } from './time-zone.js';
import { compileFilter, validateFilter } from './topic-filter.js';
import { compileTemplate, type TemplateMatch, validateTemplate } from './topic-template.js';
import type { Format, FormatRule } from './types.js';

export interface CompiledRule {
  readonly format: Format;
  readonly tsField: string;
  /** tsField split on '.', once. */
  readonly tsPath: readonly string[];
  readonly tsUnit: FormatRule['tsUnit'];
  /** Zone for timestamp strings without an offset; undefined: the decoder's default. */
  readonly tsZone: string | undefined;
  readonly idField: string | undefined;
  readonly idPath: readonly string[] | undefined;
  readonly readingsPath: readonly string[] | undefined;
  /** line-protocol: timestamp unit and device tag. */
  readonly precision: NonNullable<FormatRule['precision']>;
  readonly deviceTag: string;
  /** Where the rule comes from: 'config', a preset name, or 'default'. */
  readonly source: string;
  readonly matchTemplate: (topic: string) => TemplateMatch;
  /** The device for a template match (null: none). */
  readonly deviceOf: (m: TemplateMatch) => string | null;
  /** The rule's metric name for a match, or undefined when the rule sets none. */
  readonly metricOf: (m: TemplateMatch) => string | undefined;
}

export const DEFAULT_TEMPLATE = '+/{device}/#';

/** Bounds the cache: 10k topics × ≤ 512 chars stays under ~10 MB of keys. */
const CACHE_MAX_ENTRIES = 10_000;
/** Longer topics are looked up every time rather than letting one sender fill memory with keys. */
const CACHE_MAX_TOPIC_CHARS = 512;
const CAPTURE_REF = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** '{user}/{device}' → a function of the captures; undefined when any capture is missing or empty. */
function compilePattern(pattern: string): (m: TemplateMatch) => string | undefined {
  const parts = pattern.split(CAPTURE_REF); // odd indexes are capture names
  return (m) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i % 2 === 0) out += p;
      else {
        const v = m.fields[p];
        if (v === undefined || v === '') return undefined;
        out += v;
      }
    }
    return out === '' ? undefined : out;
  };
}

function captureNames(template: string): Set<string> {
  const names = new Set<string>();
  for (const level of template.split('/')) {
    if (level.startsWith('{')) names.add(level.replace(/^\{|#?\}$/g, ''));
  }
  return names;
}

function compileRule(rule: FormatRule | undefined, globalTemplate: string): CompiledRule {
  const template = rule?.template ?? globalTemplate;
  const device = rule?.device === undefined ? undefined : compilePattern(rule.device);
  const metric = rule?.metric === undefined ? undefined : compilePattern(rule.metric);
  const tsField = rule?.tsField ?? 'ts';
  return Object.freeze({
    format: rule?.format ?? 'auto',
    tsField,
    tsPath: Object.freeze(tsField.split('.')),
    tsUnit: rule?.tsUnit ?? 'auto',
    tsZone: rule?.tsZone,
    idField: rule?.idField,
    idPath: rule?.idField === undefined ? undefined : Object.freeze(rule.idField.split('.')),
    readingsPath:
      rule?.readingsField === undefined ? undefined : Object.freeze(rule.readingsField.split('.')),
    precision: rule?.precision ?? 'ns',
    deviceTag: rule?.deviceTag ?? 'host',
    source: rule?.source ?? (rule === undefined ? 'default' : 'config'),
    matchTemplate: compileTemplate(template),
    deviceOf: device === undefined ? (m: TemplateMatch) => m.device : (m: TemplateMatch) => device(m) ?? null,
    metricOf: metric ?? (() => undefined),
  });
}

/** The rule used when none matches: format auto, tsField 'ts', the global template. */
export function defaultRule(template = DEFAULT_TEMPLATE): CompiledRule {
  return compileRule(undefined, template);
}

/** Why one rule is unusable, or undefined. `at` is its key, e.g. 'formats.2'. */
export function validateRule(rule: FormatRule, at: string): string | undefined {
  const problem = validateFilter(rule.filter);
  if (problem !== undefined) return `${at}.filter: ${problem}`;
  if (rule.tsField === '') return `${at}.tsField: must not be empty`;
  if (rule.idField === '') return `${at}.idField: must not be empty`;
  if (rule.readingsField === '') return `${at}.readingsField: must not be empty`;
  if (rule.deviceTag === '') return `${at}.deviceTag: must not be empty`;
  if (rule.tsZone !== undefined && !isKnownZone(rule.tsZone)) {
    return `${at}.tsZone: expected an IANA time zone like "Europe/Berlin" or "local", got "${rule.tsZone}"`;
  }
  if (rule.template !== undefined) {
    const t = validateTemplate(rule.template);
    if (t !== undefined) return `${at}.template: ${t}`;
  }
  const names = captureNames(rule.template ?? DEFAULT_TEMPLATE);
  for (const key of ['device', 'metric'] as const) {
    const pattern = rule[key];
    if (pattern === undefined) continue;
    for (const m of pattern.matchAll(CAPTURE_REF)) {
      if (!names.has(m[1]!)) return `${at}.${key}: "{${m[1]}}" is not a capture of the rule's template`;
    }
  }
  return undefined;
}

/** Why the rules are unusable, or undefined. For config validation; createRuleSelector throws the same. */
export function validateRules(rules: readonly FormatRule[]): string | undefined {
  for (let i = 0; i < rules.length; i++) {
    const problem = validateRule(rules[i]!, `formats.${i}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Compile the rules; the returned function picks the first rule whose filter (and template, if
 * the rule has one) matches a topic, else the default rule, and never throws.
 */
export function createRuleSelector(
  rules: readonly FormatRule[],
  globalTemplate = DEFAULT_TEMPLATE,
): (topic: string) => CompiledRule {
  const problem = validateRules(rules);
  if (problem !== undefined) throw new RangeError(`invalid format rules: ${problem}`);
  const fallback = defaultRule(globalTemplate);
  if (rules.length === 0) return () => fallback;

  const filters = rules.map((r) => compileFilter(r.filter));
  const compiled = rules.map((r) => compileRule(r, globalTemplate));
  const ownTemplate = rules.map((r) => r.template !== undefined);
  const cache = new Map<string, CompiledRule>();

  const lookup = (topic: string): CompiledRule => {
    for (let i = 0; i < filters.length; i++) {
      if (!filters[i]!(topic)) continue;
      const rule = compiled[i]!;
      // A rule's own template must match too (a miss has no fields at all).
      if (ownTemplate[i] && !rule.matchTemplate(topic).matched) continue;
      return rule;
    }
    return fallback;
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
