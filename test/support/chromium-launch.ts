import { mkdir } from 'node:fs/promises';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireTool } from './tools.js';

/*
 * Debian's chromium, headless, through playwright-core (no browser
 * download), with a fresh profile: what the console tests and the console
 * benchmark run. Without vitest, so a benchmark can use it too.
 */

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Starts the system chromium with `profileDir` as its fresh --user-data-dir. */
export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  const executablePath = requireTool('chromium', ['/usr/bin/chromium']);
  await mkdir(profileDir, { recursive: true });
  // launchPersistentContext is how playwright takes --user-data-dir: a fresh directory is a fresh profile.
  return chromium.launchPersistentContext(profileDir, {
    executablePath, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 }, acceptDownloads: true,
  });
}
