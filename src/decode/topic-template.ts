/**
 * Topic templates: where in a topic the device (and other named fields) sit.
 * '+' matches one level, '#' the rest (zero or more levels, last only), '{name}' captures one
 * level as field `name`, '{device}' is the device, anything else must match literally.
 * '{name#}' captures one or more whole levels (at most one per template, and no '#' with it): the
 * levels before it match from the start of the topic, those after it from the end, so
 * 'zigbee2mqtt/{device#}/availability' names the device 'living room/lamp' in
 * 'zigbee2mqtt/living room/lamp/availability' (zigbee2mqtt friendly names may contain '/').
 * Unlike subscription filters, a leading wildcard here does match '$' topics: the template only
 * reads topics that the subscriptions already let in.
 */

export interface TemplateMatch {
  /** Whether the topic has the template's shape at all. */
  matched: boolean;
  /** The '{device}' level; null when the topic does not match or that level is empty. */
  device: string | null;
  /** Every '{name}' capture, '{device}' included. Empty when the topic does not match. */
  fields: Record<string, string>;
  /** Index in the topic just past the device level, or -1 when there is no device. */
  deviceEnd: number;
}

const LITERAL = 0;
const PLUS = 1;
const HASH = 2;
const CAPTURE = 3;
const MULTI = 4;

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `template` is not a valid topic template, or undefined when it is. */
export function validateTemplate(template: string): string | undefined {
  if (template.length === 0) return 'a topic template must not be empty';
  if (template.includes('\u0000')) return 'a topic template must not contain U+0000';
  const levels = template.split('/');
  const seen = new Set<string>();
  let multi = false;
  let hash = false;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && !(level.startsWith('{') && level.endsWith('#}'))) {
      if (level !== '#' || i !== levels.length - 1) {
        return `'#' must be a whole level and the last one, in "${template}"`;
      }
      hash = true;
    }
    if (level.includes('+') && level !== '+') return `'+' must be a whole level, in "${template}"`;
    if (level.includes('{') || level.includes('}')) {
      let name = level.startsWith('{') && level.endsWith('}') ? level.slice(1, -1) : undefined;
      if (name?.endsWith('#')) {
        if (multi) return `only one multi-level capture like "{device#}" is allowed, in "${template}"`;
        multi = true;
        name = name.slice(0, -1);
      }
      if (name === undefined || !FIELD_NAME.test(name)) {
        return `a capture must be a whole level like "{device}" or "{device#}" with a name of letters, digits and '_', got "${level}"`;
      }
      // A field named __proto__ would be a trap for whoever spreads `fields` into an object.
      if (name === '__proto__') return 'a capture must not be named "__proto__"';
      if (seen.has(name)) return `the capture "{${name}}" appears twice in "${template}"`;
      seen.add(name);
    }
  }
  if (multi && hash) return `a template with a multi-level capture cannot also end in '#', in "${template}"`;
  return undefined;
}

const NO_MATCH_FIELDS: Record<string, string> = Object.freeze(Object.create(null));

interface Part {
  kind: number;
  text: string;
}

function parse(levels: readonly string[]): Part[] {
  return levels.map((t) => {
    if (t === '+') return { kind: PLUS, text: '' };
    if (t === '#') return { kind: HASH, text: '' };
    if (t.startsWith('{') && t.endsWith('#}')) return { kind: MULTI, text: t.slice(1, -2) };
    if (t.startsWith('{')) return { kind: CAPTURE, text: t.slice(1, -1) };
    return { kind: LITERAL, text: t };
  });
}

/**
 * Compile a template once into a matcher. Throws (at startup) on an invalid template; the
 * matcher itself never throws.
 */
export function compileTemplate(template: string): (topic: string) => TemplateMatch {
  const problem = validateTemplate(template);
  if (problem !== undefined) throw new RangeError(`invalid topic template: ${problem}`);
  const all = parse(template.split('/'));
  const multiAt = all.findIndex((p) => p.kind === MULTI);
  const head = multiAt === -1 ? all : all.slice(0, multiAt);
  const multi = multiAt === -1 ? undefined : all[multiAt]!;
  const tail = multiAt === -1 ? [] : all.slice(multiAt + 1);
  const noMatch: TemplateMatch = Object.freeze({
    matched: false,
    device: null,
    fields: NO_MATCH_FIELDS,
    deviceEnd: -1,
  });

  // No closures inside the matcher: it runs once per message, and a closure per call is an allocation.
  const emptyFields = (): Record<string, string> => Object.create(null) as Record<string, string>;
  const literalAt = (p: Part, topic: string, pos: number, end: number): boolean =>
    end - pos === p.text.length && topic.startsWith(p.text, pos);

  return (topic: string): TemplateMatch => {
    let device: string | null = null;
    let deviceEnd = -1;
    // Created lazily: a miss needs none.
    let fields: Record<string, string> | undefined;
    let pos = 0;
    let rest = false; // reached '#': the remaining levels, if any, all match
    for (let i = 0; i < head.length; i++) {
      const p = head[i]!;
      if (p.kind === HASH) {
        rest = true;
        break;
      }
      if (pos > topic.length) return noMatch;
      let end = topic.indexOf('/', pos);
      if (end === -1) end = topic.length;
      if (p.kind === CAPTURE) {
        const value = topic.slice(pos, end);
        fields ??= emptyFields();
        fields[p.text] = value;
        if (p.text === 'device') {
          // An empty level names no device; storing '' would group unrelated topics.
          device = value === '' ? null : value;
          deviceEnd = device === null ? -1 : end;
        }
      } else if (p.kind === LITERAL && !literalAt(p, topic, pos, end)) return noMatch;
      pos = end + 1;
    }
    if (multi !== undefined) {
      if (pos > topic.length) return noMatch;
      // The tail's levels are the topic's last ones: walk back from the end.
      let stop = topic.length; // end of the level being matched
      for (let i = tail.length - 1; i >= 0; i--) {
        const p = tail[i]!;
        const start = topic.lastIndexOf('/', stop - 1) + 1;
        // The multi-level capture needs at least one level of its own before the tail.
        if (start <= pos) return noMatch;
        if (p.kind === CAPTURE) {
          fields ??= emptyFields();
          fields[p.text] = topic.slice(start, stop);
        } else if (p.kind === LITERAL && !literalAt(p, topic, start, stop)) return noMatch;
        stop = start - 1;
      }
      if (stop < pos) return noMatch;
      const value = topic.slice(pos, stop);
      fields ??= emptyFields();
      fields[multi.text] = value;
      if (multi.text === 'device') {
        device = value === '' ? null : value;
        deviceEnd = device === null ? -1 : stop;
      }
    } else if (!rest && pos !== topic.length + 1) return noMatch;
    return { matched: true, device, fields: fields ?? emptyFields(), deviceEnd };
  };
}
