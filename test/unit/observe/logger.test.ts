import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, stageLogger } from '../../../src/observe/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes NDJSON with the level, a stage per child, and redacted passwords', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', pretty: false, destination: stream });
    stageLogger(log, 'source').info({ broker: { url: 'mqtt://x', password: 'hunter2' } }, 'connected');
    log.child({ stage: 'sink' }).debug('not at info');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, stage: 'source', msg: 'connected', pid: process.pid });
    expect(rec.broker).toEqual({ url: 'mqtt://x', password: '[redacted]' });
    expect(typeof rec.time).toBe('number');
  });

  it('serialises errors with their message and stack', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', pretty: false, destination: stream });
    log.error({ err: new Error('disk full') }, 'commit failed');
    const rec = JSON.parse(lines[0] as string) as { err: { message: string; stack: string } };
    expect(rec.err.message).toBe('disk full');
    expect(rec.err.stack).toContain('Error: disk full');
  });

  it('writes human lines when pretty, without colour codes off a terminal', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', pretty: true, destination: stream });
    log.child({ stage: 'sink' }).warn('slow commit');
    expect(lines.join('\n')).toMatch(/WARN.*slow commit/);
    expect(lines.join('\n')).not.toContain('\u001b[');
    expect(() => JSON.parse(lines[0] as string)).toThrow();
  });

  it('writes nothing when silent', () => {
    const { lines, stream } = capture();
    createLogger({ level: 'silent', pretty: false, destination: stream }).fatal('x');
    expect(lines).toHaveLength(0);
  });
});
