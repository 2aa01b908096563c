/**
 * Stable codes: scripts and tests match on these, never on message text. The CLI prints
 * `mqlite: CODE: message`; README.md ("Errors") says what each means.
 */
export type MqliteErrorCode =
  | 'MQLITE_CONFIG_INVALID'
  | 'MQLITE_USAGE'
  | 'MQLITE_PORT_IN_USE'
  | 'MQLITE_BROKER_INSECURE'
  | 'MQLITE_DB_OPEN_FAILED'
  | 'MQLITE_DB_LOCKED'
  | 'MQLITE_SINK_COMMIT_FAILED'
  | 'MQLITE_SINK_WORKER_FAILED'
  | 'MQLITE_SOURCE_FAILED'
  | 'MQLITE_HTTP_FAILED'
  | 'MQLITE_FORWARD_TLS'
  | 'MQLITE_FORWARD_COLUMN_TYPES'
  | 'MQLITE_TIMEOUT';

export class MqliteError extends Error {
  readonly code: MqliteErrorCode;
  constructor(code: MqliteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MqliteError';
    this.code = code;
  }
}

/** One problem in the configuration: which key, what the user wrote, what we wanted. */
export interface ConfigProblem {
  readonly key: string;
  readonly value: unknown;
  readonly expected: string;
}

export class ConfigError extends MqliteError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('MQLITE_CONFIG_INVALID', ConfigError.format(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }

  static format(problems: readonly ConfigProblem[]): string {
    const lines = problems.map((p) => `  ${p.key}: expected ${p.expected}, got ${showValue(p.value)}`);
    return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
  }
}

/** A value that must not be printed (a secret): the message says what kind of value it was. */
export class HiddenValue {
  constructor(readonly kind: string) {}
}

/** Values are echoed up to this many characters: a 50 MB value must not become a 50 MB message. */
const SHOWN_CHARS = 80;

function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v instanceof HiddenValue) return `a ${v.kind} (not shown: secret)`;
  if (typeof v === 'string' && v.length > SHOWN_CHARS) {
    // Cut before stringifying: JSON.stringify of the whole value is what ballooned memory.
    return `${JSON.stringify(v.slice(0, SHOWN_CHARS))}… (${Buffer.byteLength(v)} bytes)`;
  }
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}… (${text.length} characters)` : text;
}

/** The message of an unknown thrown value, without assuming it is an Error. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The `code` property Node and SQLite errors carry (EADDRINUSE, SQLITE_BUSY, ...). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}
