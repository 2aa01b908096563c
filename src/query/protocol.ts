/** Messages between the query pool (main thread) and a query worker; plain data only. */
import type { ApiLimits, ApiRequest } from './api.js';
import type { ExpositionSettings } from './exposition.js';
import type { WireQueryError } from './query-error.js';
import type { StatusData, StatusJob } from './status-data.js';

export interface QueryWorkerInit {
  readonly dbPath: string;
  readonly busyTimeoutMs: number;
  readonly limits: ApiLimits;
  /** The worker thread's nice value (query.nice); 0 leaves it at the process's. */
  readonly nice: number;
  /** query.cache.maxBytes: this worker's cache of recent raw readings; 0 none. */
  readonly cacheMaxBytes: number;
}

export type QueryJob =
  | { readonly kind: 'api'; readonly req: ApiRequest }
  | { readonly kind: 'exposition'; readonly now: number; readonly settings: ExpositionSettings }
  | { readonly kind: 'status'; readonly job: StatusJob };

export type JobResult =
  | {
      readonly kind: 'api';
      /**
       * The answer's `data`, as JSON text: serialised in the worker, so a large answer costs the
       * event loop one string copy, not a structured clone of every point and a JSON.stringify.
       */
      readonly json: string;
      readonly resolution: string | undefined;
      /** Series this job read through the worker's recent-readings cache; undefined: no cache. */
      readonly cache: CacheCounts | undefined;
    }
  | { readonly kind: 'exposition'; readonly text: string; readonly refused: number }
  | { readonly kind: 'status'; readonly data: StatusData };

export type QueryWorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'open-failed'; readonly error: WireQueryError }
  | { readonly kind: 'done'; readonly id: number; readonly result: JobResult }
  | { readonly kind: 'failed'; readonly id: number; readonly error: WireQueryError };

/** Series of raw readings answered by the cache, partly (older part from SQL), or from SQL alone. */
export interface CacheCounts {
  readonly hits: number;
  readonly partial: number;
  readonly misses: number;
}

export interface QueryWorkerRequest {
  readonly id: number;
  readonly job: QueryJob;
}
