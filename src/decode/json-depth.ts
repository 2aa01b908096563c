/**
 * Nesting depth of JSON text, measured on the bytes before parsing: a loop, no recursion, so a
 * payload nested 100k deep is refused without ever reaching JSON.parse or a recursive walk.
 * Brackets inside strings do not count. UTF-8 continuation bytes are ≥ 0x80, so they can never
 * be mistaken for the ASCII '"', '\\', '[', '{', ']', '}' scanned for here.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** True when some point in `bytes` is nested more than `max` arrays/objects deep. */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  // n bytes can open at most n containers.
  if (bytes.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
      // Unbalanced closers are JSON.parse's to report; do not let them buy extra depth.
      if (depth > 0) depth--;
    }
  }
  return false;
}
