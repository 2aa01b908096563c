import { describe, expect, it } from 'vitest';
import { DEFAULT_PERMISSIONS, TopicAcl } from '../../../src/broker/topic-acl.js';

const who = { username: 'plug-1', clientId: 'dev-9' };

describe('TopicAcl', () => {
  it('by default: publish anywhere but $SYS, subscribe nowhere', () => {
    const acl = TopicAcl.for(DEFAULT_PERMISSIONS, who);
    expect(acl.canPublish('zigbee2mqtt/kitchen')).toBe(true);
    expect(acl.canPublish('$SYS/broker/uptime')).toBe(false);
    for (const f of ['#', '$SYS/#', 'tele/plug-1/SENSOR', '+/+']) expect(acl.canSubscribe(f)).toBe(false);
  });

  it('substitutes %u and %c, and a publish must match a granted filter', () => {
    const acl = TopicAcl.for({ publish: ['+/%u/#', 'devices/%c'], subscribe: [] }, who);
    expect(acl.canPublish('tele/plug-1/SENSOR')).toBe(true);
    expect(acl.canPublish('stat/plug-1')).toBe(true);
    expect(acl.canPublish('tele/plug-2/SENSOR')).toBe(false);
    expect(acl.canPublish('devices/dev-9')).toBe(true);
    expect(acl.canPublish('devices/dev-9/x')).toBe(false);
  });

  it('a subscription must be covered entirely by a granted filter', () => {
    const acl = TopicAcl.for({ publish: [], subscribe: ['tele/%u/#', 'cmnd/+/POWER'] }, who);
    expect(acl.canSubscribe('tele/plug-1/#')).toBe(true);
    expect(acl.canSubscribe('tele/plug-1/+')).toBe(true);
    expect(acl.canSubscribe('tele/#')).toBe(false);
    expect(acl.canSubscribe('tele/+/SENSOR')).toBe(false);
    expect(acl.canSubscribe('cmnd/x/POWER')).toBe(true);
    expect(acl.canSubscribe('cmnd/+/POWER')).toBe(true);
    expect(acl.canSubscribe('cmnd/#')).toBe(false);
  });

  it('# does not grant $ topics; naming $SYS does', () => {
    const all = TopicAcl.for({ publish: [], subscribe: ['#'] }, who);
    expect(all.canSubscribe('#')).toBe(true);
    expect(all.canSubscribe('+/x')).toBe(true);
    expect(all.canSubscribe('$SYS/#')).toBe(false);
    const sys = TopicAcl.for({ publish: [], subscribe: ['#', '$SYS/#'] }, who);
    expect(sys.canSubscribe('$SYS/broker/+')).toBe(true);
  });

  it('a user name or client id holding / + or # grants nothing through a pattern', () => {
    for (const username of ['#', 'a/b', '+', undefined]) {
      const acl = TopicAcl.for(
        { publish: ['tele/%u/#'], subscribe: ['tele/%u/#'] },
        { username, clientId: 'c' },
      );
      expect(acl.canPublish('tele/a/b/x')).toBe(false);
      expect(acl.canSubscribe('tele/#')).toBe(false);
    }
  });
});
