/**
 * Who may use the query API and the readings exposition: anyone (loopback listener, or
 * http.allowAnonymous), or clients presenting basic-auth credentials or a bearer token whose
 * scrypt hash is configured (the embedded broker's hash format: `mqlite hash-password`).
 * scrypt runs on libuv's pool; a verified credential is remembered (by its SHA-256, never in
 * clear) for a few minutes, so a dashboard's many requests do not each cost one scrypt.
 */
import { createHash } from 'node:crypto';

export interface AccessSettings {
  readonly open: boolean;
  readonly users: readonly { readonly username: string; readonly passwordHash: string }[];
  readonly tokenHashes: readonly string[];
}

export type VerifyFn = (secret: string, hash: string) => Promise<boolean>;

const REMEMBER_MS = 5 * 60_000;
/** Bounds the memory of remembered credentials. */
const REMEMBER_MAX = 256;

export class Access {
  private readonly remembered = new Map<string, number>();

  constructor(
    private readonly settings: AccessSettings,
    private readonly verify: VerifyFn,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the Authorization header (if any) grants access. */
  async allowed(authorization: string | undefined): Promise<boolean> {
    if (this.settings.open) return true;
    if (!authorization) return false;
    const digest = createHash('sha256').update(authorization).digest('hex');
    const until = this.remembered.get(digest);
    if (until !== undefined && until > this.now()) return true;
    const ok = await this.check(authorization);
    if (ok) {
      if (this.remembered.size >= REMEMBER_MAX) this.remembered.clear();
      this.remembered.set(digest, this.now() + REMEMBER_MS);
    }
    return ok;
  }

  private async check(authorization: string): Promise<boolean> {
    const [scheme = '', value = ''] = authorization.trim().split(/\s+/, 2);
    if (scheme.toLowerCase() === 'bearer') {
      for (const h of this.settings.tokenHashes) if (await this.verify(value, h)) return true;
      return false;
    }
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return false;
      const name = decoded.slice(0, colon);
      const user = this.settings.users.find((u) => u.username === name);
      return user !== undefined && (await this.verify(decoded.slice(colon + 1), user.passwordHash));
    }
    return false;
  }
}
