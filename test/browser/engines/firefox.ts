/**
 * Firefox: Debian's `firefox-esr`, which speaks WebDriver BiDi itself, driven by puppeteer-core over
 * that protocol (`./puppeteer.ts`). puppeteer-core never downloads a browser; it starts the one at
 * `FIREFOX_PATH`, headless, with a fresh temporary profile it deletes on close.
 */
import puppeteer from 'puppeteer-core';
import type { Engine } from './engine.ts';
import { PuppeteerBrowser } from './puppeteer.ts';

const FIREFOX_PATH = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

export const firefox: Engine = {
  name: 'Firefox',
  needs: [{ file: FIREFOX_PATH, apt: 'firefox-esr' }],
  gaps: [],
  async launch() {
    const browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: FIREFOX_PATH,
      headless: true,
      // Firefox has no flag to pin one certificate's key, as Chromium's SPKI list does: this trusts any.
      acceptInsecureCerts: true,
      extraPrefsFirefox: {
        // No internet here: keep Firefox from reaching out for updates, telemetry and safe browsing.
        'app.update.enabled': false,
        'browser.safebrowsing.malware.enabled': false,
        'browser.safebrowsing.phishing.enabled': false,
        'datareporting.policy.dataSubmissionEnabled': false,
        'network.captive-portal-service.enabled': false,
      },
    });
    return new PuppeteerBrowser(browser);
  },
};
