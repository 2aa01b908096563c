/**
 * Picking one reading out of messages.readings with `readings ->> '$."name"'`: the name as a quoted
 * JSON path label. A label cannot hold every character (not ", and \ and control characters are
 * better not trusted to the path parser): such names are matched by json_each, key by key.
 */

/** Whether a metric name is usable as a quoted JSON path label ($."name"). */
export function simpleKey(metric: string): boolean {
  for (let i = 0; i < metric.length; i++) {
    const c = metric.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** The path of one metric, for `->>`; only for simpleKey names. */
export function label(metric: string): string {
  return `$."${metric}"`;
}
