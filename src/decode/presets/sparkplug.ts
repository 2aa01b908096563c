/**
 * Sparkplug B (Eclipse Sparkplug 3.0): everything under `spBv1.0/` is protobuf (STATE is JSON), with
 * the device named by the topic: `<group>/<edge node>[/<device>]` (decode/formats/sparkplug/).
 */
import { SPARKPLUG_FILTER } from '../formats/sparkplug/topic.js';
import { type Preset, rule } from './preset.js';

const name = 'sparkplug';

export const sparkplug: Preset = {
  name,
  description:
    'spBv1.0/<group>/<type>/<node>[/<device>] → Sparkplug B host decoding, device <group>/<node>[/<device>]',
  rules: [rule(name, { filter: SPARKPLUG_FILTER, format: 'sparkplug' })],
};
