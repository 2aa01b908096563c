/**
 * What the Sparkplug host has to tell the main thread after a batch: its anomaly counts since the
 * last report, and the rebirth requests to publish. The host runs in the SQLite worker, which has
 * no MQTT connection; the store hands this back with the batch's result (sink/types.ts DecoderReport).
 */
import { rebirthCommand } from './rebirth.js';
import { SPARKPLUG_ANOMALIES, type SparkplugAnomaly } from './host.js';

/**
 * Rebirth requests held between two reports. The host already limits them to one per node per
 * interval; this bounds a batch in which thousands of nodes misbehave at once (the rest are counted).
 */
const MAX_PENDING_REBIRTHS = 1000;

export interface DecoderReport {
  /** Increments since the last report, by counter name. */
  counts: Record<string, number>;
  /** Messages to publish at QoS 0, not retained. */
  publish: { topic: string; payload: Uint8Array }[];
}

export class SparkplugOutbox {
  private readonly reported: Record<SparkplugAnomaly, number>;
  private pending: { topic: string; payload: Uint8Array }[] = [];
  private certificates = 0;
  private overflow = 0;

  constructor(private readonly counts: Readonly<Record<SparkplugAnomaly, number>>) {
    this.reported = { ...counts };
  }

  rebirth(group: string, node: string, nowMs: number): void {
    if (this.pending.length >= MAX_PENDING_REBIRTHS) {
      this.overflow++;
      return;
    }
    this.pending.push(rebirthCommand(group, node, nowMs));
  }

  certificate(): void {
    this.certificates++;
  }

  /** The report since the last call, or undefined when there is nothing to say. */
  take(): DecoderReport | undefined {
    const counts: Record<string, number> = {};
    let any = false;
    for (const a of SPARKPLUG_ANOMALIES) {
      const d = this.counts[a] - this.reported[a];
      if (d > 0) {
        counts[`sparkplug_${a}`] = d;
        this.reported[a] = this.counts[a];
        any = true;
      }
    }
    if (this.certificates > 0) counts.sparkplug_certificate = this.certificates;
    if (this.overflow > 0) counts.sparkplug_rebirth_overflow = this.overflow;
    if (!any && this.certificates === 0 && this.overflow === 0 && this.pending.length === 0) return undefined;
    const publish = this.pending;
    this.pending = [];
    this.certificates = 0;
    this.overflow = 0;
    return { counts, publish };
  }
}
