/**
 * OwnTracks (https://owntracks.org/booklet/tech/json/): `owntracks/<user>/<device>` JSON with
 * `_type` (location, transition, lwt, card, …) and `tst`, Unix seconds; a user's phones are
 * distinct devices, so the device is `<user>/<device>`. Sub-topics (`/event`, `/info`,
 * `/waypoints`, `/cmd`, `/status`) belong to the same device.
 */
import { type Preset, rule } from './preset.js';

const name = 'owntracks';

export const owntracks: Preset = {
  name,
  description: 'owntracks/<user>/<device>[/...] → device <user>/<device>, ts from tst (seconds)',
  rules: [
    rule(name, {
      filter: 'owntracks/+/+',
      template: 'owntracks/{user}/{phone}',
      device: '{user}/{phone}',
      tsField: 'tst',
      tsUnit: 's',
    }),
    rule(name, {
      filter: 'owntracks/+/+/cmd',
      template: 'owntracks/{user}/{phone}/cmd',
      device: '{user}/{phone}',
      format: 'document',
    }),
    rule(name, {
      filter: 'owntracks/+/+/#',
      template: 'owntracks/{user}/{phone}/#',
      device: '{user}/{phone}',
      tsField: 'tst',
      tsUnit: 's',
    }),
  ],
};
