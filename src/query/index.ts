/**
 * The read side as the daemon sees it: a pool of query workers and the HTTP routes in front of
 * them, started after the sink (the schema exists) and stopped before it.
 */
import { Access, type VerifyFn } from './access.js';
import type { ExpositionSettings } from './exposition.js';
import { type QueryHooks, queryRoutes, type Route } from './http-routes.js';
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

  constructor(
    settings: QueryServiceSettings,
    deps: { hooks: QueryHooks; verify: VerifyFn; version: string },
  ) {
    this.pool = new QueryPool(settings.pool);
    const all = queryRoutes({
      run: (job) => this.pool.run(job),
      access: new Access(settings.access, deps.verify),
      hooks: deps.hooks,
      version: deps.version,
      exposition: settings.exposition,
    });
    this.routes = settings.api ? all : all.filter((r) => !r.path.startsWith('/api/'));
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  stop(): Promise<void> {
    return this.pool.stop();
  }
}
