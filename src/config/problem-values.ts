/**
 * What a configuration error may echo. Messages go to stderr, and under systemd into the
 * journal, readable by more people than the config file: a secret's value is never shown,
 * whatever its type (a numeric password was printed as `expected string, got 918273645`), and
 * a key that looks like a secret but is misspelled or misplaced is hidden too.
 */
import { HiddenValue, type ConfigProblem } from '../lib/errors.js';
import { hideUrlPassword } from './redact.js';

/** Last key segments whose values are secrets (password, passwordHash, api_token, clientSecret…). */
const SECRET_NAME = /pass|pas+w|pwd|secret|token|credential|hash/i;

export function withoutSecrets(p: ConfigProblem): ConfigProblem {
  const last = p.key.split('.').pop() ?? '';
  if (SECRET_NAME.test(last) && p.value !== undefined && !(p.value instanceof HiddenValue)) {
    return { ...p, value: new HiddenValue(kindOf(p.value)) };
  }
  if (typeof p.value === 'string' && p.value.includes('@')) return { ...p, value: hideUrlPassword(p.value) };
  return p;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'mapping' : typeof v;
}
