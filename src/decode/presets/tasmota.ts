/**
 * Tasmota (https://tasmota.github.io/docs/MQTT/), default FullTopic `%prefix%/%topic%/`:
 * `tele/<dev>/SENSOR|STATE` JSON stamped with `Time`, the device's local time without an offset
 * (unless SetOption52), read in `timestamps.zone`; `tele/<dev>/LWT` `Online`/`Offline`;
 * `stat/<dev>/POWER` `ON`, `stat/<dev>/RESULT` JSON; `cmnd/<dev>/...` are commands (kept, no readings).
 */
import { type Preset, rule } from './preset.js';

const name = 'tasmota';

export const tasmota: Preset = {
  name,
  description:
    'tele/<dev>/SENSOR|STATE (ts from Time, in timestamps.zone), tele/<dev>/LWT, stat/<dev>/<cmd>; cmnd/<dev>/# kept without readings',
  rules: [
    rule(name, { filter: 'tele/+/+', template: 'tele/{device}/#', tsField: 'Time', tsUnit: 'iso' }),
    rule(name, { filter: 'stat/+/#', template: 'stat/{device}/#', tsField: 'Time', tsUnit: 'iso' }),
    rule(name, { filter: 'cmnd/+/#', template: 'cmnd/{device}/#', format: 'document' }),
  ],
};
