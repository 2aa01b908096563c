export { clientIdOnVolatileHost, loadConfig, type LoadInput } from './load.js';
export { hideUrlPassword, redact } from './redact.js';
export { type Config, LOG_LEVELS, type StageValidators } from './schema.js';
export { SETTINGS } from './settings-map.js';
export { parseHostPort, parseSize } from './units.js';
