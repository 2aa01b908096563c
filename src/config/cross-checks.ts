/** Rules that span keys, or need the file system; the schema checks single values. */
import { accessSync, constants } from 'node:fs';
import type { ConfigProblem } from '../lib/errors.js';
import type { Config, StageValidators } from './schema.js';
import { isLoopback } from '../lib/net.js';
import { hideUrlPassword } from './redact.js';
import { parseHostPort } from './units.js';

/** Ids that client libraries make up per connection: MQTT.js, Paho, mosquitto_sub/pub, Node-RED. */
const GENERATED_CLIENT_ID = /^(mqttjs_[0-9a-f]+|paho[0-9a-f-]*|mosq[-_][0-9A-Za-z]{6,}|mqtt_[0-9a-f.]+)$/i;

export function crossChecks(c: Config, v: StageValidators): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const embedded = c.broker.url === undefined;

  if (embedded) {
    const hp = parseHostPort(c.embedded.listen);
    if (hp && !isLoopback(hp.host) && c.embedded.users.length === 0 && !c.embedded.allowAnonymous) {
      // Mosquitto 2 refuses the same: an open broker on a network is an incident waiting.
      problems.push({
        key: 'embedded.listen',
        value: c.embedded.listen,
        expected:
          'a loopback address, or credentials for a network listener (embedded.users with password hashes, or embedded.allowAnonymous: true)',
      });
    }
    for (const [i, u] of c.embedded.users.entries()) {
      if (v.passwordHash !== undefined && !v.passwordHash(u.passwordHash)) {
        problems.push({
          key: `embedded.users.${i}.passwordHash`,
          value: u.passwordHash, // hidden by load.ts (withoutSecrets), like every secret
          expected: 'a hash made by `mqlite hash-password` ("scrypt:<salt>:<key>")',
        });
      }
    }
  }

  problems.push(...shareChecks(c));
  problems.push(...httpAccessChecks(c, v));

  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = c.broker.tls[k];
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      problems.push({ key: `broker.tls.${k}`, value: file, expected: 'a readable PEM file' });
    }
  }
  if ((c.broker.tls.cert === undefined) !== (c.broker.tls.key === undefined)) {
    problems.push({
      key: 'broker.tls.key',
      value: c.broker.tls.key,
      expected: 'a client certificate and its key together (both broker.tls.cert and broker.tls.key)',
    });
  }
  const id = c.broker.clientId;
  if (!c.broker.cleanSession && id !== undefined && GENERATED_CLIENT_ID.test(id)) {
    // The broker keeps the persistent session (and the messages queued while we are away) under
    // this id; a generated one changes at every start, so that session would never be resumed.
    problems.push({
      key: 'broker.clientId',
      value: id,
      expected:
        'a stable id when broker.cleanSession is false (omit it for the derived default), not a generated one',
    });
  }
  if (c.broker.password !== undefined && c.broker.username === undefined) {
    problems.push({
      key: 'broker.username',
      value: undefined,
      expected: 'a username when a password is set',
    });
  }
  if (c.batch.retryCapMs < c.batch.retryBaseMs) {
    problems.push({
      key: 'batch.retryCapMs',
      value: c.batch.retryCapMs,
      expected: `≥ batch.retryBaseMs (${c.batch.retryBaseMs})`,
    });
  }
  problems.push(...forwardChecks(c));
  problems.push(...decodeChecks(c, v));
  if (c.queue.maxMessages < c.batch.maxBatch) {
    problems.push({
      key: 'queue.maxMessages',
      value: c.queue.maxMessages,
      expected: `≥ batch.maxBatch (${c.batch.maxBatch}), or batches can never fill`,
    });
  }
  return problems;
}

/** Format rules, presets, state words and the time zone: what the decoder would refuse at start. */
function decodeChecks(c: Config, v: StageValidators): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const s = c.subscribe;
  for (const [i, rule] of s.formats.entries()) {
    const problem = v.formatRule?.(rule, `subscribe.formats.${i}`);
    if (problem !== undefined) {
      const at = problem.indexOf(': ');
      problems.push({ key: problem.slice(0, at), value: rule, expected: problem.slice(at + 2) });
    }
  }
  if (Array.isArray(s.presets) && v.presetNames !== undefined) {
    for (const [i, name] of s.presets.entries()) {
      if (!v.presetNames.includes(name)) {
        problems.push({
          key: `subscribe.presets.${i}`,
          value: name,
          expected: `one of ${v.presetNames.join(', ')} (or presets: all / none)`,
        });
      }
    }
  }
  const on = new Set(s.stateWords.on.map((w) => w.trim().toLowerCase()));
  for (const [i, w] of s.stateWords.off.entries()) {
    if (on.has(w.trim().toLowerCase())) {
      problems.push({
        key: `subscribe.stateWords.off.${i}`,
        value: w,
        expected: 'a word not also in stateWords.on',
      });
    }
  }
  if (v.timeZone !== undefined && !v.timeZone(c.timestamps.zone)) {
    problems.push({
      key: 'timestamps.zone',
      value: c.timestamps.zone,
      expected: 'an IANA time zone like "Europe/Berlin", "UTC", or "local" (the host\'s zone)',
    });
  }
  return problems;
}

