#!/usr/bin/env node
/**
 * argv → config → daemon. The only place that maps errors to exit codes:
 * 0 clean shutdown, 2 bad usage or config, 1 fatal runtime error.
 */
import { Command, CommanderError, Option } from 'commander';
import { hashPassword } from './broker/password.js';
import { type Config, loadConfig, redact } from './config/index.js';
import { Daemon } from './daemon.js';
import { stageValidators } from './daemon-checks.js';
import { flagUsage } from './daemon-preflight.js';
import { testHooks } from './daemon-test-hooks.js';
import { readPassword } from './cli-prompt.js';
import { effectiveFormats } from './daemon-settings.js';
import { MqliteError, errorMessage } from './lib/errors.js';
import { applyHeapGrowth } from './lib/heap-growth.js';
import { packageVersion } from './lib/version.js';
import { createLogger } from './observe/logger.js';
import { parseDuration } from './config/units.js';
// Types only: the commands' modules (and what they pull in) load when their command runs, so the
// daemon's process does not hold them (idle RSS, issue #11).
import type { PurgeTier } from './maintenance-commands.js';
import type { ExportFlags } from './query/export-command.js';

const EXIT_OK = 0;
const EXIT_FATAL = 1;
const EXIT_USAGE = 2;

type Flags = Record<string, string | string[] | undefined>;

function addSettingOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (env MQLITE_CONFIG)')
    .option('--broker <url>', 'external broker: mqtt://, mqtts://, ws://, wss:// (omitted: embedded broker)')
    .option('--listen <host:port>', 'embedded broker listener (default 127.0.0.1:1883)')
    .option('--db <path>', 'SQLite database file, folders created (default ./data/mqlite.db)')
    .option('--topic <filter>', 'topic filter to subscribe, repeatable (default #)', collect)
    .option('--qos <0|1|2>', 'subscription QoS (default 1)')
    .option('--client-id <id>', 'MQTT client id (default derived from host and db path, stable)')
    .option('--template <pattern>', 'topic levels naming the device (default +/{device}/#)')
    .option(
      '--share-group <name>',
      'subscribe as $share/<name>/<filter>: instances of a group split the stream',
    )
    .option('--http <host:port|off>', 'metrics and health listener (default 127.0.0.1:9464)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .addOption(new Option('--mqtt-version <4|5>', 'MQTT protocol: 5 (default) or 4 (3.1.1)'))
    .option('--username <name>', 'broker username (password: env MQLITE_PASSWORD or broker.password)')
    .option('--tls-ca <file>', 'CA certificate (PEM) for mqtts:// and wss://')
    .option('--tls-cert <file>', 'client certificate (PEM)')
    .option('--tls-key <file>', 'client key (PEM)');
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function configFrom(flags: Flags): Readonly<Config> {
  const fileFlag = flags.config;
  const file = typeof fileFlag === 'string' ? fileFlag : process.env.MQLITE_CONFIG;
  return loadConfig({ file, env: process.env, flags, validators: stageValidators });
}

async function run(flags: Flags): Promise<number> {
  const config = configFrom(flags);
  // The daemon only: a flood otherwise lets the heap grow to several times what is live.
  applyHeapGrowth();
  const logger = createLogger({ level: config.log.level });
  let exitCode = EXIT_OK;
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const daemon = new Daemon(config, {
    logger,
    version: packageVersion(),
    usage: flagUsage(process.env),
    testHooks: testHooks(process.env),
    // A dead pipeline stops the process with a failure code: the supervisor restarts it.
    onFatal: () => {
      exitCode = EXIT_FATAL;
      requestStop();
    },
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now without draining (SIGKILL)');
      // Not process.exit(): it first terminates the SQLite worker and joins its thread. A worker
      // inside a failing better-sqlite3 call (waiting out busy_timeout on a lock held elsewhere,
      // exactly when a drain stalls) then aborts the process with "FATAL ERROR:
      // v8::ToLocalChecked Empty MaybeLocal" (better-sqlite3 #842), after up to busyTimeoutMs.
      // SIGKILL is at once and as safe as kill -9: nothing unacknowledged was acknowledged.
      process.kill(process.pid, 'SIGKILL');
    }
    logger.info({ signal }, 'shutting down: draining the queue (send the signal again to exit at once)');
    requestStop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    // A signal during start (a slow database open, say) stops at once instead of after it.
    await Promise.race([daemon.start(), stopRequested]);
  } catch (err) {
    // The reason first, then the log of what was undone.
    const code = exitCodeFor(err);
    await daemon.stop();
    return code;
  }
  await stopRequested;
  await daemon.stop();
  return exitCode;
}

function checkConfig(flags: Flags): number {
  const config = configFrom(flags);
  // effectiveFormats: the user's rules, then the presets', then the default, in the order tried.
  const shown = { ...(redact(config) as object), effectiveFormats: effectiveFormats(config) };
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  return EXIT_OK;
}

export async function main(argv: readonly string[]): Promise<number> {
  let result: Promise<number> = Promise.resolve(EXIT_OK);
  const program = new Command('mqlite')
    .description('MQTT telemetry ingester: messages into SQLite in batches, acknowledged only after commit')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const runCommand = addSettingOptions(
    program.command('run', { isDefault: true }).description('start the daemon (default)'),
  );
  // `mqlite --help` is where a new user looks: show the run flags there too, not only under run --help.
  program.addHelpText('after', () => `\n${runCommand.helpInformation()}`);
  runCommand.exitOverride().action((opts: Flags) => {
    result = run(opts);
  });
  addSettingOptions(
    program.command('check-config').description('validate and print the effective config, secrets redacted'),
  )
    .exitOverride()
    .action((opts: Flags) => {
      result = Promise.resolve(checkConfig(opts));
    });
  program
    .command('hash-password')
    .description('read a password (prompted on a terminal, else stdin), print a hash for embedded.users')
    .exitOverride()
    .action(() => {
      result = readPassword().then((pw) => {
        if (pw === '') throw new MqliteError('MQLITE_USAGE', 'hash-password: empty password');
        process.stdout.write(`${hashPassword(pw)}\n`);
        return EXIT_OK;
      });
    });

  program
    .command('purge')
    .description('delete rows older than a duration, in small transactions (safe while the daemon runs)')
    .requiredOption('--older-than <duration>', 'e.g. 30d, 12h (payload time for raw messages)')
    .addOption(
      new Option('--tier <tier>', 'which rows')
        .choices(['raw', 'deadLetters', 'rollup5m', 'rollup1h'])
        .default('raw'),
    )
    .option('-c, --config <file>', 'YAML config file (env MQLITE_CONFIG)')
    .option('--db <path>', 'SQLite database file (default ./data/mqlite.db)')
    .exitOverride()
    .action((opts: Flags) => {
      const olderThanMs = parseDuration(opts.olderThan);
      if (olderThanMs === undefined) {
        throw new MqliteError(
          'MQLITE_USAGE',
          `purge --older-than: expected a duration like "30d" or "12h", got ${JSON.stringify(opts.olderThan)}`,
        );
      }
      const config = configFrom({ config: opts.config, db: opts.db });
      result = import('./maintenance-commands.js')
        .then((m) =>
          m.purgeCommand(config, { olderThanMs, tier: opts.tier as PurgeTier }, m.terminalProgress()),
        )
        .then(() => EXIT_OK);
    });
  program
    .command('vacuum')
    .description('give free pages back to the file system, a step at a time (safe while the daemon runs)')
    .option(
      '--full',
      'rewrite the whole file (needs its size free; blocks the daemon meanwhile); converts old databases to incremental auto-vacuum',
    )
    .option('--pages <n>', 'pages per step', '256')
    .option('-c, --config <file>', 'YAML config file (env MQLITE_CONFIG)')
    .option('--db <path>', 'SQLite database file (default ./data/mqlite.db)')
    .exitOverride()
    .action((opts: Flags & { full?: boolean }) => {
      const pages = Number(opts.pages);
      if (!Number.isInteger(pages) || pages < 1) {
        throw new MqliteError(
          'MQLITE_USAGE',
          `vacuum --pages: expected an integer ≥ 1, got ${JSON.stringify(opts.pages)}`,
        );
      }
      const config = configFrom({ config: opts.config, db: opts.db });
      result = import('./maintenance-commands.js')
        .then((m) => m.vacuumCommand(config, { full: opts.full === true, pages }, m.terminalProgress()))
        .then(() => EXIT_OK);
    });
  program
    .command('export')
    .description(
      'write readings (raw or 5m/1h rollups) as CSV or NDJSON; read-only, safe while the daemon runs',
    )
    .option('-c, --config <file>', 'YAML config file, for db.path (env MQLITE_CONFIG)')
    .option('--db <path>', 'SQLite database file (default: db.path of the config)')
    .option('--device <name>', 'device to export, repeatable (default all)', collect)
    .option('--metric <name>', 'metric as stored or its Prometheus name, repeatable (default all)', collect)
    .option('--from <time>', 'RFC 3339, Unix seconds, or a duration before now (default 24h)')
    .option('--to <time>', 'RFC 3339, Unix seconds, "now" or a duration before now (default now)')
    .option('--resolution <raw|5m|1h>', 'raw readings or rollup buckets (default raw)')
    .option('--format <csv|ndjson>', 'output format (default csv)')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .exitOverride()
    .action((opts: ExportFlags & Flags) => {
      result = (async () => {
        const db = opts.db ?? configFrom({ config: opts.config }).db.path;
        const { runExport } = await import('./query/export-command.js');
        await runExport(opts, db);
        return EXIT_OK;
      })();
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return await result;
  } catch (err) {
    return exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version end with exitCode 0 and have already printed.
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  // The code is stable (scripts match on it; README lists them), the message says what to do.
  if (err instanceof MqliteError) {
    process.stderr.write(`mqlite: ${err.code}: ${err.message}\n`);
    return err.code === 'MQLITE_CONFIG_INVALID' || err.code === 'MQLITE_USAGE' ? EXIT_USAGE : EXIT_FATAL;
  }
  process.stderr.write(`mqlite: ${errorMessage(err)}\n`);
  return EXIT_FATAL;
}

const code = await main(process.argv.slice(2));
// Exit explicitly: a stray handle left by a library must not keep a stopped daemon alive.
process.exit(code);
