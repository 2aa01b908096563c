import { describe, expect, it } from 'vitest';
import { compileFilter, validateFilter } from '../../../src/decode/topic-filter.js';

const topicMatches = (filter: string, topic: string): boolean => compileFilter(filter)(topic);

describe('topicMatches', () => {
  it.each([
    // [filter, topic, expected]
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a/b', 'a/B', false],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['+', '', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a', false], // §4.7.1.2: "sport/+" does not match "sport"
    ['a/+', 'a/', true], // ... but does match "sport/"
    ['a/+/c', 'a/x/c', true],
    ['a/+/c', 'a/x/y/c', false],
    ['+/+', '/finance', true], // §4.7.1.2 example
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', 'a/b/c', true],
    ['a/#', 'a', true], // '#' matches the parent level too
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['a/b/#', 'a/b', true],
    ['a/b/#', 'a/c', false],
    ['a//b', 'a//b', true],
    ['a//b', 'a/b', false],
    ['kitchen', 'kitchen', true],
    ['kitchen', 'kitchenette', false],
    ['kitchenette', 'kitchen', false],
  ])('%s vs %s → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it('does not match $-topics with a leading wildcard [MQTT-4.7.2-1]', () => {
    expect(topicMatches('#', '$SYS/broker/uptime')).toBe(false);
    expect(topicMatches('+/broker/uptime', '$SYS/broker/uptime')).toBe(false);
    expect(topicMatches('+/monitor/Clients', '$SYS/monitor/Clients')).toBe(false);
  });

  it('matches $-topics when the filter names the $ level', () => {
    expect(topicMatches('$SYS/#', '$SYS/broker/uptime')).toBe(true);
    expect(topicMatches('$SYS/monitor/+', '$SYS/monitor/Clients')).toBe(true);
    expect(topicMatches('$share/g/#', '$share/g/x')).toBe(true);
  });

  it('lets a wildcard match a $ in a later level', () => {
    expect(topicMatches('a/+', 'a/$x')).toBe(true);
    expect(topicMatches('a/#', 'a/$x/y')).toBe(true);
  });

  it('compares unicode and odd characters literally', () => {
    expect(topicMatches('home/küche/+', 'home/küche/temp')).toBe(true);
    expect(topicMatches('a;b/"c"', 'a;b/"c"')).toBe(true);
    expect(topicMatches('a;b/"c"', "a;b/'c'")).toBe(false);
  });

  it('a compiled filter gives the same answers when reused', () => {
    const m = compileFilter('tele/+/SENSOR');
    expect(m('tele/plug1/SENSOR')).toBe(true);
    expect(m('tele/plug2/SENSOR')).toBe(true);
    expect(m('tele/plug1/STATE')).toBe(false);
    expect(m('tele/plug1/SENSOR/x')).toBe(false);
  });
});

describe('validateFilter', () => {
  it.each(['#', '+', 'a/b', 'a/+/c', 'a/#', '+/+/#', '$SYS/#', '/', 'a//b', 'küche/+'])('accepts %s', (f) => {
    expect(validateFilter(f)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['a/#/b', "'#'"],
    ['a#', "'#'"],
    ['#/a', "'#'"],
    ['a/b#', "'#'"],
    ['a+', "'+'"],
    ['a/+b/c', "'+'"],
    ['a\u0000b', 'U+0000'],
    ['x'.repeat(65_536), '65535'],
  ])('rejects %j', (f, mention) => {
    expect(validateFilter(f)).toContain(mention);
  });
});
