/**
 * Wall-clock strings without an offset ("2024-03-31T02:30:00", Tasmota's `Time`) → epoch ms in an
 * IANA time zone, with Intl only (no tz database dependency: Node ships ICU's). 'local' is the
 * host's zone, what Date.parse already does for such strings (ECMA-262 §21.4.3.2).
 */

/** Date-time without an offset: the fields, seconds and fraction optional. */
const LOCAL_ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Whether `zone` is 'local' or a zone this runtime's ICU knows. */
export function isKnownZone(zone: string): boolean {
  if (zone === 'local') return true;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `zone` from UTC at instant `ms`, in ms (Europe/Berlin in summer: +7_200_000). */
function offsetAt(zone: string, ms: number): number {
  const parts = formatter(zone).formatToParts(ms);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

/**
 * Epoch ms of a wall-clock string in `zone`, or undefined when the string is not a date-time
 * without an offset (strings with 'Z' or '+hh:mm' are the caller's: Date.parse reads them right).
 * A wall time that a DST change skips or repeats resolves to one of its candidate instants.
 */
export function wallClockToMs(value: string, zone: string): number | undefined {
  const m = LOCAL_ISO.exec(value);
  if (m === null) return undefined;
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const frac = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  const asUtc = Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6)) + frac;
  if (!Number.isFinite(asUtc)) return undefined;
  if (zone === 'local') {
    const d = new Date(n(1), n(2) - 1, n(3), n(4), n(5), n(6));
    return d.getTime() + frac;
  }
  // Two passes: the offset at the guess, then at the corrected instant (they differ near a DST change).
  const first = offsetAt(zone, asUtc);
  const second = offsetAt(zone, asUtc - first);
  return asUtc - (first === second ? first : Math.max(first, second));
}
