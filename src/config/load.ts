/**
 * file → environment → flags → validate (every problem at once) → freeze.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem, errorMessage } from '../lib/errors.js';
import { deepFreeze, getPath, setKey, type Tree } from './paths.js';
import { buildConfigSchema, type Config, type StageValidators } from './schema.js';
import { convert, SETTINGS } from './settings-map.js';
import { crossChecks } from './cross-checks.js';
import { withoutSecrets } from './problem-values.js';

/**
 * A config file is a few KiB. Parsing a 50 MB one took 8 s and 170 MB; refuse it before YAML
 * sees it.
 */
const MAX_CONFIG_CHARS = 1024 * 1024;

export interface LoadInput {
  /** Path of the YAML file, if any (from --config or MQLITE_CONFIG). */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Parsed flags, by commander option name. */
  readonly flags: Readonly<Record<string, string | string[] | undefined>>;
  readonly validators?: StageValidators;
}

export function loadConfig(input: LoadInput): Readonly<Config> {
  const problems: ConfigProblem[] = [];
  const raw: Tree = readFile(input.file, problems);

  for (const s of SETTINGS) {
    const v = input.env[s.env];
    if (v !== undefined && v !== '') setKey(raw, s.key, convert(s.kind, v));
  }
  for (const s of SETTINGS) {
    const v = s.flag === '' ? undefined : input.flags[s.flag];
    if (v !== undefined) setKey(raw, s.key, convert(s.kind, v));
  }

  const parsed = buildConfigSchema(input.validators).safeParse(raw);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.flatMap((i) => toProblems(i, raw)));
    throw new ConfigError(problems.map(withoutSecrets));
  }
  const config = withDerivedClientId(parsed.data);
  problems.push(...crossChecks(config, input.validators ?? {}));
  if (problems.length > 0) throw new ConfigError(problems.map(withoutSecrets));
  return deepFreeze(config);
}

function readFile(file: string | undefined, problems: ConfigProblem[]): Tree {
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    if (text.length > MAX_CONFIG_CHARS) {
      problems.push({
        key: '--config',
        value: file,
        expected: `a YAML file under ${MAX_CONFIG_CHARS} characters (this one has ${text.length}): is it the right file?`,
      });
      return {};
    }
  } catch (err) {
    problems.push({ key: '--config', value: file, expected: `a readable YAML file (${errorMessage(err)})` });
    return {};
  }
  try {
    const doc: unknown = parseYaml(text);
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      problems.push({
        key: '--config',
        value: file,
        expected: 'a YAML mapping of sections (broker:, db:, ...)',
      });
      return {};
    }
    return doc as Tree;
  } catch (err) {
    problems.push({ key: '--config', value: file, expected: `valid YAML (${clip(errorMessage(err))})` });
    return {};
  }
}

function toProblems(issue: z.core.$ZodIssue, raw: Tree): ConfigProblem[] {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({
      key: key === '' ? k : `${key}.${k}`,
      value: getPath(raw, [...issue.path, k]),
      expected: 'no such key (check the spelling against config/mqlite.example.yaml)',
    }));
  }
  return [
    { key: key || '(top level)', value: getPath(raw, issue.path), expected: expectedText(issue.message) },
  ];
}

/** zod says "Invalid input: expected number, received string"; we say what was expected. */
function expectedText(message: string): string {
  const m = /expected (.*?)(?:, received .*)?$/.exec(message);
  return m?.[1] ?? message;
}

/**
 * A stable default client id: the broker keys a persistent session on it, so it must be
 * the same after a restart and different for two ingesters on one host writing to
 * different databases.
 */
function withDerivedClientId(config: Config): Config {
  if (config.broker.clientId !== undefined) return config;
  return { ...config, broker: { ...config.broker, clientId: derivedClientId(config.db.path, hostname()) } };
}

export function derivedClientId(dbPath: string, host: string): string {
  const h = host.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'host';
  const digest = createHash('sha256').update(resolve(dbPath)).digest('hex').slice(0, 8);
  return `mqlite-${h}-${digest}`;
}

/**
 * Host names that change when the instance is recreated: Docker's default (the container id, 12 or
 * 64 hex digits) and a Kubernetes Deployment pod's (<deployment>-<replicaset hash>-<5 characters>).
 */
const VOLATILE_HOST = /^([0-9a-f]{12}|[0-9a-f]{64}|[a-z0-9-]+-[a-z0-9]{8,10}-[a-z0-9]{5})$/;

/**
 * Whether the client id in use is the derived default on a host name that a recreated container
 * loses: the broker would keep the old session (and with a share group, that instance's share of
 * the stream) under an id nobody connects with again.
 */
export function clientIdOnVolatileHost(config: Config, host: string): boolean {
  if (config.broker.url === undefined || config.broker.cleanSession) return false;
  return config.broker.clientId === derivedClientId(config.db.path, host) && VOLATILE_HOST.test(host);
}

/** A YAML error quotes the offending line: keep the message readable when that line is huge. */
function clip(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
