/**
 * Shelly. Gen1 (https://shelly-api-docs.shelly.cloud/gen1/#mqtt): `shellies/<id>/relay/0` `on`,
 * `shellies/<id>/relay/0/power` `12.3`, `shellies/<id>/online` `true`, `shellies/<id>/announce` and
 * `shellies/announce` JSON documents, `.../command` and `.../set` commands.
 * Gen2+ (https://shelly-api-docs.shelly.cloud/gen2/): `<id>/status/<component>:<n>` the component's
 * full status (status_ntf), `<id>/events/rpc` NotifyStatus/NotifyEvent frames with `params.ts`
 * (Unix seconds, fractional), `<id>/online` `true`/`false`, `<id>/rpc` requests (kept, no readings).
 */
import { type Preset, rule } from './preset.js';

const name = 'shelly';

export const shelly: Preset = {
  name,
  description:
    'Gen1 shellies/<id>/...; Gen2 <id>/status/<component:n>, <id>/events/rpc (ts from params.ts), <id>/online',
  rules: [
    rule(name, { filter: 'shellies/announce', format: 'document', template: 'shellies/#' }),
    rule(name, { filter: 'shellies/command', format: 'document', template: 'shellies/#' }),
    rule(name, { filter: 'shellies/+/announce', format: 'document', template: 'shellies/{device}/#' }),
    ...['command', 'set'].map((verb) =>
      rule(name, { filter: `shellies/+/+/+/${verb}`, format: 'document', template: 'shellies/{device}/#' }),
    ),
    rule(name, { filter: 'shellies/+/#', template: 'shellies/{device}/#' }),
    rule(name, {
      filter: '+/status/+',
      template: '{device}/status/{component}',
      metric: '{component}',
    }),
    rule(name, {
      filter: '+/events/rpc',
      template: '{device}/events/rpc',
      tsField: 'params.ts',
      tsUnit: 's',
      readingsField: 'params',
    }),
    rule(name, { filter: '+/rpc', format: 'document', template: '{device}/rpc' }),
  ],
};
