/**
 * The live presence page (web/, served by the local stack at `/`) in a real
 * browser: Debian's Chromium driven by playwright-core, two users each on
 * their own page. One user's changes appear on the other's page, privacy
 * holds on the page too, and presence text is shown as text, never as HTML.
 * Screenshots are written to test-output/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { token, useStack } from '../support/e2e.ts';

const fx = useStack();
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = resolve(import.meta.dirname, '../../test-output');
// no background traffic: this machine's network is closed, and a test needs none
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  mkdirSync(OUT, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

async function signIn(userId: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${userId}: ${err.message}`));
  await page.goto(`${fx.stack.httpUrl}/`);
  await page.fill('#user', userId);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-connected="true"]');
  return page;
}

const card = (page: Page, userId: string) => page.locator(`.card[data-user="${userId}"]`);
const text = (page: Page, userId: string, part: string) => card(page, userId).locator(`.${part}`).textContent({ timeout: 5000 });

describe('live presence page', () => {
  it("shows one user's changes live on another user's page", async () => {
    const alice = await signIn('lp-alice');
    const bob = await signIn('lp-bob');
    await bob.fill('#subscribe-ids', 'lp-alice');
    await bob.click('#subscribe');
    await expect.poll(() => text(bob, 'lp-alice', 'status')).toBe('online');

    await alice.selectOption('#status', 'busy');
    await alice.fill('#custom', 'In a meeting');
    await alice.click('#custom-set');
    await expect.poll(() => text(bob, 'lp-alice', 'custom')).toBe('In a meeting');
    await expect.poll(() => text(bob, 'lp-alice', 'status')).toBe('busy');

    // a manual availability wins over the device's status
    await alice.selectOption('#availability', 'dnd');
    await expect.poll(() => text(bob, 'lp-alice', 'status')).toBe('dnd');
    await alice.screenshot({ path: resolve(OUT, 'live-page-alice.png'), fullPage: true });
    await bob.screenshot({ path: resolve(OUT, 'live-page-bob.png'), fullPage: true });

    // visibility: nobody → bob now sees her offline, without her custom status
    await alice.selectOption('#visibility', 'nobody');
    await expect.poll(() => text(bob, 'lp-alice', 'status')).toBe('offline');
    expect(await text(bob, 'lp-alice', 'custom')).toBe('');
    // her own page still shows her as she is
    expect(await text(alice, 'lp-alice', 'status')).toBe('dnd');
    // a change she makes elsewhere (an HTTP call from another device) reaches her own page too
    expect((await fx.call('PATCH', '/v1/me/presence', token('lp-alice'), { customStatus: 'from my phone', visibility: 'everyone' })).status).toBe(200);
    await expect.poll(() => text(alice, 'lp-alice', 'custom')).toBe('from my phone');
    await expect.poll(() => alice.inputValue('#visibility')).toBe('everyone');
    await expect.poll(() => text(bob, 'lp-alice', 'custom')).toBe('from my phone');
    expect(pageErrors).toEqual([]);
  });

  it('lists friends when listening to them and shows presence text as text, not HTML', async () => {
    const sys = token('lp-sys', 'presence:sys');
    expect((await fx.call('PUT', '/v1/sys/users/lp-carol/friends/lp-dave', sys)).status).toBeLessThan(300);
    const dave = await signIn('lp-dave');
    const carol = await signIn('lp-carol');
    await carol.click('#listen-friends');
    await expect.poll(() => text(carol, 'lp-dave', 'status')).toBe('online');

    const hostile = '<img src=x onerror="document.title=\'pwned\'">';
    await dave.fill('#custom', hostile);
    await dave.click('#custom-set');
    await expect.poll(() => text(carol, 'lp-dave', 'custom')).toBe(hostile);
    expect(await card(carol, 'lp-dave').locator('img').count()).toBe(0);
    expect(await carol.title()).not.toBe('pwned');
    expect(pageErrors).toEqual([]);
  });

  it('explains a refused sign-in and a refused action on the page instead of failing silently', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${fx.stack.httpUrl}/`);
    await page.fill('#user', 'lp-mallory');
    await page.fill('#token', 'not.a.token');
    await page.click('#signin-button');
    await expect.poll(() => page.locator('#error').textContent(), { timeout: 10_000 }).toMatch(/Could not connect/);
    expect(await page.isEnabled('#signin-button')).toBe(true); // one can try again

    const erin = await signIn('lp-erin');
    await erin.fill('#group-id', 'lp-no-such-group');
    await erin.click('#listen-group');
    await expect.poll(() => erin.locator('#error').textContent()).toMatch(/\S/);
  });

  it('issues page tokens only for valid user ids, as JSON, to loopback pages', async () => {
    const ask = (body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: any }>((ok, fail) => {
        const req = request(`${fx.stack.httpUrl}/__local/token`, { method: 'POST', headers }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => ok({ status: res.statusCode as number, body: JSON.parse(text) }));
        });
        req.on('error', fail);
        req.end(body);
      });
    const json = { 'content-type': 'application/json' };
    const ok = await ask(JSON.stringify({ userId: 'lp-frank' }), json);
    expect(ok.status).toBe(200);
    expect((await fx.call('GET', '/v1/me/presence', ok.body.token)).body).toMatchObject({ userId: 'lp-frank' });
    expect(await ask(JSON.stringify({ userId: 'no spaces allowed' }), json)).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(await ask('userId=lp-frank', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ status: 400 });
    // a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing
    expect(await ask(JSON.stringify({ userId: 'lp-frank' }), { ...json, host: 'evil.example:3000' })).toMatchObject({
      status: 403,
      body: { error: 'forbidden' },
    });
  });
});
