/**
 * Password hashes for the embedded broker's users: "scrypt:<salt hex>:<key hex>", made with
 * node:crypto's scrypt at its default cost (N=16384, r=8, p=1). The cost is not stored: if it
 * ever changes, a new prefix ("scrypt2:") keeps old hashes readable.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const PREFIX = 'scrypt';
const SALT_BYTES = 16;
const KEY_BYTES = 32;

interface ParsedHash {
  readonly salt: Buffer;
  readonly key: Buffer;
}

export function hashPassword(pw: string): string {
  const salt = randomBytes(SALT_BYTES);
  const key = scryptSync(pw, salt, KEY_BYTES);
  return `${PREFIX}:${salt.toString('hex')}:${key.toString('hex')}`;
}

/** Whether `hash` has the shape hashPassword produces (config validation can use it). */
export function isPasswordHash(hash: string): boolean {
  return parseHash(hash) !== undefined;
}

/** Timing-safe comparison; false for a malformed hash. Blocks the thread for the scrypt. */
export function verifyPassword(pw: string, hash: string): boolean {
  const parsed = parseHash(hash);
  if (parsed === undefined) return false;
  return timingSafeEqual(scryptSync(pw, parsed.salt, parsed.key.length), parsed.key);
}

/** verifyPassword on libuv's thread pool: CONNECTs must not stall the event loop ~50 ms each. */
export function verifyPasswordAsync(pw: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (parsed === undefined) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    scrypt(pw, parsed.salt, parsed.key.length, (err, derived) => {
      if (err) reject(err);
      else resolve(timingSafeEqual(derived, parsed.key));
    });
  });
}

function parseHash(hash: string): ParsedHash | undefined {
  const parts = hash.split(':');
  if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
  const [, saltHex = '', keyHex = ''] = parts;
  const hex = /^(?:[0-9a-f]{2})+$/i;
  if (!hex.test(saltHex) || !hex.test(keyHex)) return undefined;
  const key = Buffer.from(keyHex, 'hex');
  if (key.length < 16) return undefined;
  return { salt: Buffer.from(saltHex, 'hex'), key };
}
