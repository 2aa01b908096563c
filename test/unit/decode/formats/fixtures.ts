import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

/** A file under test/fixtures, as bytes. */
export function fixtureBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(root + path));
}

/** A file under test/fixtures, as UTF-8 text. */
export function fixtureText(path: string): string {
  return readFileSync(root + path, 'utf8');
}