/** The query API and the readings are data: on a network listener they need credentials. */
function httpAccessChecks(c: Config, v: StageValidators): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const hp = c.http.listen === 'off' ? undefined : parseHostPort(c.http.listen);
  const servesData = c.query.enabled || c.exposition.enabled;
  const credentials = c.http.users.length + c.http.tokenHashes.length > 0;
  if (hp && servesData && !isLoopback(hp.host) && !credentials && !c.http.allowAnonymous) {
    problems.push({
      key: 'http.listen',
      value: c.http.listen,
      expected:
        'a loopback address, or credentials for the query API on a network listener (http.users or http.tokenHashes with password hashes, or http.allowAnonymous: true, or query.enabled: false)',
    });
  }
  const hashes = [
    ...c.http.users.map((u, i) => [`http.users.${i}.passwordHash`, u.passwordHash] as const),
    ...c.http.tokenHashes.map((h, i) => [`http.tokenHashes.${i}`, h] as const),
  ];
  for (const [key, hash] of hashes) {
    if (v.passwordHash !== undefined && !v.passwordHash(hash)) {
      problems.push({
        key,
        value: '(redacted)',
        expected: 'a hash made by `mqlite hash-password` ("scrypt:<salt>:<key>")',
      });
    }
  }
  return problems;
}

/** Shared subscriptions (issue 16) need an external broker, and the group says it once. */
function shareChecks(c: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const group = c.subscribe.shareGroup;
  if (group !== undefined && c.broker.url === undefined) {
    problems.push({
      key: 'subscribe.shareGroup',
      value: group,
      expected:
        'no share group with the embedded broker (aedes has no shared subscriptions): set broker.url to a broker that has them (Mosquitto ≥ 1.6, EMQX, HiveMQ), or remove subscribe.shareGroup',
    });
  }
  for (const [i, topic] of c.subscribe.topics.entries()) {
    if (!topic.startsWith('$share/')) continue;
    // One way to say it: the group then also reaches the logs, /status and check-config, and a
    // filter is never wrapped twice ($share/g/$share/h/#, which a broker reads as a plain filter).
    const rest = topic.split('/').slice(2).join('/');
    problems.push({
      key: `subscribe.topics.${i}`,
      value: topic,
      expected: `a plain topic filter; for a shared subscription set subscribe.shareGroup (e.g. topics: ['${rest || '#'}'] with shareGroup: ${topic.split('/')[1] || 'mqlite'})`,
    });
  }
  return problems;
}

/** forward.postgres (issue 16): files that must be readable, and settings that only work together. */
function forwardChecks(c: Config): ConfigProblem[] {
  const p = c.forward.postgres;
  const problems: ConfigProblem[] = [];
  const files: [string, string | undefined][] = [
    ['tls.ca', p.tls.ca],
    ['tls.cert', p.tls.cert],
    ['tls.key', p.tls.key],
    ['passwordFile', p.passwordFile],
  ];
  for (const [k, file] of files) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      problems.push({ key: `forward.postgres.${k}`, value: file, expected: 'a readable file' });
    }
  }
  if (p.url !== undefined && p.host !== undefined) {
    problems.push({ key: 'forward.postgres.host', value: p.host, expected: 'either url or host, not both' });
  }
  // pg lets the URL's TLS parameters override the client's options wholesale (a CA set in tls.ca
  // would be silently dropped): one place to say it, tls.*.
  const urlTls = p.url !== undefined ? urlTlsParameter(p.url) : undefined;
  if (urlTls !== undefined) {
    problems.push({
      key: 'forward.postgres.url',
      value: hideUrlPassword(p.url ?? ''),
      expected: `no ${urlTls} parameter: set TLS with forward.postgres.tls.mode (and tls.ca, tls.cert, tls.key)`,
    });
  }
  if (p.tls.mode === 'disable') {
    for (const k of ['ca', 'cert', 'key'] as const) {
      if (p.tls[k] !== undefined)
        problems.push({
          key: `forward.postgres.tls.${k}`,
          value: p.tls[k],
          expected: 'tls.mode require, verify-ca or verify-full to use it (tls.mode is disable)',
        });
    }
  }
  if ((p.tls.cert === undefined) !== (p.tls.key === undefined)) {
    const [k, v] = p.tls.cert === undefined ? ['key', p.tls.key] : ['cert', p.tls.cert];
    problems.push({
      key: `forward.postgres.tls.${k}`,
      value: v,
      expected: 'tls.cert and tls.key together (a client certificate and its key)',
    });
  }
  if (p.password !== undefined && p.passwordFile !== undefined) {
    problems.push({
      key: 'forward.postgres.passwordFile',
      value: p.passwordFile,
      expected: 'either password or passwordFile, not both',
    });
  }
  if (p.retry.capMs < p.retry.baseMs) {
    problems.push({
      key: 'forward.postgres.retry.capMs',
      value: p.retry.capMs,
      expected: `≥ forward.postgres.retry.baseMs (${p.retry.baseMs})`,
    });
  }
  return problems;
}

/** The first libpq TLS parameter in a postgres:// URL's query, if any. */
function urlTlsParameter(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  for (const name of new URLSearchParams(url.slice(q + 1)).keys()) {
    if (/^ssl/i.test(name)) return name;
  }
  return undefined;
}
