/**
 * The one schema: TypeScript type, defaults and validation of every key.
 * config/mqlite.example.yaml documents the same keys; a unit test keeps them in step.
 */
import { z } from 'zod';
import { parseHostPort, parseSize } from './units.js';

const size = (expected: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return n;
  });

const hostPort = z.string().refine((v) => parseHostPort(v) !== undefined, {
  message: 'host:port such as "127.0.0.1:1883"',
});

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const brokerUrl = z.string().refine((v) => /^(mqtts?|wss?):\/\/[^/\s]+/.test(v), {
  message: 'a URL starting with mqtt://, mqtts://, ws:// or wss://',
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Syntax checks owned by a stage (topic filters and templates belong to decode/); the CLI
 * injects them so they are reported with every other problem, while config/ imports no stage.
 */
export interface StageValidators {
  readonly template?: (t: string) => string | undefined;
  readonly filter?: (f: string) => string | undefined;
  /** Whether a string has the shape of an embedded-broker password hash. */
  readonly passwordHash?: (h: string) => boolean;
}

const checked = (check: ((s: string) => string | undefined) | undefined) =>
  z
    .string()
    .min(1)
    .superRefine((s, ctx) => {
      const problem = check?.(s);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    });

export function buildConfigSchema(v: StageValidators = {}) {
  const formatRule = z.strictObject({
    /** Topic filter (MQTT wildcards) this rule applies to; first match wins. */
    filter: checked(v.filter),
    format: z.enum(['json', 'raw']).default('json'),
    /** Dot path of the timestamp in the payload. */
    tsField: z.string().min(1).default('ts'),
    /** auto: seconds below 1e11, else milliseconds; strings parse as ISO-8601. */
    tsUnit: z.enum(['auto', 's', 'ms', 'iso']).default('auto'),
    /** Dot path of a message id; when set, it (with the device) identifies redeliveries. */
    idField: z.string().min(1).optional(),
  });

  return z.strictObject({
    broker: z
      .strictObject({
        /** Omitted: run the embedded broker and ingest what its clients publish. */
        url: brokerUrl.optional(),
        protocolVersion: z
          .union([z.literal(5), z.literal(4)], { error: '5 (MQTT 5) or 4 (MQTT 3.1.1)' })
          .default(5),
        /** Default derived from host name and database path: stable across restarts. */
        clientId: z.string().min(1).max(128).optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        tls: z
          .strictObject({
            ca: z.string().optional(),
            cert: z.string().optional(),
            key: z.string().optional(),
            rejectUnauthorized: z.boolean().default(true),
          })
          .prefault({}),
        keepaliveSeconds: int(5, 3600).default(30),
        connectTimeoutMs: int(1000, 600_000).default(10_000),
        /** false: the broker keeps our subscription and queues QoS 1/2 while we are away. */
        cleanSession: z.boolean().default(false),
        sessionExpiryHours: int(0, 24 * 365).default(72),
        /** MQTT 5 window of unacknowledged messages the broker may send us; bounds a batch. */
        receiveMaximum: int(1, 65_535).default(10_000),
        reconnect: z
          .strictObject({
            baseMs: int(10, 600_000).default(500),
            factor: z.number().min(1).max(10).default(2),
            capMs: int(100, 3_600_000).default(30_000),
            /** A connection that lasted this long resets the backoff. */
            stableMs: int(0, 3_600_000).default(60_000),
          })
          .prefault({}),
      })
      .prefault({}),
    embedded: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:1883'),
        allowAnonymous: z.boolean().default(false),
        /** passwordHash: "scrypt:<salt hex>:<key hex>" (see `mqlite hash-password`). */
        users: z
          .array(z.strictObject({ username: z.string().min(1), passwordHash: z.string().min(1) }))
          .default([]),
      })
      .prefault({}),
    subscribe: z
      .strictObject({
        topics: z.array(checked(v.filter)).min(1).default(['#']),
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'a QoS of 0, 1 or 2' }).default(1),
        template: checked(v.template).default('+/{device}/#'),
        formats: z.array(formatRule).default([]),
      })
      .prefault({}),
    queue: z
      .strictObject({
        maxMessages: int(1).default(50_000),
        maxBytes: size('a size like "64MiB" or an integer ≥ 1024')
          .pipe(z.number().min(1024))
          .default(64 * 1024 ** 2),
        /** QoS 0 only: QoS 1/2 always block, because the broker will redeliver them. */
        overflow: z.enum(['block', 'drop-oldest', 'drop-newest']).default('block'),
      })
      .prefault({}),
    batch: z
      .strictObject({
        maxBatch: int(1, 100_000).default(5000),
        maxDelayMs: int(0, 60_000).default(10),
        retryBaseMs: int(1, 60_000).default(50),
        retryCapMs: int(1, 600_000).default(5000),
      })
      .prefault({}),
    db: z
      .strictObject({
        path: z.string().min(1).default('./data/mqlite.db'),
        synchronous: z.enum(['FULL', 'NORMAL', 'OFF']).default('FULL'),
        busyTimeoutMs: int(0, 600_000).default(2000),
      })
      .prefault({}),
    limits: z
      .strictObject({
        maxPayloadBytes: size('a size like "256KiB"')
          .pipe(z.number().min(16))
          .default(256 * 1024),
        deadLetterPayloadBytes: size('a size like "4KiB"').default(4096),
        maxJsonDepth: int(1, 1000).default(32),
        maxReadingsPerMessage: int(1, 100_000).default(1000),
      })
      .prefault({}),
    timestamps: z
      .strictObject({
        maxFutureMs: int(0).default(5 * 60_000),
        maxPastMs: int(0).default(365 * 24 * 3600_000),
        /** What to do with a payload timestamp outside [received - maxPast, received + maxFuture]. */
        outOfRange: z.enum(['clamp', 'keep', 'dead-letter']).default('clamp'),
      })
      .prefault({}),
    http: z
      .strictObject({
        listen: z.union([hostPort, z.literal('off')]).default('127.0.0.1:9464'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(LOG_LEVELS).default('info'),
        summaryIntervalMs: int(0).default(60_000),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        graceMs: int(0, 600_000).default(10_000),
      })
      .prefault({}),
  });
}

export const configSchema = buildConfigSchema();
export type Config = z.output<typeof configSchema>;
export type FormatRule = Config['subscribe']['formats'][number];
