/**
 * What the decoder reports after a committed batch (sink/types.ts DecoderReport) → metrics and the
 * intake: Sparkplug anomaly counts, and the rebirth requests it asks to publish. The decoder lives
 * in the SQLite worker, the MQTT connection here.
 */
import type { Logger } from 'pino';
import { errorMessage } from './lib/errors.js';
import { withTimeout } from './lib/timeout.js';
import type { SparkplugMetrics } from './observe/sparkplug-metrics.js';
import type { DecoderReport } from './sink/types.js';

/** A QoS 0 publish is done once written to the socket; one that is not within this has failed. */
const PUBLISH_TIMEOUT_MS = 5000;

export interface DecoderReportDeps {
  readonly metrics: SparkplugMetrics;
  readonly publish: (topic: string, payload: Uint8Array) => Promise<void>;
  readonly log: Logger;
}

export function decoderReportHandler(deps: DecoderReportDeps): (r: DecoderReport) => void {
  let failures = 0;
  let sent = 0;
  return (report) => {
    deps.metrics.add(report.counts);
    for (const { topic, payload } of report.publish) {
      withTimeout(deps.publish(topic, payload), PUBLISH_TIMEOUT_MS, `publish ${topic}`).then(
        () => {
          deps.metrics.rebirth('sent');
          sent++;
          // The 1st, 2nd, 4th… request: visible without a line per node.
          if ((sent & (sent - 1)) === 0) deps.log.info({ topic, count: sent }, 'Sparkplug rebirth requested');
        },
        (err: unknown) => {
          deps.metrics.rebirth('failed');
          failures++;
          if ((failures & (failures - 1)) === 0)
            deps.log.warn(
              { topic, err: errorMessage(err), count: failures },
              'Sparkplug rebirth request not sent',
            );
        },
      );
    }
  };
}
