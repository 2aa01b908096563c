/**
 * ESPHome (https://esphome.io/components/mqtt.html), topic prefix = node name:
 * `<node>/<component>/<object_id>/state` (a number, `ON`/`OFF`, text, or JSON for lights),
 * `<node>/<component>/<object_id>/command` (kept, no readings), `<node>/status` `online`/`offline`
 * (birth and last will; the generic `<x>/status` rule in `common`), climate's
 * `<node>/climate/<object_id>/<attribute>/state`. The reading is named by the object id.
 */
import { type Preset, rule } from './preset.js';

const name = 'esphome';

/** ESPHome's MQTT components that publish `.../state`. */
const COMPONENTS = [
  'sensor',
  'binary_sensor',
  'text_sensor',
  'switch',
  'light',
  'fan',
  'cover',
  'lock',
  'valve',
  'number',
  'select',
  'text',
  'button',
  'event',
  'alarm_control_panel',
  'datetime',
  'date',
  'time',
  'update',
];

export const esphome: Preset = {
  name,
  description:
    '<node>/<component>/<object>/state → device <node>, metric <object>; commands kept without readings',
  rules: [
    ...COMPONENTS.flatMap((c) => [
      rule(name, { filter: `+/${c}/+/state`, template: `{device}/${c}/{object}/state`, metric: '{object}' }),
      rule(name, { filter: `+/${c}/+/command`, template: `{device}/${c}/+/command`, format: 'document' }),
    ]),
    rule(name, {
      filter: '+/climate/+/+/state',
      template: '{device}/climate/{object}/{attribute}/state',
      metric: '{object}.{attribute}',
    }),
    rule(name, { filter: '+/climate/+/+/command', template: '{device}/climate/#', format: 'document' }),
  ],
};
