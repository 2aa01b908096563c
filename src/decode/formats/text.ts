/**
 * Plain-text payloads: what devices publish outside JSON. `ON` on stat/<dev>/POWER (Tasmota),
 * `online` on <node>/status (ESPHome), `21.5` on <node>/sensor/<object>/state, `true` on
 * <id>/online (Shelly). A number is one reading, a state word is 1 or 0, anything else is kept as
 * the message's text without readings.
 */
import type { StateWords } from '../types.js';

/**
 * Default state words, matched case-insensitively: 1 for on / present / open, as Home Assistant's
 * binary sensors read them. Words that are also ordinary names are left out (`home` is an OwnTracks
 * region's `desc`, `clear` a weather condition); add them in subscribe.stateWords if you want them.
 */
export const DEFAULT_STATE_WORDS: StateWords = Object.freeze({
  on: Object.freeze(['on', 'true', 'yes', 'online', 'open', 'connected']),
  off: Object.freeze(['off', 'false', 'no', 'offline', 'closed', 'disconnected']),
});

/** A plain decimal number, what firmware prints: no hex, no 'Infinity', no thousands separators. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Longer text is never a state word; skip lower-casing it. */
const MAX_WORD_CHARS = 32;

/** Word → 1/0 lookup; trims and ignores case. Throws at startup on a word listed as both. */
export function compileStateWords(words: StateWords): (s: string) => number | undefined {
  const map = new Map<string, number>();
  for (const w of words.on) map.set(w.trim().toLowerCase(), 1);
  for (const w of words.off) {
    const k = w.trim().toLowerCase();
    if (map.get(k) === 1) throw new RangeError(`state word "${w}" is listed as both on and off`);
    map.set(k, 0);
  }
  return (s) => (s.length > MAX_WORD_CHARS ? undefined : map.get(s.trim().toLowerCase()));
}

export type TextValue =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'state'; readonly value: number }
  | { readonly kind: 'nonFinite' }
  | { readonly kind: 'text' };

const TEXT: TextValue = Object.freeze({ kind: 'text' });
const NON_FINITE: TextValue = Object.freeze({ kind: 'nonFinite' });

/** What a text payload holds. */
export function classifyText(text: string, stateOf: (s: string) => number | undefined): TextValue {
  const t = text.trim();
  if (t.length > 0 && t.length <= 64 && NUMBER.test(t)) {
    const n = Number(t);
    return Number.isFinite(n) ? { kind: 'number', value: n } : NON_FINITE;
  }
  const state = stateOf(t);
  return state === undefined ? TEXT : { kind: 'state', value: state };
}
