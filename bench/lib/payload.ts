/**
 * The telemetry message every device sends: JSON with the publish time (ms) and a per-device sequence
 * number, which verification and the latency measurement read back from the stored payload.
 */

export function deviceName(i: number): string {
  return `dev-${String(i).padStart(4, '0')}`;
}

/** Topic per device; mqlite's default template `+/{device}/#` takes the device from level 2. */
export function deviceTopic(i: number): string {
  return `bench/${deviceName(i)}/telemetry`;
}

/** Device name from a bench topic, or undefined. */
export function deviceOfTopic(topic: string): string | undefined {
  return topic.split('/')[1];
}

/** ~80 bytes at the default size; padded with a string field when a larger size is asked for. */
export function makePayload(seq: number, publishedAtMs: number, targetBytes: number): string {
  const temp = 18 + (seq % 70) / 10;
  const body = `{"ts":${publishedAtMs},"seq":${seq},"temp":${temp.toFixed(1)},"hum":${40 + (seq % 20)},"bat":3.71,"rssi":-67`;
  const short = targetBytes - body.length - 1;
  if (short < 10) return `${body}}`;
  return `${body},"pad":"${'x'.repeat(short - 9)}"}`;
}

export interface ParsedPayload {
  readonly ts: number;
  readonly seq: number;
}

/** Cheap extraction of ts and seq (the payload is ours, so a full JSON.parse is not needed). */
export function parsePayload(text: string): ParsedPayload | undefined {
  const ts = /"ts":(\d+)/.exec(text);
  const seq = /"seq":(\d+)/.exec(text);
  if (!ts || !seq) return undefined;
  return { ts: Number(ts[1]), seq: Number(seq[1]) };
}
