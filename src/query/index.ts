/**
 * The read side as the daemon sees it: a pool of query workers and the HTTP routes in front of
 * them, started after the sink (the schema exists) and stopped before it.
 */
import { Access, type VerifyFn } from './access.js';
import type { ExpositionSettings } from './exposition.js';
import { type QueryHooks, queryRoutes, type Route } from './http-routes.js';
import type { JobResult, QueryJob } from './protocol.js';
import { QueryPool, type QueryPoolSettings } from './query-pool.js';

export type { QueryHooks, Route } from './http-routes.js';

export interface QueryServiceSettings {
  readonly pool: QueryPoolSettings;
  readonly api: boolean;
  readonly exposition: ExpositionSettings | undefined;
  readonly access: ConstructorParameters<typeof Access>[0];
}

export class QueryService {
  private readonly pool: QueryPool;
  readonly routes: Route[];
  /** The API's access rule, for other routes on the listener that show the same data (status page). */
  readonly access: Access;

  constructor(
    settings: QueryServiceSettings,
    deps: { hooks: QueryHooks; verify: VerifyFn; version: string },
  ) {
    this.pool = new QueryPool(settings.pool);
    this.access = new Access(settings.access, deps.verify);
    const all = queryRoutes({
      run: (job) => this.pool.run(job),
      access: this.access,
      hooks: deps.hooks,
      version: deps.version,
      exposition: settings.exposition,
    });
    this.routes = settings.api ? all : all.filter((r) => !r.path.startsWith('/api/'));
  }

  /** One job on the query workers (the status page's reads use this too). */
  run(job: QueryJob): Promise<JobResult> {
    return this.pool.run(job);
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  stop(): Promise<void> {
    return this.pool.stop();
  }
}
