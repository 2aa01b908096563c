/**
 * Closes a connection whose packet holds a string (topic, client id, user name, subscription
 * filter) that is not well-formed UTF-8 or contains U+0000: MQTT 3.1.1 [MQTT-1.5.3-1] and
 * [MQTT-1.5.3-2] (MQTT 5 §1.5.4) require it, and Mosquitto does it. mqtt-packet 9.0.2 decodes
 * strings with Buffer#toString (parser.js `_parseString`), which turns invalid bytes into U+FFFD
 * (so different topics merge) and keeps NUL (which then ends up inside a device name). We wrap
 * the per-client parser's `_parseString` (private, pinned with aedes 1.2.0 like
 * packet-size-guard.ts; test/integration/broker-hardening.test.ts fails if it stops working).
 * Returning null makes every caller in the parser emit an error, and aedes closes the connection
 * on a parser error (lib/client.js `_onError`).
 */
import { isUtf8 } from 'node:buffer';

interface GuardableParser {
  _parseString?: (this: GuardableParser, maybeBuffer?: boolean) => string | null;
  _pos?: number;
  _list?: { slice(start: number, end: number): Buffer };
}

export type StringViolation = 'string_with_nul' | 'invalid_utf8';

/** Returns false if the parser internals are not there (nothing installed). */
export function rejectMalformedStrings(client: unknown, onViolation: (v: StringViolation) => void): boolean {
  const parser = (client as { _parser?: GuardableParser })._parser;
  const parseString = parser?._parseString;
  if (parser === undefined || typeof parseString !== 'function') return false;
  parser._parseString = function guardedParseString(this: GuardableParser, maybeBuffer?: boolean) {
    const start = this._pos ?? 0;
    const result = parseString.call(this, maybeBuffer);
    if (result === null) return result;
    if (result.includes('\u0000')) {
      onViolation('string_with_nul');
      return null;
    }
    // U+FFFD is what invalid bytes decode to; only then look at the bytes (2: the length prefix).
    if (result.includes('\uFFFD') && this._list !== undefined && this._pos !== undefined) {
      if (!isUtf8(this._list.slice(start + 2, this._pos))) {
        onViolation('invalid_utf8');
        return null;
      }
    }
    return result;
  };
  return true;
}
