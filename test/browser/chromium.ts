// Debian's Chromium, headless, through playwright-core: used by the browser tests and by the scripts that
// take the screenshots under docs/. scripts/setup-test-env.sh installs the package when it is missing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, sandbox-less headless run that reaches nothing but the pages it is given. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function ensureChromium(): string {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: run scripts/setup-test-env.sh (npm test runs it first)`);
  return CHROMIUM;
}

export interface Headless {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * A persistent context in a new, throwaway user-data directory (no profile, cookies or cache shared with
 * another run). `viewport` defaults to 1280×900.
 */
export async function launchChromium(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<Headless> {
  const executablePath = ensureChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), 'dw-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: options.viewport ?? { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export type { Browser };
