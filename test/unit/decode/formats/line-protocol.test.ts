import { describe, expect, it } from 'vitest';
import type { FormatDecoded, FormatResult } from '../../../../src/decode/formats/format-types.js';
import {
  createLineProtocolParser,
  type LineProtocolOptions,
} from '../../../../src/decode/formats/line-protocol.js';
import { fixtureText } from './fixtures.js';

const parse = (text: string, over: Partial<LineProtocolOptions> = {}): FormatResult =>
  createLineProtocolParser({ precision: 'ns', deviceTag: 'host', maxReadings: 1000, ...over })(text);

function ok(r: FormatResult): FormatDecoded {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r;
}

function reason(r: FormatResult): string {
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.readings)}`);
  return `${r.reason}: ${r.detail}`;
}

describe('line protocol, the reference examples (fixtures)', () => {
  it('reads the canonical weather line at its nanosecond time, floored to ms', () => {
    expect(ok(parse(fixtureText('line-protocol/reference-weather.lp')))).toEqual({
      ok: true,
      device: null,
      capped: false,
      ts: 1465839830100,
      // At the message's time: no time of its own.
      readings: [{ metric: 'weather.location=us-midwest.temperature', value: 82 }],
    });
  });

  it('keeps each line at its own time (the home sample data, second precision)', () => {
    const r = ok(parse(fixtureText('line-protocol/reference-home-seconds.lp'), { precision: 's' }));
    expect(r.readings).toHaveLength(12);
    // The first line's time is the message's; later lines' readings carry their own.
    expect(r.ts).toBe(1641024000000);
    expect(r.readings.slice(0, 3)).toEqual([
      { metric: 'home.room=Living Room.temp', value: 21.1 },
      { metric: 'home.room=Living Room.hum', value: 35.9 },
      { metric: 'home.room=Living Room.co', value: 0 },
    ]);
    expect(r.readings[9]).toEqual({ metric: 'home.room=Kitchen.temp', value: 23, ts: 1641027600000 });
  });

  it('applies the escaping rules and does not read string fields as numbers', () => {
    const r = ok(parse(fixtureText('line-protocol/escapes.lp')));
    // The third line: measurement `cpu,01`, a tag value with a space, an `=` inside a tag key and value.
    expect(r).toEqual({
      ok: true,
      device: 'server A',
      capped: false,
      readings: [{ metric: 'cpu,01.equals=tag=a=b.region=us west.usage', value: 0.5 }],
    });
  });

  it('reads what Telegraf sends: the host tag names the device, i and u integers', () => {
    const r = ok(parse(fixtureText('line-protocol/telegraf-standard.lp')));
    expect(r.device).toBe('raspberrypi');
    const byMetric = Object.fromEntries(r.readings.map((x) => [x.metric, x.value]));
    expect(byMetric).toMatchObject({
      'cpu.cpu=cpu-total.usage_idle': 97.49,
      'mem.total': 4086050816,
      'disk.device=mmcblk0p2.fstype=ext4.mode=rw.path=/.inodes_used': 186254,
      'system.n_cpus': 4,
      'system.uptime': 86400,
    });
    expect(Object.keys(byMetric)).not.toContain('system.uptime_format');
    // Every line at one time, the message's: no reading needs a time of its own.
    expect(r.ts).toBe(1700000000000);
    expect(new Set(r.readings.map((x) => x.ts))).toEqual(new Set([undefined]));
  });

  it('reads CRLF lines without timestamps; a repeated field keeps the last value', () => {
    const r = ok(parse(fixtureText('line-protocol/esp32-crlf-no-timestamp.lp')));
    expect(r).toEqual({
      ok: true,
      device: 'esp32-attic',
      capped: false,
      readings: [
        { metric: 'sensors.temperature', value: 18.25 },
        { metric: 'sensors.humidity', value: 61.5 },
        { metric: 'sensors.ok', value: 0 },
        { metric: 'sensors.rssi', value: -71 },
      ],
    });
  });
});

describe('line protocol, values and timestamps', () => {
  it('reads every boolean spelling and float form', () => {
    const fields = 'a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE';
    expect(ok(parse(`m ${fields}`)).readings.map((r) => r.value)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(ok(parse('m a=1,b=-1.5,c=1e3,d=-1.234456e+78,e=.5,f=1.')).readings.map((r) => r.value)).toEqual([
      1, -1.5, 1000, -1.234456e78, 0.5, 1,
    ]);
  });

  it('keeps int64 and uint64 limits, rounding beyond 2^53 to the nearest double', () => {
    const r = ok(parse('m a=9223372036854775807i,b=-9223372036854775808i,c=18446744073709551615u'));
    expect(r.readings.map((x) => x.value)).toEqual([2 ** 63, -(2 ** 63), 2 ** 64]);
    expect(reason(parse('m a=9223372036854775808i'))).toMatch(
      /^invalid_line_protocol: line 1: .*int64 range/,
    );
    expect(reason(parse('m a=18446744073709551616u'))).toMatch(/uint64 range/);
    expect(reason(parse('m a=-1u'))).toMatch(/not a float/);
  });

  it('converts timestamps exactly in each precision', () => {
    const line = (ts: string) => `m v=1 ${ts}`;
    const at = (ts: string, precision: LineProtocolOptions['precision']) =>
      ok(parse(line(ts), { precision })).ts;
    // 2^53 + 1 ns would round to 2^53 as a double; the BigInt keeps it, and the ms floor is exact.
    expect(at('1700000000123999999', 'ns')).toBe(1700000000123);
    expect(at('1700000000123999', 'us')).toBe(1700000000123);
    expect(at('1700000000123', 'ms')).toBe(1700000000123);
    expect(at('1700000000', 's')).toBe(1700000000000);
    // Before 1970, a sub-millisecond part floors towards the past.
    expect(at('-1500000', 'ns')).toBe(-2);
    expect(at('0', 'ns')).toBe(0);
  });

  it('rejects timestamps that are not integers or not dates', () => {
    expect(reason(parse('m v=1 1.5'))).toMatch(/^invalid_line_protocol: line 1: timestamp "1.5"/);
    expect(reason(parse('m v=1 99999999999999999', { precision: 's' }))).toMatch(/^invalid_timestamp: /);
    expect(reason(parse('m v=1 1700000000 extra'))).toMatch(/after the timestamp/);
  });
});

describe('line protocol, devices and names', () => {
  it('uses the configured device tag', () => {
    expect(ok(parse('m,node=a,host=h v=1', { deviceTag: 'node' }))).toMatchObject({
      device: 'a',
      readings: [{ metric: 'm.host=h.v', value: 1 }],
    });
  });

  it('keeps the device tag in the names when lines disagree on it', () => {
    const r = ok(parse('m,host=a v=1\nm,host=b v=2'));
    expect(r.device).toBeNull();
    expect(r.readings.map((x) => x.metric)).toEqual(['m.host=a.v', 'm.host=b.v']);
  });

  it('sorts tags in names, so tag order does not split a series', () => {
    expect(ok(parse('m,b=2,a=1 v=1\nm,a=1,b=2 w=1')).readings.map((x) => x.metric)).toEqual([
      'm.a=1.b=2.v',
      'm.a=1.b=2.w',
    ]);
  });

  it('caps readings, saying so', () => {
    const r = ok(parse('m a=1,b=2,c=3', { maxReadings: 2 }));
    expect(r.readings).toHaveLength(2);
    expect(r.capped).toBe(true);
  });
});

describe('line protocol, malformed payloads name the line', () => {
  it.each([
    ['', /no line with data/],
    ['# only a comment\n\n', /no line with data/],
    ['weather', /line 1: "weather" has no fields/],
    ['weather temperature', /line 1: field "temperature" has no "=value"/],
    ['ok v=1\nweather,location temperature=1', /line 2: tag key "location" has no "=value"/],
    ['weather temperature=', /line 1: field "temperature": no value/],
    ['weather temperature=hot', /"hot" is not a float/],
    ['weather msg="unterminated', /no closing quote/],
    ['weather ,=1', /line 1: empty field key/],
    [',t=1 v=1', /line 1: empty measurement/],
    ['w v=1e999', /beyond the range of a double/],
    ['w v=NaN', /"NaN" is not a float/],
    ['w v=1\rx', /carriage return/],
  ])('%j', (text, detail) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('invalid_line_protocol');
      expect(r.detail).toMatch(detail);
    }
  });

  it('accepts a newline inside a quoted string field and escaped quotes there', () => {
    expect(ok(parse('w s="a\nb \\" c",v=2 5000000'))).toMatchObject({
      ts: 5,
      readings: [{ metric: 'w.v', value: 2 }],
    });
  });

  it('does not let a trailing backslash swallow the line end', () => {
    expect(reason(parse('w,t=a\\\nw v=2'))).toMatch(/^invalid_line_protocol: line 1: "w" has no fields/);
    expect(ok(parse('w,t=a\\ b v=1')).readings).toEqual([{ metric: 'w.t=a b.v', value: 1 }]);
  });
});
