/**
 * The one schema: TypeScript type, defaults and validation of every key.
 * config/mqlite.example.yaml documents the same keys; a unit test keeps them in step.
 */
import { z } from 'zod';
import { forwardSchema } from './forward-schema.js';
import { parseDuration, parseFreeSpaceFloor, parseHostPort, parseSize } from './units.js';

const size = (expected: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return n;
  });

/** A retention period: "30d", "12h", milliseconds, or "forever" (→ null: never purged by age). */
const period = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (v === 'forever') return null;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 60_000) {
    ctx.addIssue({ code: 'custom', message: 'a duration like "30d", "12h" (≥ 1m), or "forever"' });
    return z.NEVER;
  }
  return ms;
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
  /** Why a format rule is unusable as a whole (captures its template lacks, unknown zone), or undefined. */
  readonly formatRule?: (rule: FormatRule, at: string) => string | undefined;
  /** The presets the decoder ships, for subscribe.presets. */
  readonly presetNames?: readonly string[];
  /** Whether a time zone name is known ('local' or IANA). */
  readonly timeZone?: (zone: string) => boolean;
}

/** Words stored as 1 / 0 (case-insensitive). Kept equal to decode/formats/text.ts by a unit test. */
export const DEFAULT_STATE_WORDS = {
  on: ['on', 'true', 'yes', 'online', 'open', 'connected'],
  off: ['off', 'false', 'no', 'offline', 'closed', 'disconnected'],
};

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
    /**
     * auto: JSON, numbers, state words or text; json: JSON only; text; document: no readings; raw;
     * line-protocol (InfluxDB); cbor; msgpack; sparkplug (Sparkplug B, spBv1.0/… by default).
     */
    format: z
      .enum(['auto', 'json', 'text', 'document', 'raw', 'line-protocol', 'cbor', 'msgpack', 'sparkplug'])
      .default('auto'),
    /** Dot path of the timestamp in the payload. */
    tsField: z.string().min(1).default('ts'),
    /** auto: seconds below 1e11, else milliseconds; strings parse as ISO-8601. */
    tsUnit: z.enum(['auto', 's', 'ms', 'iso']).default('auto'),
    /** Dot path of a message id; a message carrying one is deduplicated on its bytes forever. */
    idField: z.string().min(1).optional(),
    /** Zone for timestamp strings without an offset; default timestamps.zone. */
    tsZone: z.string().min(1).optional(),
    /** This rule's topic template (the rule applies only where it matches); default subscribe.template. */
    template: checked(v.template).optional(),
    /** Device name from the template's captures, e.g. '{user}/{device}'. */
    device: z.string().min(1).optional(),
    /** Metric name (bare values) or prefix (JSON readings) from the captures, e.g. '{object}'. */
    metric: z.string().min(1).optional(),
    /** Dot path of the part of the JSON that holds the readings. */
    readingsField: z.string().min(1).optional(),
    /** line-protocol: unit of the timestamps (default ns, as InfluxDB). */
    precision: z.enum(['ns', 'us', 'ms', 's']).optional(),
    /** line-protocol: the tag naming the device (default host, as Telegraf). */
    deviceTag: z.string().min(1).optional(),
  });

  // --- hardening (issue 10): embedded broker topic permissions (broker/topic-acl.ts) ---
  /** Defaults: publish anywhere but $SYS/, subscribe nowhere (see DEFAULT_PERMISSIONS for why). */
  const topicPermissions = z.strictObject({
    publish: z.array(checked(v.filter)).default(['#']),
    subscribe: z.array(checked(v.filter)).default([]),
  });
  // --- end hardening ---

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
        /** Read the broker's count of dropped messages ($SYS, Mosquitto) into mqlite_broker_dropped_messages. */
        watchDrops: z.boolean().default(true),
        reconnect: z
          .strictObject({
            baseMs: int(10, 600_000).default(500),
            factor: z.number().min(1).max(10).default(2),
            capMs: int(100, 3_600_000).default(30_000),
            /** A connection up this long resets the backoff (so does its first committed message). */
            stableMs: int(0, 3_600_000).default(60_000),
          })
          .prefault({}),
      })
      .prefault({}),
    embedded: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:1883'),
        allowAnonymous: z.boolean().default(false),
        // --- hardening (issue 10): bounds of the embedded broker ---
        /** Open device connections at most; more are closed as soon as they are accepted. */
        maxConnections: int(1, 100_000).default(256),
        /** Topic permissions of clients without a user name (anonymous, or local-only mode). */
        anonymous: topicPermissions.prefault({}),
        // --- end hardening ---
        /** passwordHash: "scrypt:<salt hex>:<key hex>" (see `mqlite hash-password`). */
        users: z
          .array(
            z.strictObject({
              username: z.string().min(1),
              passwordHash: z.string().min(1),
              // hardening (issue 10): topic filters, %u = user name, %c = client id
              publish: z.array(checked(v.filter)).default(['#']),
              subscribe: z.array(checked(v.filter)).default([]),
            }),
          )
          .default([]),
      })
      .prefault({}),
    subscribe: z
      .strictObject({
        topics: z.array(checked(v.filter)).min(1).default(['#']),
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'a QoS of 0, 1 or 2' }).default(1),
        template: checked(v.template).default('+/{device}/#'),
        // ── shared subscriptions (issue 16) ──────────────────────────────────────────────
        /**
         * Subscribe as `$share/<group>/<filter>`: instances with the same group split the stream,
         * each message going to one of them. External brokers only (aedes has none).
         */
        shareGroup: z
          .string()
          // [MQTT-4.8.2-1] a ShareName must not contain "/", "+" or "#".
          .regex(/^[^/+#]+$/, { error: 'a group name without "/", "+", "#" (e.g. "mqlite")' })
          .optional(),
        formats: z.array(formatRule).default([]),
        /** Device ecosystems recognised by topic shape, after formats: 'all', 'none' or a list of names. */
        presets: z.union([z.literal('all'), z.literal('none'), z.array(z.string().min(1))]).default('all'),
        /** Sparkplug B host behaviour (format sparkplug, preset sparkplug). */
        sparkplug: z
          .strictObject({
            /** Ask an edge node to rebirth after DATA before BIRTH, an unknown alias or a seq gap. */
            rebirth: z.boolean().default(false),
            /** At most one rebirth request per edge node per this many ms. */
            rebirthIntervalMs: int(1000, 24 * 3600_000).default(30_000),
            /** Subscriber: read $sparkplug/certificates/spBv1.0/# (retained BIRTHs) on every connection first. */
            certificates: z.boolean().default(true),
          })
          .prefault({}),
        /** Text (payloads and JSON string fields) stored as 1 / 0 readings, case-insensitive. */
        stateWords: z
          .strictObject({
            on: z.array(z.string().min(1)).default(DEFAULT_STATE_WORDS.on),
            off: z.array(z.string().min(1)).default(DEFAULT_STATE_WORDS.off),
          })
          .prefault({}),
      })
      .prefault({}),
    queue: z
      .strictObject({
        /**
         * Two default batches (batch.maxBatch 5000: one commits while the next fills) and MQTT 5's
         * default window (broker.receiveMaximum), so QoS 1 never has more in flight anyway. More only
         * keeps messages alive long enough to be promoted to V8's old generation: at QoS 0, 50000
         * peaked ~50 MB higher for no more throughput (BENCHMARKS.md, "Memory, stop 19").
         */
        maxMessages: int(1).default(10_000),
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
        /** Disk budget of the database file; 0: none. The oldest raw messages go first. */
        maxBytes: size('a size like "2GiB", or 0 for no cap')
          .refine((n) => n === 0 || n >= 1024 ** 2, { message: '0 or at least 1MiB' })
          .default(0),
        /** Free space the volume keeps: a size, or "5%" of the volume; 0 turns it off. */
        minFreeBytes: z
          .union([z.number(), z.string()])
          .transform((v, ctx) => {
            const f = parseFreeSpaceFloor(v);
            if (f === undefined) {
              ctx.addIssue({
                code: 'custom',
                message: 'a size like "512MiB", a share like "5%" (≤ 90%), or 0',
              });
              return z.NEVER;
            }
            return f;
          })
          .default({ percentOfVolume: 5 }),
      })
      .prefault({}),
    retention: z
      .strictObject({
        /** Raw messages (with their readings), by payload time. */
        raw: period.default(30 * 86_400_000),
        rollup5m: period.default(90 * 86_400_000),
        rollup1h: period.default(null),
        deadLetters: period.default(30 * 86_400_000),
        /** How often the budget and the ages are checked when nothing is due. */
        checkIntervalMs: int(1000, 3_600_000).default(60_000),
        /** Rows per purge transaction: bounds how long one chunk holds the write lock. */
        chunkRows: int(10, 100_000).default(1000),
        /** Free pages given back to the file system after a purge, per step. */
        vacuumPages: int(0, 1_000_000).default(256),
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
        /** Time zone of timestamp strings without an offset (Tasmota `Time`): 'local' (the host's) or IANA. */
        zone: z.string().min(1).default('local'),
      })
      .prefault({}),
    redelivery: z
      .strictObject({
        /** How far back a DUP copy of a message without timestamp or id is looked for. */
        windowMs: int(0, 30 * 24 * 3600_000).default(3600_000),
        /** At most this many of the device's latest messages are compared (bounds the lookup). */
        lookback: int(0, 100_000).default(1000),
      })
      .prefault({}),
    http: z
      .strictObject({
        listen: z.union([hostPort, z.literal('off')]).default('127.0.0.1:9464'),
        /** Open HTTP connections; more are closed at once (a scrape storm must not starve ingestion). */
        maxConnections: int(1, 100_000).default(128),
        // ── query API access (issue 13) ──────────────────────────────────────────────────
        /** Serve the query API and readings without credentials on a non-loopback listener. */
        allowAnonymous: z.boolean().default(false),
        /** Basic auth for the query API; passwordHash from `mqlite hash-password`. */
        users: z
          .array(z.strictObject({ username: z.string().min(1), passwordHash: z.string().min(1) }))
          .default([]),
        /** Bearer tokens for the query API, stored as hashes (`mqlite hash-password` on the token). */
        tokenHashes: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    // ── read side (issue 13): Prometheus-compatible query API and readings exposition ────
    query: z
      .strictObject({
        /** Serve /api/v1/* (Prometheus's HTTP API) on the http listener. */
        enabled: z.boolean().default(true),
        /** Per query; Prometheus's default is 2 min, a small device's dashboards need less. */
        timeoutMs: int(100, 600_000).default(20_000),
        /** Worker threads, each with a read-only connection: queries running at once. */
        concurrency: int(1, 16).default(2),
        /** Queries waiting for a worker; past this a query is refused (503) at once. */
        maxQueued: int(0, 10_000).default(32),
        /** Readings and rollup buckets one query may load (Prometheus's --query.max-samples). */
        maxSamples: int(1000).default(5_000_000),
        /**
         * A query worker with nothing to do for this long exits (each holds ~10-20 MB); the next
         * query starts one again, paying ~50-100 ms once. A dashboard refreshing more often keeps it.
         */
        idleMs: int(1000, 86_400_000).default(60_000),
        /**
         * Nice value of the query worker threads (Linux; 0: the process's). A dashboard then takes
         * the CPU ingestion leaves: queries slow down under load, ingestion does not.
         */
        nice: int(0, 19).default(10),
        cache: z
          .strictObject({
            /**
             * Memory of each query worker's cache of recent raw readings (query.concurrency workers,
             * each its own): dashboards re-asking the last minutes or hours read only what was stored
             * since their last refresh. ~16 bytes a reading of each series asked for: 100 devices at
             * one message a second, 3 metrics asked, fill 32 MiB in 1–2 h (a Pi has room for two such
             * workers). 0: no cache.
             */
            maxBytes: size('a size like "32MiB", or 0 for no cache')
              .refine((n) => n === 0 || n >= 1024 ** 2, { message: '0 or at least 1MiB' })
              .default(32 * 1024 ** 2),
          })
          .prefault({}),
      })
      .prefault({}),
    exposition: z
      .strictObject({
        /** Serve the latest value of each series at /readings/metrics for Prometheus to scrape. */
        enabled: z.boolean().default(false),
        /** A series not updated for this long is left out (a dead sensor disappears). */
        staleAfterMs: int(1000).default(15 * 60_000),
        /** At most this many series per scrape (newest first); the rest are counted as refused. */
        maxSeries: int(1, 1_000_000).default(10_000),
      })
      .prefault({}),
    // ── store and forward (issue 16): see config/forward-schema.ts ────────────────────────
    forward: forwardSchema(),
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

// No schema instance at module level: loadConfig builds one per load and drops it, so the daemon
// does not hold a config schema for its whole life (~1 MB of heap; issue #11, idle RSS).
export type Config = z.output<ReturnType<typeof buildConfigSchema>>;
export type FormatRule = Config['subscribe']['formats'][number];
