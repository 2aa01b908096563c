/**
 * Topic templates: where in a topic the device (and other named fields) sit.
 * '+' matches one level, '#' the rest (zero or more levels, last only), '{name}' captures one
 * level as field `name`, '{device}' is the device, anything else must match literally.
 * Unlike subscription filters, a leading wildcard here does match '$' topics: the template only
 * reads topics that the subscriptions already let in.
 */

export interface TemplateMatch {
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

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `template` is not a valid topic template, or undefined when it is. */
export function validateTemplate(template: string): string | undefined {
  if (template.length === 0) return 'a topic template must not be empty';
  if (template.includes('\u0000')) return 'a topic template must not contain U+0000';
  const levels = template.split('/');
  const seen = new Set<string>();
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be a whole level and the last one, in "${template}"`;
    }
    if (level.includes('+') && level !== '+') return `'+' must be a whole level, in "${template}"`;
    if (level.includes('{') || level.includes('}')) {
      const name = level.startsWith('{') && level.endsWith('}') ? level.slice(1, -1) : undefined;
      if (name === undefined || !FIELD_NAME.test(name)) {
        return `a capture must be a whole level like "{device}" with a name of letters, digits and '_', got "${level}"`;
      }
      // A field named __proto__ would be a trap for whoever spreads `fields` into an object.
      if (name === '__proto__') return 'a capture must not be named "__proto__"';
      if (seen.has(name)) return `the capture "{${name}}" appears twice in "${template}"`;
      seen.add(name);
    }
  }
  return undefined;
}

const NO_MATCH_FIELDS: Record<string, string> = Object.freeze(Object.create(null));

/**
 * Compile a template once into a matcher. Throws (at startup) on an invalid template; the
 * matcher itself never throws.
 */
export function compileTemplate(template: string): (topic: string) => TemplateMatch {
  const problem = validateTemplate(template);
  if (problem !== undefined) throw new RangeError(`invalid topic template: ${problem}`);
  const texts = template.split('/');
  const n = texts.length;
  const kinds = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const t = texts[i]!;
    if (t === '+') kinds[i] = PLUS;
    else if (t === '#') kinds[i] = HASH;
    else if (t.startsWith('{')) {
      kinds[i] = CAPTURE;
      texts[i] = t.slice(1, -1);
    } else kinds[i] = LITERAL;
  }
  const noMatch: TemplateMatch = Object.freeze({ device: null, fields: NO_MATCH_FIELDS, deviceEnd: -1 });

  return (topic: string): TemplateMatch => {
    let device: string | null = null;
    let deviceEnd = -1;
    // Created lazily: a miss needs none.
    let fields: Record<string, string> | undefined;
    let pos = 0;
    let rest = false; // reached '#': the remaining levels, if any, all match
    for (let i = 0; i < n; i++) {
      const kind = kinds[i];
      if (kind === HASH) {
        rest = true;
        break;
      }
      if (pos > topic.length) return noMatch;
      let end = topic.indexOf('/', pos);
      if (end === -1) end = topic.length;
      if (kind === CAPTURE) {
        const name = texts[i]!;
        const value = topic.slice(pos, end);
        fields ??= Object.create(null) as Record<string, string>;
        fields[name] = value;
        if (name === 'device') {
          // An empty level names no device; storing '' would group unrelated topics.
          device = value === '' ? null : value;
          deviceEnd = device === null ? -1 : end;
        }
      } else if (kind === LITERAL) {
        const text = texts[i]!;
        if (end - pos !== text.length || !topic.startsWith(text, pos)) return noMatch;
      }
      pos = end + 1;
    }
    if (!rest && pos !== topic.length + 1) return noMatch;
    return { device, fields: fields ?? (Object.create(null) as Record<string, string>), deviceEnd };
  };
}
