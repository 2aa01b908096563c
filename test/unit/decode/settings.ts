import type { DecodeSettings } from '../../../src/decode/types.js';

/** 2023-11-14T22:13:20Z: a fixed receive time, so tests never read the clock. */
export const RECEIVED = 1_700_000_000_000;

/** The config defaults (src/config/schema.ts), overridable per test. */
export function settings(over: Partial<DecodeSettings> = {}): DecodeSettings {
  return {
    template: '+/{device}/#',
    formats: [],
    maxPayloadBytes: 256 * 1024,
    maxJsonDepth: 32,
    maxReadingsPerMessage: 1000,
    maxFutureMs: 5 * 60_000,
    maxPastMs: 365 * 24 * 3600_000,
    outOfRange: 'clamp',
    ...over,
  };
}

const encoder = new TextEncoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
