import { describe, expect, it } from 'vitest';
import { readinessJson } from '../../../src/observe/http-server.js';

describe('readinessJson', () => {
  it('lists the failing checks first, in check order', () => {
    const body = readinessJson({
      ready: false,
      checks: { started: true, connected: false, subscribed: false, database: true },
    });
    expect(body).toBe(
      '{"ready":false,"failing":["connected","subscribed"],"checks":{"started":true,"connected":false,"subscribed":false,"database":true}}',
    );
  });

  it('has an empty failing list when ready', () => {
    expect(JSON.parse(readinessJson({ ready: true, checks: { started: true } }))).toEqual({
      ready: true,
      failing: [],
      checks: { started: true },
    });
  });
});
