/**
 * The web UI in a real browser: Debian's chromium driven by playwright-core
 * against the real app (Dcplane.start: database, auth, API, WebSocket) serving
 * the built UI (dist/ui, `npm run build:ui`). Every page visited is saved
 * under test-artifacts/ui/ for people to look at.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Dcplane } from '../../src/app.js';
import { totpCodeAt } from '../../src/auth/totp.js';
import { applyDefaults } from '../../src/config/defaults.js';
import { defaultUiRoot } from '../../src/http/ui-static.js';
import { freeTcpPort } from '../helpers/app-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_PASSWORD = 'correct horse battery staple 42';
const VIEWER_PASSWORD = 'viewer passphrase for the ui test';
const OTP_USER_PASSWORD = 'operator with a second factor';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
const UI_BUILT = existsSync(join(defaultUiRoot(), 'index.html'));

// Without chromium: CI must fail (the UI would go untested); elsewhere skip, and say so.
let skip: string | false = false;
if (!existsSync(CHROMIUM)) {
  if (process.env['CI'] === 'true') throw new Error(`${CHROMIUM} is missing: the browser tests cannot run (scripts/install-deps.sh installs Debian's chromium)`);
  skip = `SKIPPED: ${CHROMIUM} is missing; install it (apt-get install chromium, or scripts/install-deps.sh) to run the browser tests`;
  console.warn(`\n*** ui.test: ${skip} ***\n`);
}
if (skip === false && !UI_BUILT) throw new Error(`the web UI is not built (${defaultUiRoot()} has no index.html): run npm run build:ui first`);

async function shot(page: Page, name: string): Promise<void> {
  // A full-page capture of a scrolled page draws the sticky header over the middle; capture from the top.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function apiJson(base: string, path: string, token: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(base + path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function logIn(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

describe('web UI in chromium', { skip }, () => {
  let dir: string;
  let app: Dcplane;
  let base: string;
  let adminToken: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const saved = process.env['DCPLANE_ADMIN_PASSWORD'];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'dcplane-ui-'));
    process.env['DCPLANE_ADMIN_PASSWORD'] = ADMIN_PASSWORD;
    const port = await freeTcpPort();
    app = await Dcplane.start(applyDefaults({ data_dir: join(dir, 'data'), api: { listen: `127.0.0.1:${port}` } }), pino({ level: 'silent' }));
    base = `http://127.0.0.1:${port}`;
    const tok = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    adminToken = ((await tok.json()) as { access_token: string }).access_token;
    const viewer = await apiJson(base, '/api/v1/users', adminToken, { method: 'POST', body: { username: 'vera', password: VIEWER_PASSWORD, role: 'viewer' } });
    assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    // npm test runs every file at once on small CI machines: waits get room (a bound on waiting, not a timed assertion).
    ctx.setDefaultTimeout(60_000);
    page = await ctx.newPage();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    if (saved === undefined) delete process.env['DCPLANE_ADMIN_PASSWORD'];
    else process.env['DCPLANE_ADMIN_PASSWORD'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with username and password and shows the dashboard with a live event stream', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('Username').waitFor();
    await shot(page, '01-login');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not log in' }).waitFor();
    await shot(page, '02-login-refused');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const header = page.locator('header');
    assert.equal(await header.locator('.user-name').textContent(), 'admin');
    assert.equal((await header.locator('.role').textContent())?.trim(), 'admin');
    // The WebSocket authenticated with the access token and said hello.
    await header.locator('.live-live').waitFor();
    await page.getByText('No inventory yet').waitFor();
    await shot(page, '03-dashboard-empty');
  });

  it('creates a datacenter, a rack and a server through the forms', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Datacenters' }).click();
    await page.getByText('No datacenters yet').waitFor();
    await shot(page, '04-datacenters-empty');
    await page.getByRole('link', { name: 'Add datacenter' }).first().click();
    await page.getByLabel('Name').fill('Frankfurt 1');
    await page.getByLabel('Code').fill('fra1');
    await page.getByLabel('Tier').fill('3');
    await page.getByLabel('Power capacity (kW)').fill('1200');
    await shot(page, '05-datacenter-form');
    await page.getByRole('button', { name: 'Create datacenter' }).click();
    await page.getByRole('heading', { name: /Frankfurt 1/, level: 1 }).waitFor();
    await shot(page, '06-datacenter-detail');

    // From the datacenter's page: its "Add rack" presets the datacenter.
    await page.getByRole('link', { name: 'Add rack' }).click();
    await page.getByRole('heading', { name: 'Add rack', level: 1 }).waitFor();
    const dcs = await apiJson(base, '/api/v1/datacenters?code=fra1', adminToken);
    const dcId = (dcs.body['results'] as { id: number }[])[0]?.id;
    assert.ok(dcId !== undefined);
    // The picker shows the preset once its options have loaded.
    await page.waitForFunction((id) => document.querySelector<HTMLSelectElement>('select[name="datacenter_id"]')?.value === id, String(dcId));
    await page.getByLabel('Name').fill('R01');
    await page.getByLabel('Row').fill('A');
    await page.getByLabel('Power capacity (kW)').fill('12');
    await page.getByRole('button', { name: 'Create rack' }).click();
    await page.getByRole('heading', { name: /R01/, level: 1 }).waitFor();
    await shot(page, '07-rack-detail');

    await page.getByRole('link', { name: 'Add server' }).click();
    await page.getByLabel('Name').fill('web-01');
    await page.getByLabel('U position').fill('10');
    await page.getByLabel('Height (U)').fill('2');
    await page.getByLabel('Serial').fill('SN-WEB-01');
    await page.getByLabel('PSU (W)').fill('750');
    await page.getByLabel('Status').selectOption('active');
    await shot(page, '08-server-form');
    await page.getByRole('button', { name: 'Create server' }).click();
    await page.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
    await page.getByRole('heading', { name: /Interfaces/ }).waitFor();
    await shot(page, '09-server-detail');

    const servers = await apiJson(base, '/api/v1/servers?name=web-01', adminToken);
    const s = (servers.body['results'] as Record<string, unknown>[])[0];
    assert.equal(s?.['u_position'], 10);
    assert.equal(s?.['u_size'], 2);
    assert.equal(s?.['status'], 'active');
    const racks = await apiJson(base, '/api/v1/racks?name=R01', adminToken);
    assert.equal(s?.['rack_id'], (racks.body['results'] as { id: number }[])[0]?.id);
  });

  it('shows the server\'s refusal of an overlapping U next to the U position field', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Servers' }).click();
    await page.getByRole('link', { name: 'web-01' }).waitFor();
    await shot(page, '10-servers-list');
    await page.getByRole('link', { name: 'Add server' }).click();
    await page.getByLabel('Name').fill('web-02');
    await page.getByLabel('Rack').selectOption({ label: 'R01' });
    await page.getByLabel('U position').fill('11');
    await page.getByRole('button', { name: 'Create server' }).click();
    const field = page.locator('.field', { has: page.getByLabel('U position') });
    const error = field.locator('.field-error');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /overlaps server "web-01"/);
    assert.equal(await page.getByLabel('U position').getAttribute('aria-invalid'), 'true');
    // The error is announced with the field, and the keyboard lands on it.
    const describedBy = (await page.getByLabel('U position').getAttribute('aria-describedby')) ?? '';
    assert.ok(describedBy.split(' ').includes((await error.getAttribute('id')) ?? '-'));
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'u_position');
    await shot(page, '11-server-overlap-error');
    const none = await apiJson(base, '/api/v1/servers?name=web-02', adminToken);
    assert.equal(none.body['count'], 0);
  });

  it('lists the inventory changes it made as live events on the dashboard (from the WebSocket)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    const events = page.locator('ol.events');
    await events.locator('li', { hasText: 'Server create' }).filter({ hasText: 'web-01' }).waitFor();
    await events.locator('li', { hasText: 'Rack create' }).filter({ hasText: 'R01' }).waitFor();
    await events.locator('li', { hasText: 'Datacenter create' }).filter({ hasText: 'Frankfurt 1' }).waitFor();
    await page.locator('.kpi', { hasText: 'Racks' }).locator('.kpi-value', { hasText: '1' }).waitFor();
    await shot(page, '11b-dashboard-live-events');
    await events.getByRole('link', { name: 'web-01' }).click();
    await page.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
  });

  it('keeps the session across a reload, on the same page', async () => {
    await page.goto(`${base}/servers?q=web`);
    await page.getByRole('link', { name: 'web-01' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Servers', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'web-01' }).waitFor();
    assert.equal(await page.getByRole('searchbox', { name: 'Search' }).inputValue(), 'web');
    assert.equal(await page.locator('header .user-name').textContent(), 'admin');
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.locator('.kpi', { hasText: 'Servers' }).locator('.kpi-value', { hasText: '1' }).waitFor();
    await shot(page, '12-dashboard-after-reload');
    // A large monitor: the same pages at 2560 px.
    await page.setViewportSize({ width: 2560, height: 1440 });
    await shot(page, '12b-dashboard-2560');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Servers' }).click();
    await page.getByRole('link', { name: 'web-01' }).waitFor();
    await shot(page, '12c-servers-2560');
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  it('refreshes the tokens once on a 401 for an expired access token and retries the call', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const before = await page.evaluate(() => sessionStorage.getItem('dcplane.refresh_token'));
    // The next servers list answers as the server does for an access token past its 15 minutes.
    // Waiting for the refresh starts before the 401 is armed: on a slow host the refresh could otherwise
    // finish before the wait begins, and the wait would never end.
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.status() === 200);
    let refused = 0;
    await page.route(
      /\/api\/v1\/servers\?/,
      async (route) => {
        refused++;
        await route.fulfill({ status: 401, contentType: 'application/json', body: JSON.stringify({ code: 'AUTH_ERR_TOKEN_EXPIRED', message: 'token expired', errors: [] }) });
      },
      { times: 1 },
    );
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Servers' }).click();
    await refreshed;
    await page.getByRole('link', { name: 'web-01' }).waitFor();
    assert.equal(refused, 1);
    const after = await page.evaluate(() => sessionStorage.getItem('dcplane.refresh_token'));
    assert.ok(after !== null && after !== before, 'the spent refresh token was replaced');
    assert.equal(await page.locator('header .user-name').textContent(), 'admin');
  });

  it('shows a viewer no edit buttons (and the server refuses the write anyway)', async () => {
    const vctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    vctx.setDefaultTimeout(60_000);
    const vp = await vctx.newPage();
    try {
      await logIn(vp, base, 'vera', VIEWER_PASSWORD);
      assert.equal((await vp.locator('header .role').textContent())?.trim(), 'viewer');
      await vp.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Servers' }).click();
      await vp.getByRole('link', { name: 'web-01' }).waitFor();
      assert.equal(await vp.getByRole('link', { name: /^Add / }).count(), 0);
      await shot(vp, '13-viewer-servers');
      await vp.getByRole('link', { name: 'web-01' }).click();
      await vp.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
      await vp.getByRole('heading', { name: /Interfaces/ }).waitFor();
      assert.equal(await vp.getByRole('link', { name: 'Edit' }).count(), 0);
      assert.equal(await vp.getByRole('button', { name: 'Delete' }).count(), 0);
      assert.equal(await vp.getByRole('link', { name: /^Add / }).count(), 0);
      await shot(vp, '14-viewer-server-detail');
      await vp.goto(`${base}/servers/new`);
      await vp.getByText('Your role cannot change this').waitFor();
      await shot(vp, '15-viewer-new-server-refused');
      const token = await vp.evaluate(async () => {
        const r = await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: sessionStorage.getItem('dcplane.refresh_token') }) });
        const pair = (await r.json()) as { access_token: string; refresh_token: string };
        sessionStorage.setItem('dcplane.refresh_token', pair.refresh_token);
        return pair.access_token;
      });
      const refused = await apiJson(base, '/api/v1/servers', token, { method: 'POST', body: { name: 'sneaky' } });
      assert.equal(refused.status, 403);
      assert.equal(refused.body['code'], 'AUTH_ERR_FORBIDDEN');
    } finally {
      await vctx.close();
    }
  });

  it('asks for the one-time code when the account has TOTP on, and logs in with it', async () => {
    assert.equal((await apiJson(base, '/api/v1/users', adminToken, { method: 'POST', body: { username: 'otto', password: OTP_USER_PASSWORD, role: 'operator' } })).status, 201);
    const login = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'otto', password: OTP_USER_PASSWORD }) });
    const ottoToken = ((await login.json()) as { access_token: string }).access_token;
    const enrol = await apiJson(base, '/api/v1/auth/totp/enrol', ottoToken, { method: 'POST', body: {} });
    assert.equal(enrol.status, 200, JSON.stringify(enrol.body));
    const secret = String(enrol.body['secret']);
    assert.equal((await apiJson(base, '/api/v1/auth/totp/confirm', ottoToken, { method: 'POST', body: { otp: totpCodeAt(secret, new Date()) } })).status, 204);

    const octx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    octx.setDefaultTimeout(60_000);
    const op = await octx.newPage();
    try {
      await op.goto(`${base}/`);
      await op.getByLabel('Username').fill('otto');
      await op.getByLabel('Password').fill(OTP_USER_PASSWORD);
      await op.getByRole('button', { name: 'Log in' }).click();
      const code = op.getByLabel('One-time code');
      await code.waitFor();
      await op.waitForFunction(() => document.activeElement?.getAttribute('name') === 'otp');
      await shot(op, '16-login-one-time-code');
      // The next step's code: the confirmation spent this step's (a replay is refused), and ±1 step is accepted.
      await code.fill(totpCodeAt(secret, new Date(Date.now() + 30_000)));
      await op.getByRole('button', { name: 'Verify and log in' }).click();
      await op.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
      assert.equal((await op.locator('header .role').textContent())?.trim(), 'operator');
    } finally {
      await octx.close();
    }
  });

  it('logs out: the login page comes back, a reload stays logged out, and the refresh token is revoked', async () => {
    const refresh = await page.evaluate(() => sessionStorage.getItem('dcplane.refresh_token'));
    assert.ok(refresh !== null && refresh !== '');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor();
    await page.getByText('You have logged out.').waitFor();
    await shot(page, '17-logged-out');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dcplane.refresh_token')), null);
    await page.reload();
    await page.getByLabel('Username').waitFor();
    const r = await fetch(`${base}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: refresh }) });
    assert.equal(r.status, 401);
  });
});
