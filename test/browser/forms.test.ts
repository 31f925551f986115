/**
 * Form errors as a person sees and hears them: the message beside the field it is about, the field
 * marked invalid and described by the message, the message announced, and what they typed kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { button, describedBy, field, launchChromium, screenshot, skipWithoutChromium, withVisit } from './chromium.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';

/** Fills and submits a form, and waits for the page that answers it. */
async function submit(page: Page, buttonName: string, username: string, password: string): Promise<number> {
  await page.locator(field('Username')).fill(username);
  await page.locator(field('Password')).fill(password);
  const [response] = await Promise.all([page.waitForNavigation(), page.locator(button(buttonName)).click()]);
  return response?.status() ?? 0;
}

/** What a sighted user and a screen-reader user each get from one field after a failed submit. */
async function fieldState(page: Page, id: 'username' | 'password') {
  const input = await page.$eval(`#${id}`, (element) => ({
    value: (element as HTMLInputElement).value,
    invalid: element.getAttribute('aria-invalid'),
    focused: element === document.activeElement,
  }));
  return { ...input, description: await describedBy(page, `#${id}`) };
}

/**
 * The error is announced (role=alert or aria-live), visible, and sits right under the input it is
 * about, inside that field's group: where the eye goes to fix it.
 */
async function assertShownBeside(page: Page, inputId: string, message: RegExp): Promise<void> {
  const inField = await page.$$(`#${inputId} ~ .error`); // the input's siblings: inside its field's group
  const texts = await Promise.all(inField.map((each) => each.evaluate((element) => element.textContent ?? '')));
  const matching = inField.filter((_, i) => message.test(texts[i]!));
  assert.equal(matching.length, 1, `one error matching ${message} in the field of #${inputId}`);
  const error = matching[0]!;
  assert.ok(await error.isVisible());
  const announced = await error.evaluate((element) => element.getAttribute('role') === 'alert' || element.closest('[aria-live]') !== null);
  assert.ok(announced, 'the error is announced to screen readers');
  const inputBox = await (await page.$(`#${inputId}`))!.boundingBox();
  const errorBox = await error.boundingBox();
  assert.ok(inputBox && errorBox);
  const gap = errorBox.y - (inputBox.y + inputBox.height);
  assert.ok(gap >= 0 && gap < 48, `the error is just below the field (gap ${gap}px)`);
}

describe('form errors in a browser', { skip: skipWithoutChromium(import.meta.url) }, () => {
  let server: InProcessServer;
  let browser: Browser;
  before(async () => {
    server = await startInProcess();
    browser = await launchChromium([server.ca]);
    await server.browser().signup('alice', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('a taken username is shown beside the username field, which keeps what was typed', async () => {
    await withVisit(browser, async ({ page, cookies }) => {
      await page.goto(`${server.origin}/`);
      // Usernames compare case-insensitively: "Alice" is alice's name.
      assert.equal(await submit(page, 'Sign up', 'Alice', PASSWORD), 409);

      assert.equal(page.url(), `${server.origin}/signup`);
      await assertShownBeside(page, 'username', /"Alice" is taken/);
      const username = await fieldState(page, 'username');
      assert.equal(username.value, 'Alice');
      assert.equal(username.invalid, 'true');
      assert.ok(username.description.some((text) => /is taken/.test(text)), `described by the error: ${username.description}`);
      assert.equal(username.focused, true, 'focus lands on the field to fix');
      assert.equal((await fieldState(page, 'password')).value, '', 'a password is never sent back');
      assert.deepEqual(await cookies(), []);
    });
  });

  test('a short password is shown beside the password field, and the username is kept', async () => {
    await withVisit(
      browser,
      async ({ page, cookies }) => {
        await page.goto(`${server.origin}/`);
        assert.equal(await submit(page, 'Sign up', 'newcomer', 'short'), 400);

        await assertShownBeside(page, 'password', /at least 8 characters/);
        const password = await fieldState(page, 'password');
        assert.equal(password.invalid, 'true');
        assert.ok(password.description.some((text) => /at least 8 characters/.test(text)), `described by the error: ${password.description}`);
        assert.equal(password.focused, true);
        assert.equal(password.value, '');
        const username = await fieldState(page, 'username');
        assert.equal(username.value, 'newcomer');
        assert.equal(username.invalid, null, 'the username was fine');
        assert.deepEqual(await cookies(), []);
        assert.equal((await server.running.services.users.findByName('newcomer')), undefined, 'no account was created');
        await screenshot(page, 'signup-error-phone');
      },
      { viewport: { width: 390, height: 640 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
    );
  });

  test('a wrong password is shown on the sign-in form, describing both fields, and the username is kept', async () => {
    await withVisit(browser, async ({ page, cookies }) => {
      await page.goto(`${server.origin}/login`);
      assert.equal(await submit(page, 'Sign in', 'alice', 'not the password'), 401);

      assert.equal(page.url(), `${server.origin}/login`);
      // One message for both fields: which of the two was wrong is not told (no account enumeration).
      for (const id of ['username', 'password'] as const) {
        const state = await fieldState(page, id);
        assert.equal(state.invalid, 'true', `#${id} is marked invalid`);
        assert.ok(state.description.includes('Wrong username or password'), `#${id} described by the error: ${state.description}`);
      }
      const alert = (await page.$('::-p-aria([role="alert"])'))!;
      assert.equal(await alert.evaluate((element) => element.textContent), 'Wrong username or password');
      assert.ok(await alert.isVisible());
      assert.equal((await fieldState(page, 'username')).value, 'alice');
      assert.equal((await fieldState(page, 'password')).value, '');
      assert.deepEqual(await cookies(), []);
      await screenshot(page, 'login-error');
    }, { viewport: { width: 720, height: 480 } });
  });
});
