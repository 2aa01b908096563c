/**
 * Preloaded (`node --import`) into every target, mqlite included, so event-loop lag is measured the same
 * way for all three. The parent sends {type:'loop-reset'} at the first publish and {type:'loop?'} at the end.
 *
 * Node 20's timer-based histogram records the whole interval between timer runs, so an idle loop reads
 * about RESOLUTION_MS (measured: p50 10.0 ms, p99 11.0 ms at resolution 10). The lag we report is the
 * excess over the resolution. prom-client's nodejs_eventloop_lag_* uses the same histogram (resolution 10
 * by default) without subtracting it, and resets it on every scrape.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const RESOLUTION_MS = 10;

if (process.send) {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  process.on('message', (m: unknown) => {
    const type = (m as { type?: unknown } | null)?.type;
    if (type === 'loop-reset') {
      h.reset();
    } else if (type === 'loop?') {
      const ms = (ns: number): number => ns / 1e6;
      process.send?.({
        type: 'loop',
        resolutionMs: RESOLUTION_MS,
        p50Ms: ms(h.percentile(50)),
        p99Ms: ms(h.percentile(99)),
        maxMs: ms(h.max),
      });
    }
  });
  // The channel must not keep the target alive: it exits on its own terms (SIGTERM).
  process.channel?.unref();
}
