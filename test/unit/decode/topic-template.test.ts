import { describe, expect, it } from 'vitest';
import { compileTemplate, validateTemplate } from '../../../src/decode/topic-template.js';

describe('compileTemplate with the default +/{device}/#', () => {
  const match = compileTemplate('+/{device}/#');

  it.each([
    ['zigbee2mqtt/kitchen', 'kitchen'],
    ['tele/plug1/SENSOR', 'plug1'],
    ['shellies/abc/relay/0', 'abc'],
    ['home/kitchen/temperature', 'kitchen'],
    ['$SYS/broker/uptime', 'broker'],
    ['a/küche', 'küche'],
    ['a/"; DROP TABLE readings;--/x', '"; DROP TABLE readings;--'],
  ])('%s → device %s', (topic, device) => {
    expect(match(topic).device).toBe(device);
  });

  it('has no device when the topic is too short', () => {
    expect(match('zigbee2mqtt').device).toBeNull();
    expect(match('').device).toBeNull();
  });

  it('has no device when the device level is empty', () => {
    expect(match('a//b').device).toBeNull();
    expect(match('a/').device).toBeNull();
  });

  it('reports where the device level ends', () => {
    expect(match('home/kitchen/temperature').deviceEnd).toBe('home/kitchen'.length);
    expect(match('zigbee2mqtt/kitchen').deviceEnd).toBe('zigbee2mqtt/kitchen'.length);
    expect(match('zigbee2mqtt').deviceEnd).toBe(-1);
  });

  it('puts the device among the fields', () => {
    expect({ ...match('tele/plug1/SENSOR').fields }).toEqual({ device: 'plug1' });
    expect({ ...match('tele').fields }).toEqual({});
  });

  it('handles a 64 KB topic', () => {
    const long = `a/${'d'.repeat(65_000)}/x`;
    expect(match(long).device).toHaveLength(65_000);
  });
});

describe('compileTemplate, other shapes', () => {
  it('captures several fields and requires literal levels', () => {
    const m = compileTemplate('site/{site}/{device}/+/{channel}');
    const r = m('site/berlin/pump7/status/2');
    expect(r.device).toBe('pump7');
    expect({ ...r.fields }).toEqual({ site: 'berlin', device: 'pump7', channel: '2' });
    expect(m('other/berlin/pump7/status/2').device).toBeNull();
    expect(m('site/berlin/pump7/status').device).toBeNull(); // too short
    expect(m('site/berlin/pump7/status/2/extra').device).toBeNull(); // too long, no '#'
  });

  it('lets # match zero levels', () => {
    const m = compileTemplate('{device}/#');
    expect(m('pump').device).toBe('pump');
    expect(m('pump/a/b').device).toBe('pump');
  });

  it('works without a device capture', () => {
    const m = compileTemplate('+/{room}/#');
    const r = m('home/kitchen/t');
    expect(r.device).toBeNull();
    expect(r.deviceEnd).toBe(-1);
    expect({ ...r.fields }).toEqual({ room: 'kitchen' });
  });

  it('returns fields that cannot reach Object.prototype', () => {
    const r = compileTemplate('{constructor}/{device}')('x/y');
    expect(r.fields.constructor).toBe('x');
    expect(Object.getPrototypeOf(r.fields)).toBeNull();
  });

  it('throws at compile time on an invalid template', () => {
    expect(() => compileTemplate('a/#/b')).toThrow(/invalid topic template/);
  });
});

describe('validateTemplate', () => {
  it.each(['+/{device}/#', '{device}', 'a/{device}', 'x/{site}/{device}/#', '#', '+', 'a/b'])(
    'accepts %s',
    (t) => {
      expect(validateTemplate(t)).toBeUndefined();
    },
  );

  it.each([
    ['', 'empty'],
    ['a/#/b', "'#'"],
    ['a/dev#', "'#'"],
    ['a+/{device}', "'+'"],
    ['a/{device', 'capture'],
    ['a/dev-{id}', 'capture'],
    ['a/{}', 'capture'],
    ['a/{1x}', 'capture'],
    ['{device}/{device}', 'twice'],
    ['{__proto__}', '__proto__'],
    ['a\u0000', 'U+0000'],
  ])('rejects %j', (t, mention) => {
    expect(validateTemplate(t)).toContain(mention);
  });
});

describe('compileTemplate with a multi-level capture', () => {
  it('takes every level between the head and the tail', () => {
    const m = compileTemplate('zigbee2mqtt/{device#}/availability');
    expect(m('zigbee2mqtt/kitchen/floor_light/availability')).toMatchObject({
      matched: true,
      device: 'kitchen/floor_light',
      deviceEnd: 'zigbee2mqtt/kitchen/floor_light'.length,
    });
    expect(m('zigbee2mqtt/lamp/availability').device).toBe('lamp');
    expect(m('zigbee2mqtt/availability').matched).toBe(false);
    expect(m('zigbee2mqtt/lamp').matched).toBe(false);
    expect(m('other/lamp/availability').matched).toBe(false);
  });

  it('captures to the end without a tail, and matches tail wildcards and captures from the end', () => {
    expect(compileTemplate('z/{device#}')('z/a/b/c').device).toBe('a/b/c');
    expect(compileTemplate('z/{device#}')('z').matched).toBe(false);
    const m = compileTemplate('z/{device#}/set/{attr}');
    const r = m('z/a/b/set/brightness');
    expect(r.device).toBe('a/b');
    expect({ ...r.fields }).toEqual({ device: 'a/b', attr: 'brightness' });
    expect(compileTemplate('{device#}/+')('a/b/c').device).toBe('a/b');
  });

  it('is validated', () => {
    expect(validateTemplate('a/{d#}/{e#}')).toMatch(/only one/);
    expect(validateTemplate('a/{d#}/#')).toMatch(/cannot also end/);
    expect(validateTemplate('a/{device#}/b')).toBeUndefined();
  });
});
