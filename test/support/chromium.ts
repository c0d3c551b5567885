import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { onTestFailed } from 'vitest';
import { launchChromium } from './chromium-launch.js';

/*
 * Debian's chromium, driven headless by playwright-core (no browser
 * download): one browser per test file, a fresh profile in the test's temp
 * dir, pages that collect what the console logged as errors (a CSP violation
 * or an uncaught exception fails the test that asks), and a screenshot into
 * the temp dir when a test fails.
 */

export { CHROMIUM_FLAGS } from './chromium-launch.js';

export interface ConsolePage {
  page: Page;
  /** Console errors and uncaught exceptions of this page, as they came. */
  errors: string[];
}

export class Chromium {
  readonly context: BrowserContext;
  readonly dir: string;
  /** A test failed: keep the temp dir (its screenshots) instead of removing it. */
  failed = false;
  #shots = 0;

  private constructor(context: BrowserContext, dir: string) {
    this.context = context;
    this.dir = dir;
  }

  /** Starts the system chromium with a fresh --user-data-dir under `dir`. */
  static async start(dir: string): Promise<Chromium> {
    return new Chromium(await launchChromium(join(dir, 'chromium-profile')), dir);
  }

  /** A new tab that records its console errors. */
  async page(): Promise<ConsolePage> {
    const page = await this.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    return { page, errors };
  }

  /** Call inside a test: if it fails, a screenshot of each page lands in the temp dir (and the path on stderr). */
  screenshotOnFailure(pages: Record<string, Page>): void {
    onTestFailed(async () => {
      this.failed = true;
      for (const [label, page] of Object.entries(pages)) {
        const file = join(this.dir, `failure-${++this.#shots}-${label}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
        process.stderr.write(`screenshot of "${label}" when the test failed: ${file} (the temp dir is kept)\n`);
      }
    });
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** Errors of a page other than failed loads the test provoked (an unreachable tile server is the point of one test). */
export function unexpectedErrors(errors: string[], expected: RegExp[] = []): string[] {
  return errors.filter((e) => !expected.some((x) => x.test(e)));
}

/** Opens the console and signs in with a token the way a person does: paste, click. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/console/`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top', { timeout: 10_000 });
}
