/** `mqlite check-config` shows the format rules in the order they are tried: config, presets, default. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';

interface Shown {
  effectiveFormats: { filter: string; source: string; template?: string; format: string }[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function check(yaml: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = tmpDir('mqlite-formats-');
  cleanups.push(t.cleanup);
  const file = join(t.dir, 'c.yaml');
  writeFileSync(file, yaml);
  return runCli(['check-config', '--config', file, '--db', join(t.dir, 'x.db')]);
}

describe('check-config and format rules', () => {
  it('lists the user rules, then every preset, then the default', async () => {
    const r = await check("subscribe:\n  formats:\n    - filter: 'lab/#'\n      format: json\n");
    expect(r.code).toBe(0);
    const rules = (JSON.parse(r.stdout) as Shown).effectiveFormats;
    expect(rules[0]).toMatchObject({ filter: 'lab/#', source: 'config', format: 'json' });
    const sources = new Set(rules.map((x) => x.source));
    for (const p of ['zigbee2mqtt', 'tasmota', 'shelly', 'esphome', 'owntracks', 'home-assistant']) {
      expect(sources.has(p), p).toBe(true);
    }
    expect(rules.at(-1)).toMatchObject({
      filter: '#',
      source: 'default',
      template: '+/{device}/#',
      format: 'auto',
    });
  });

  it('turns presets off, or keeps some', async () => {
    const none = JSON.parse((await check('subscribe:\n  presets: none\n')).stdout) as Shown;
    expect(none.effectiveFormats.map((x) => x.source)).toEqual(['default']);
    const some = JSON.parse((await check('subscribe:\n  presets: [owntracks]\n')).stdout) as Shown;
    expect(new Set(some.effectiveFormats.map((x) => x.source))).toEqual(new Set(['owntracks', 'default']));
  });

  it('names the key, the value and what was expected for bad rules, presets, words and zones', async () => {
    const r = await check(
      [
        'subscribe:',
        '  presets: [zigbee2mqtt, tasmoto]',
        '  formats:',
        "    - filter: 'a/#'",
        "      template: 'a/{dev}'",
        "      device: '{user}'",
        '  stateWords:',
        '    on: [on]',
        '    off: [ON]',
        'timestamps:',
        '  zone: Mars/Olympus',
      ].join('\n'),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('subscribe.presets.1');
    expect(r.stderr).toContain('tasmoto');
    expect(r.stderr).toContain('subscribe.formats.0.device');
    expect(r.stderr).toContain('subscribe.stateWords.off.0');
    expect(r.stderr).toContain('timestamps.zone');
    expect(r.stderr).toContain('Mars/Olympus');
  });
});
