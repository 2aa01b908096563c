/**
 * Home Assistant. MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
 * `homeassistant/<component>/[<node_id>/]<object_id>/config` are retained configuration documents:
 * stored whole, no readings. MQTT statestream with `base_topic: homeassistant`
 * (https://www.home-assistant.io/integrations/mqtt_statestream/): `homeassistant/<domain>/<entity>/state`
 * (`on`, `21.5`, `unavailable`) and one topic per attribute (JSON values) → device
 * `<domain>.<entity>` (the entity id), metric `state` or the attribute name.
 */
import { type Preset, rule } from './preset.js';

const name = 'home-assistant';
const base = 'homeassistant';

export const homeAssistant: Preset = {
  name,
  description: `${base}/.../config discovery kept as documents; statestream ${base}/<domain>/<entity>/<state|attribute> → device <domain>.<entity>`,
  rules: [
    rule(name, { filter: `${base}/+/+/config`, template: `${base}/+/{device}/config`, format: 'document' }),
    rule(name, {
      filter: `${base}/+/+/+/config`,
      template: `${base}/+/{device}/+/config`,
      format: 'document',
    }),
    rule(name, {
      filter: `${base}/+/+/+`,
      template: `${base}/{domain}/{entity}/{attribute}`,
      device: '{domain}.{entity}',
      metric: '{attribute}',
    }),
  ],
};
