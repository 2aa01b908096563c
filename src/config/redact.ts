import type { Config } from './schema.js';

const HIDDEN = '***';

/** The effective config as `check-config` prints it: secrets replaced, everything else as used. */
export function redact(config: Readonly<Config>): unknown {
  const copy = structuredClone(config) as Config;
  if (copy.broker.password !== undefined) copy.broker.password = HIDDEN;
  for (const u of copy.embedded.users) u.passwordHash = HIDDEN;
  for (const u of copy.http.users) u.passwordHash = HIDDEN;
  copy.http.tokenHashes = copy.http.tokenHashes.map(() => HIDDEN);
  if (copy.broker.url !== undefined) copy.broker.url = hideUrlPassword(copy.broker.url);
  const pg = copy.forward.postgres;
  if (pg.password !== undefined) pg.password = HIDDEN;
  if (pg.url !== undefined) pg.url = hideUrlPassword(pg.url);
  return copy;
}

/** mqtt://user:secret@host → mqtt://user:***@host */
export function hideUrlPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]+):[^@/]*@/i, `$1:${HIDDEN}@`);
}
