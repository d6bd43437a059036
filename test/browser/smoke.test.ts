import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Headless, launchChromium } from './chromium.js';

let browser: Headless;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

test('headless Chromium renders a page and reads its DOM', async () => {
  const page = await browser.context.newPage();
  await page.setContent('<main><h1 id="t">driftwatch</h1><svg width="10" height="10"></svg></main>');
  expect(await page.textContent('#t')).toBe('driftwatch');
  expect(await page.locator('svg').count()).toBe(1);
  const png = await page.screenshot();
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
});
