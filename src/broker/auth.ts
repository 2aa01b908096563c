/**
 * Who may connect to the embedded broker. Mirrors Mosquitto 2: with no users and anonymous
 * access not allowed, only a loopback listener is acceptable ("local only" mode), and then
 * everyone who can reach it is local.
 */
import type { Client } from 'aedes';
import { MqliteError } from '../lib/errors.js';
import { LoginThrottle } from './login-throttle.js';
import { verifyPasswordAsync } from './password.js';
import { isLoopback } from '../lib/net.js';

export interface AuthSettings {
  readonly host: string;
  readonly allowAnonymous: boolean;
  readonly users: readonly { readonly username: string; readonly passwordHash: string }[];
}

/** MQTT 3.1.1 CONNACK return codes, 3.2.2.3. */
const BAD_USERNAME_OR_PASSWORD = 4;
/** "Server unavailable": what a throttled address gets; clients retry it later, unlike code 4. */
const SERVER_UNAVAILABLE = 3;

/** A hash to verify against when the user is unknown, so that case takes as long as a wrong password. */
const DUMMY_HASH = `scrypt:${'00'.repeat(16)}:${'00'.repeat(32)}`;

export { isLoopback };

/** Config validation refuses this too; checked again here so no caller can skip it. */
export function assertSecure(s: AuthSettings): void {
  if (s.users.length === 0 && !s.allowAnonymous && !isLoopback(s.host)) {
    throw new MqliteError(
      'MQLITE_BROKER_INSECURE',
      `the embedded broker would listen on ${s.host} with no users and anonymous access off; ` +
        'listen on 127.0.0.1, configure embedded.users, or set embedded.allowAnonymous: true',
    );
  }
}

export type AuthDecision = (username: string | undefined, password: Buffer | undefined) => Promise<boolean>;

export function makeAuthDecision(s: AuthSettings): AuthDecision {
  const users = new Map(s.users.map((u) => [u.username, u.passwordHash]));
  const localOnly = users.size === 0 && !s.allowAnonymous && isLoopback(s.host);
  return async (username, password) => {
    if (username === undefined) return s.allowAnonymous || localOnly;
    if (users.size === 0) return s.allowAnonymous || localOnly;
    const hash = users.get(username);
    const ok = await verifyPasswordAsync(password?.toString('utf8') ?? '', hash ?? DUMMY_HASH);
    return ok && hash !== undefined;
  };
}

export function authError(): Error & { returnCode: number } {
  return Object.assign(new Error('bad user name or password'), { returnCode: BAD_USERNAME_OR_PASSWORD });
}

export interface AuthFailure {
  /** bad_credentials: wrong or missing password, unknown user; rate_limited: refused unchecked. */
  readonly reason: 'bad_credentials' | 'rate_limited';
  readonly address: string;
  readonly username: string | undefined;
  readonly clientId: string;
}

type Done = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/**
 * aedes's authenticate handler: the decision, throttled per client address (login-throttle.ts),
 * each failure reported. `onSuccess` learns who the client is (for its topic permissions).
 */
export function makeAuthenticate(
  s: AuthSettings,
  hooks: { onFailure(f: AuthFailure): void; onSuccess(client: Client, username: string | undefined): void },
  throttle: LoginThrottle = new LoginThrottle(),
): (client: Client, username: string | undefined, password: Buffer | undefined, done: Done) => void {
  const decide = makeAuthDecision(s);
  return (client, username, password, done) => {
    const address = (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
    const failure = (reason: AuthFailure['reason']): AuthFailure => ({
      reason,
      address,
      username,
      clientId: client.id,
    });
    const verdict = throttle.begin(address);
    if (!verdict.allowed) {
      hooks.onFailure(failure('rate_limited'));
      done(
        Object.assign(new Error(`too many failed logins from ${address}`), {
          returnCode: SERVER_UNAVAILABLE,
        }),
        false,
      );
      return;
    }
    decide(username, password).then(
      (ok) => {
        throttle.end(address, ok);
        if (ok) {
          hooks.onSuccess(client, username);
          done(null, true);
        } else {
          hooks.onFailure(failure('bad_credentials'));
          done(authError(), false);
        }
      },
      (err: unknown) => {
        throttle.end(address, false);
        const error = err instanceof Error ? err : new Error(String(err));
        done(Object.assign(error, { returnCode: SERVER_UNAVAILABLE }), false);
      },
    );
  };
}
