/**
 * Refuses an oversize packet as soon as its fixed header is parsed, before its body is
 * buffered. Neither aedes 1.2.0 nor mqtt-packet 9.0.2 has a size limit: aedes builds its
 * parser with `mqtt.parser()` (lib/client.js) and mqtt-packet accumulates the whole remaining
 * length (up to 256 MiB) before parsing (parser.js `_parsePayload`), so one client could make
 * us buffer that much. We wrap the per-client parser's `_parseLength` (private, pinned with
 * aedes; test/integration/broker-limits.test.ts fails if it stops working). Without the
 * internal the exact check in authorizePublish still rejects the message, only later.
 */
export interface GuardableClient {
  _parser?: {
    _parseLength?: () => boolean;
    _emitError?: (err: Error) => void;
    packet?: { cmd?: string; length?: number };
  };
}

/** Returns false if the parser internals are not there (nothing installed). */
export function limitPacketSize(
  client: unknown,
  maxPacketBytes: number,
  onTooLarge: (cmd: string | undefined) => void,
): boolean {
  const parser = (client as GuardableClient)._parser;
  const parseLength = parser?._parseLength;
  const emitError = parser?._emitError;
  if (parser === undefined || typeof parseLength !== 'function' || typeof emitError !== 'function')
    return false;
  parser._parseLength = function guardedParseLength(this: NonNullable<GuardableClient['_parser']>): boolean {
    const ok = parseLength.call(this);
    const length = this.packet?.length ?? 0;
    if (ok && length > maxPacketBytes) {
      onTooLarge(this.packet?.cmd);
      // aedes turns a parser error into closing the connection (lib/client.js `_onError`).
      emitError.call(this, new Error(`packet of ${length} bytes exceeds the limit of ${maxPacketBytes}`));
      return false;
    }
    return ok;
  };
  return true;
}
