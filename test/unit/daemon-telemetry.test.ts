import { describe, expect, it } from 'vitest';
import { connectHint } from '../../src/daemon-telemetry.js';

describe('connectHint', () => {
  it('tells the user which setting fixes a refused connection', () => {
    expect(connectHint('Connection refused: Unacceptable protocol version')).toMatch(/--mqtt-version 4/);
    expect(connectHint('Connection refused: Not authorized')).toMatch(/MQLITE_PASSWORD/);
    expect(connectHint('Connection refused: Bad username or password')).toMatch(/--username/);
    expect(connectHint('connect ECONNREFUSED 127.0.0.1:1883')).toBeUndefined();
  });
});
