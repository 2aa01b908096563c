/**
 * Config checks that need a stage's own knowledge (topic filter and template syntax),
 * handed to the config loader so they are reported with every other problem.
 */
import type { StageValidators } from './config/index.js';
import { isPasswordHash } from './broker/password.js';
import { validateRule } from './decode/format-rules.js';
import { PRESET_NAMES } from './decode/presets/index.js';
import { isKnownZone } from './decode/time-zone.js';
import { validateFilter } from './decode/topic-filter.js';
import { validateTemplate } from './decode/topic-template.js';

export const stageValidators: StageValidators = {
  template: validateTemplate,
  filter: validateFilter,
  passwordHash: isPasswordHash,
  formatRule: validateRule,
  presetNames: PRESET_NAMES,
  timeZone: isKnownZone,
};
