/**
 * Debian's Chromium driven by playwright-core (no browser download: the machine may have no
 * internet). Fails loudly when the binary is missing: scripts/test-prereqs.sh installs it.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.MQLITE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `this test needs Chromium at ${CHROMIUM} (set MQLITE_CHROMIUM to use another): ` +
        'apt-get install chromium, or run scripts/test-prereqs.sh as root',
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', // tests run as root in CI containers, where the sandbox cannot start
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
