/**
 * zigbee2mqtt (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html), base topic
 * `zigbee2mqtt`. `zigbee2mqtt/<friendly name>` carries the device's state as JSON; friendly names
 * may contain '/' ("kitchen/floor_light"), so the device is every level after the base topic.
 * `<name>/availability` is the device's online state, `<name>/set|get[/<attr>]` are commands to
 * it (stored, without readings: they are requests, not measurements), and `bridge/#` is the
 * bridge's own documents (`bridge/devices` is a retained inventory of ~65 KB): stored whole.
 */
import { type Preset, rule } from './preset.js';

const name = 'zigbee2mqtt';
const base = 'zigbee2mqtt';

export const zigbee2mqtt: Preset = {
  name,
  description: `${base}/<friendly name, may contain '/'>: state JSON; /availability; /set, /get commands kept without readings; bridge/# kept as documents`,
  rules: [
    rule(name, { filter: `${base}/bridge/#`, format: 'document', template: `${base}/{device}/#` }),
    rule(name, {
      filter: `${base}/#`,
      template: `${base}/{device#}/availability`,
      metric: 'availability',
    }),
    ...['set', 'get'].flatMap((verb) => [
      rule(name, { filter: `${base}/#`, template: `${base}/{device#}/${verb}`, format: 'document' }),
      rule(name, { filter: `${base}/#`, template: `${base}/{device#}/${verb}/+`, format: 'document' }),
    ]),
    rule(name, { filter: `${base}/#`, template: `${base}/{device#}` }),
  ],
};
