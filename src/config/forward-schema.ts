/**
 * forward.* (issue 16): store and forward to a PostgreSQL-protocol database. Kept apart from
 * schema.ts so that file stays readable; it is one part of the same schema.
 */
import { z } from 'zod';
import { parseSize } from './units.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const bytes = (expected: string, min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return n;
  });

/** A plain SQL identifier: it is spliced into DDL, so nothing that needs quoting. */
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, {
  message: 'a lower-case SQL identifier (letters, digits, _; at most 63)',
});

const pgUrl = z.string().refine((v) => /^postgres(ql)?:\/\/\S+$/.test(v), {
  message: 'a URL starting with postgres:// or postgresql://',
});

/** Built by buildConfigSchema for each load (schema.ts: no instance kept at module level). */
export function forwardSchema() {
  return z
    .strictObject({
      postgres: z
        .strictObject({
          /** Connection URL; forwarding is on when url or host is set. */
          url: pgUrl.optional(),
          host: z.string().min(1).optional(),
          port: int(1, 65_535).default(5432),
          database: z.string().min(1).default('postgres'),
          user: z.string().min(1).optional(),
          /** Prefer MQLITE_FORWARD_POSTGRES_PASSWORD or passwordFile: a file is easy to leak. */
          password: z.string().optional(),
          /** A file whose content (trimmed) is the password: a container or systemd credential. */
          passwordFile: z.string().min(1).optional(),
          tls: z
            .strictObject({
              /**
               * As libpq's sslmode, without its "prefer"/"allow" (a silent fall back to plain text):
               * disable: no TLS; require: encrypted, the certificate not checked; verify-ca: signed
               * by `ca`; verify-full: that too, and issued for the host connected to.
               */
              mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('disable'),
              /** PEM file of the CA(s) to trust; default: Node's bundled public CAs. */
              ca: z.string().min(1).optional(),
              /** Client certificate and its key (PEM files), for a server that asks for one. */
              cert: z.string().min(1).optional(),
              key: z.string().min(1).optional(),
            })
            .prefault({}),
          /** PostgreSQL schema holding mqlite's tables, created on first use. */
          schema: identifier.default('mqlite'),
          /** This database file's name as a source; default: the id generated into the file. */
          source: z.string().min(1).max(200).optional(),
          /** Messages per remote transaction at most. */
          batchMessages: int(1, 1_000_000).default(20_000),
          /**
           * Payload bytes per remote transaction at most (bounds the forwarder's memory). At most
           * 128MiB: with read-ahead two batches are held at once, one of them also as COPY text, so
           * the worker's heap cap grows with this (forward/forwarder.ts workerHeapMb).
           */
          batchBytes: bytes('a size like "16MiB" (64KiB to 128MiB)', 64 * 1024, 128 * 1024 ** 2).default(
            16 * 1024 ** 2,
          ),
          /** How often the outbox is looked at when it is empty. */
          pollMs: int(10, 60_000).default(500),
          /**
           * A batch smaller than batchMessages is sent once its oldest message has waited this long
           * (0: at once, whatever is there). Live, fewer and larger transactions cost PostgreSQL
           * less per row, on the cores ingestion needs; a backlog is never held back (BENCHMARKS.md
           * "Live ratio, fwd branch"). It is how far behind PostgreSQL may stay while all is well.
           */
          maxDelayMs: int(0, 60_000).default(1000),
          connectTimeoutMs: int(100, 600_000).default(10_000),
          /** One batch's remote transaction; past it the connection is dropped and the batch retried. */
          batchTimeoutMs: int(1000, 3_600_000).default(120_000),
          retry: z
            .strictObject({
              baseMs: int(10, 600_000).default(500),
              factor: z.number().min(1).max(10).default(2),
              capMs: int(100, 3_600_000).default(60_000),
            })
            .prefault({}),
          /** true: retention never purges a message before it is in PostgreSQL. */
          protectUndelivered: z.boolean().default(true),
          /**
           * Nice value of the forwarder's thread (Linux; 0: the process's). A backlog then drains
           * with the CPU ingestion leaves, instead of slowing ingestion down (BENCHMARKS.md "Forwarder,
           * stop 19"). PostgreSQL's own processes are not affected.
           */
          nice: int(0, 19).default(10),
          /**
           * How rows travel (forward/pg-destination.ts ForwardMethod): copy-direct, binary COPY
           * straight into the tables, takes the least CPU on both sides (BENCHMARKS.md "Forwarder
           * CPU, stop 20"); copy (text into staging) and unnest do not depend on the tables'
           * column types being the ones mqlite made.
           */
          method: z.enum(['copy', 'copy-direct', 'unnest']).default('copy-direct'),
        })
        .prefault({}),
    })
    .prefault({});
}
