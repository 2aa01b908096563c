import { describe, expect, it } from 'vitest';
import { tlsError, tlsOptions } from '../../../src/forward/pg-destination.js';

function nodeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('forward.postgres.tls.mode', () => {
  it('disable: no TLS; require: encrypted and not verified; verify-ca: the chain only; verify-full: chain and name', () => {
    expect(tlsOptions({ mode: 'disable' })).toBeUndefined();
    expect(tlsOptions({ mode: 'require' })).toEqual({ rejectUnauthorized: false });
    const ca = tlsOptions({ mode: 'verify-ca' });
    expect(ca?.rejectUnauthorized).toBe(true);
    expect(ca?.checkServerIdentity?.('db.example', {} as never)).toBeUndefined();
    // verify-full leaves Node's own host-name check in place.
    expect(tlsOptions({ mode: 'verify-full' })).toEqual({ rejectUnauthorized: true });
  });
});

describe('tlsError', () => {
  it('names the cause of a failed handshake and the setting to look at', () => {
    const e = tlsError('verify-full', nodeError('certificate has expired', 'CERT_HAS_EXPIRED'));
    expect(e?.code).toBe('MQLITE_FORWARD_TLS');
    expect(e?.message).toBe(
      "TLS to PostgreSQL failed (tls.mode verify-full): the server's certificate has expired or is not valid yet: certificate has expired (CERT_HAS_EXPIRED)",
    );
    expect(tlsError('require', new Error('The server does not support SSL connections'))?.message).toMatch(
      /the server does not offer TLS/,
    );
  });

  it('leaves other failures alone, and every failure when TLS is off', () => {
    expect(
      tlsError('verify-full', nodeError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')),
    ).toBeUndefined();
    expect(
      tlsError('verify-full', nodeError('password authentication failed for user "x"', '28P01')),
    ).toBeUndefined();
    expect(
      tlsError('disable', nodeError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')),
    ).toBeUndefined();
  });
});
