/**
 * The shipped presets, in the order their rules are tried (after the user's own rules, before the
 * default): the most specific topic shapes first, the generic ones (`+/status/+`, ESPHome's
 * `+/sensor/+/state`, `+/status`) last, so that a base topic like `zigbee2mqtt/` or
 * `homeassistant/` claims its own topics before a generic shape could.
 */
import type { FormatRule } from '../types.js';
import { common } from './common.js';
import { esphome } from './esphome.js';
import { homeAssistant } from './home-assistant.js';
import { owntracks } from './owntracks.js';
import type { Preset } from './preset.js';
import { shelly } from './shelly.js';
import { sparkplug } from './sparkplug.js';
import { tasmota } from './tasmota.js';
import { zigbee2mqtt } from './zigbee2mqtt.js';

export type { Preset } from './preset.js';

export const PRESETS: readonly Preset[] = [
  sparkplug,
  zigbee2mqtt,
  homeAssistant,
  owntracks,
  tasmota,
  shelly,
  esphome,
  common,
];

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

/** The rules of the named presets, in PRESETS order whatever the order of `names`. */
export function presetRules(names: readonly string[]): FormatRule[] {
  const wanted = new Set(names);
  return PRESETS.filter((p) => wanted.has(p.name)).flatMap((p) => p.rules);
}
