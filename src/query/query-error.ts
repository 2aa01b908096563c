/**
 * Errors of the query API, typed by Prometheus's `errorType` so the handler maps each to the
 * status code Prometheus uses (web/api/v1/api.go: bad_data 400, execution 422, timeout and
 * unavailable 503, internal 500).
 */
export type QueryErrorType = 'bad_data' | 'execution' | 'timeout' | 'unavailable' | 'internal' | 'not_found';

export const STATUS_OF: Record<QueryErrorType, number> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  unavailable: 503,
  internal: 500,
  not_found: 404,
};

export class QueryError extends Error {
  constructor(
    readonly type: QueryErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }

  static parse(pos: number, what: string): QueryError {
    return new QueryError('bad_data', `parse error at char ${pos + 1}: ${what}`);
  }

  static unsupported(what: string): QueryError {
    return new QueryError(
      'bad_data',
      `${what} is not supported by mqlite (supported: selectors, *_over_time, rate, increase, sum/avg/min/max/count by/without)`,
    );
  }
}

/** What crosses the worker boundary: errors as plain data. */
export interface WireQueryError {
  readonly type: QueryErrorType;
  readonly message: string;
}

export function toWire(err: unknown): WireQueryError {
  if (err instanceof QueryError) return { type: err.type, message: err.message };
  return { type: 'internal', message: err instanceof Error ? err.message : String(err) };
}
