import { readFileSync } from 'node:fs';

/** package.json sits two levels above src/lib/ and dist/lib/. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}
