/**
 * Topic shapes many ecosystems share: `<device>/status` and `<device>/online` carry availability
 * (ESPHome `online`/`offline`, Shelly Gen2 `true`/`false`, Home Assistant's own `homeassistant/status`).
 * Two levels, so the default template (`+/{device}/#`) would name the device after the second
 * level, `status`, and merge every node into one.
 */
import { type Preset, rule } from './preset.js';

const name = 'common';

export const common: Preset = {
  name,
  description: '<device>/status and <device>/online (availability) → device <device>',
  rules: [
    rule(name, { filter: '+/status', template: '{device}/{what}', metric: '{what}' }),
    rule(name, { filter: '+/online', template: '{device}/{what}', metric: '{what}' }),
  ],
};
