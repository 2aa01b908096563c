/**
 * Sparkplug B host anomalies and requests (decode/formats/sparkplug/host.ts), counted in the SQLite
 * worker and handed back per batch (DecoderReport.counts). No per-node label: a plant has thousands
 * of edge nodes, and the log plus the stored messages name them; these say how often.
 */
import { Counter, type Registry } from 'prom-client';

/** Decoder count name (sink/types.ts DecoderReport) → counter. */
const COUNTERS = {
  sparkplug_seq_gap: [
    'mqlite_sparkplug_seq_gaps_total',
    'Sparkplug messages whose seq was not the one expected from their edge node (messages lost or reordered)',
  ],
  sparkplug_data_before_birth: [
    'mqlite_sparkplug_data_before_birth_total',
    'Sparkplug DATA, DBIRTH or DDEATH from an edge node or device never seen born (its names may be unknown)',
  ],
  sparkplug_unknown_alias: [
    'mqlite_sparkplug_unknown_aliases_total',
    'Sparkplug messages with a metric alias no BIRTH defined (those metrics are not stored)',
  ],
  sparkplug_stale_death: [
    'mqlite_sparkplug_stale_deaths_total',
    'Sparkplug NDEATHs ignored because their bdSeq does not match the current NBIRTH (a will from an older session)',
  ],
  sparkplug_certificate: [
    'mqlite_sparkplug_certificates_total',
    'BIRTH certificates read from $sparkplug/certificates/ (a Sparkplug-aware broker) to seed alias tables',
  ],
} as const;

export type SparkplugCountName = keyof typeof COUNTERS;

export interface SparkplugMetrics {
  /** Adds a batch's decoder counts; names it does not know are ignored. */
  add(counts: Readonly<Record<string, number>>): void;
  /** A rebirth request: published, or not (no connection, the request cap, a publish error). */
  rebirth(outcome: 'sent' | 'failed', n?: number): void;
}

export function createSparkplugMetrics(registry: Registry): SparkplugMetrics {
  const registers = [registry];
  const counters = new Map<string, Counter>();
  for (const [key, [name, help]] of Object.entries(COUNTERS))
    counters.set(key, new Counter({ name, help, registers }));
  const rebirths = new Counter({
    name: 'mqlite_sparkplug_rebirth_requests_total',
    help: 'Sparkplug rebirth requests (NCMD Node Control/Rebirth) by outcome: sent, or failed (not connected, over the per-batch cap, publish error)',
    labelNames: ['outcome'] as const,
    registers,
  });
  // Both label values exist from the start, so a rate() has a series to work on.
  rebirths.inc({ outcome: 'sent' }, 0);
  rebirths.inc({ outcome: 'failed' }, 0);
  return {
    add(counts) {
      for (const [key, n] of Object.entries(counts)) {
        if (key === 'sparkplug_rebirth_overflow') rebirths.inc({ outcome: 'failed' }, n);
        else counters.get(key)?.inc(n);
      }
    },
    rebirth(outcome, n = 1) {
      rebirths.inc({ outcome }, n);
    },
  };
}
