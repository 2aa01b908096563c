/**
 * MQTT topic filter matching (MQTT 5.0 §4.7), used to pick a format rule for a topic.
 * Matching walks the topic with indexOf instead of splitting it, so a match allocates nothing.
 */

/** [MQTT-4.7.3-3] topic names and filters are UTF-8 strings of at most 65535 bytes. */
const MAX_TOPIC_BYTES = 65_535;

/** Why `filter` is not a valid MQTT topic filter, or undefined when it is. */
export function validateFilter(filter: string): string | undefined {
  if (filter.length === 0) return 'a topic filter must not be empty [MQTT-4.7.3-1]';
  if (filter.includes('\u0000')) return 'a topic filter must not contain U+0000 [MQTT-4.7.3-2]';
  if (Buffer.byteLength(filter, 'utf8') > MAX_TOPIC_BYTES)
    return 'a topic filter must be at most 65535 bytes';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be a whole level and the last one [MQTT-4.7.1-1], in "${filter}"`;
    }
    if (level.includes('+') && level !== '+') {
      return `'+' must be a whole level [MQTT-4.7.1-2], in "${filter}"`;
    }
  }
  return undefined;
}

/**
 * Compile a filter once into a matcher. An invalid filter is matched literally level by level
 * (validate with validateFilter first; this never throws).
 */
export function compileFilter(filter: string): (topic: string) => boolean {
  const levels = filter.split('/');
  const n = levels.length;
  // [MQTT-4.7.2-1] a filter starting with a wildcard must not match a topic starting with '$'.
  const leadingWildcard = levels[0] === '+' || levels[0] === '#';
  return (topic: string): boolean => {
    if (leadingWildcard && topic.charCodeAt(0) === 0x24 /* $ */) return false;
    let pos = 0; // start of the current topic level; topic.length + 1 once the topic is used up
    for (let i = 0; i < n; i++) {
      const level = levels[i]!;
      // '#' matches the parent level too: "sport/#" matches "sport" (§4.7.1.2).
      if (level === '#') return true;
      if (pos > topic.length) return false;
      let end = topic.indexOf('/', pos);
      if (end === -1) end = topic.length;
      if (level !== '+' && (end - pos !== level.length || !topic.startsWith(level, pos))) return false;
      pos = end + 1;
    }
    return pos === topic.length + 1;
  };
}
