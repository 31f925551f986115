/**
 * Chromium: Debian's `chromium`, driven by puppeteer-core over the Chrome DevTools Protocol
 * (`./puppeteer.ts`). `../chromium.ts` starts it trusting exactly the test servers' certificates.
 */
import { CHROME_PATH, launchChromium } from '../chromium.ts';
import type { Engine } from './engine.ts';
import { PuppeteerBrowser } from './puppeteer.ts';

export const chromium: Engine = {
  name: 'Chromium',
  needs: [{ file: CHROME_PATH, apt: 'chromium' }],
  gaps: [],
  launch: async (trust) => new PuppeteerBrowser(await launchChromium(trust)),
};
