/**
 * The operations half of the web UI in a real browser: rack elevations and
 * the datacenter floor, DHCP subnets/leases/reservations, TFTP transfers,
 * the audit log and user administration.
 *
 * The real app (test/helpers/app-in-netns.ts: Dcplane.start) serves DHCP and
 * TFTP on eth1 of a namespace of its own; Debian's chromium runs in that same
 * namespace (playwright-core talks to it over pipes, which cross namespaces),
 * so it reaches the API on the namespace's loopback; udhcpc and tftp-hpa run
 * in a client namespace on the other end of the veth. Every page visited is
 * saved under test-artifacts/ui/ops-*.png.
 */
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { defaultUiRoot } from '../../src/http/ui-static.js';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import { createTopology, netnsSkipReason, nodeArgsFor, randomMac } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { tftpHpaGet } from '../helpers/tftp-clients.js';

const CHROMIUM = '/usr/bin/chromium';
const NET = '10.91.23';
const ADMIN_PASSWORD = randomBytes(18).toString('base64url');
const VIEWER_PASSWORD = 'viewer passphrase, ops pages';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
const APP_URL = new URL(`../helpers/app-in-netns.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
/** The app's port on the namespace's own loopback (nothing else listens there). */
const API_PORT = 18080;
const BASE = `http://127.0.0.1:${API_PORT}`;

function skipReason(): string | false {
  const ns = netnsSkipReason();
  if (ns !== false) return ns;
  if (!existsSync(CHROMIUM)) {
    if (process.env['CI'] === 'true') throw new Error(`${CHROMIUM} is missing: the browser tests cannot run (scripts/install-deps.sh installs Debian's chromium)`);
    return `SKIPPED: ${CHROMIUM} is missing`;
  }
  if (!existsSync(join(defaultUiRoot(), 'index.html'))) throw new Error(`the web UI is not built (${defaultUiRoot()}): run npm run build:ui first`);
  return false;
}

async function snap(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, `ops-${name}.png`), fullPage: true });
}

/** The app process in the server namespace; stopped over IPC. */
function startApp(topo: Topology, config: object): { child: ChildProcess; ready: Promise<void>; stderr: () => string } {
  const child = topo.spawn('srv', process.execPath, [...nodeArgsFor(APP_URL), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, DCPLANE_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`app exited (${code}) before it was ready:\n${err}`)));
    child.on('message', (m) => (m as { ready?: boolean }).ready === true && resolve());
  });
  return { child, ready, stderr: () => err };
}

/** An API call made by the page itself (it is in the app's namespace), with a token of its own. */
async function apiCall<T = Record<string, unknown>>(page: Page, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  return page.evaluate(
    async ([m, p, t, b]) => {
      const r = await fetch(p, { method: m, headers: { authorization: `Bearer ${t}`, ...(b === undefined ? {} : { 'content-type': 'application/json' }) }, ...(b === undefined ? {} : { body: JSON.stringify(b) }) });
      const text = await r.text();
      return { status: r.status, body: (text === '' ? {} : JSON.parse(text)) as T };
    },
    [method, path, token, body] as const,
  );
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${BASE}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

describe('web UI operations pages in chromium (app, DHCP and TFTP in a namespace)', { skip: skipReason() }, () => {
  let topo: Topology;
  let app: ReturnType<typeof startApp>;
  let dir: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let token: string;
  let rackId: number;
  let serverId: number;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'dcplane-ui-ops-'));
    mkdirSync(join(dir, 'tftp'));
    writeFileSync(join(dir, 'tftp', 'pxelinux.0'), randomBytes(300_000));
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'lan', a: { ns: 'srv', name: 'eth1', cidr: `${NET}.1/24` }, b: { ns: 'cli', name: 'eth1' } }],
    });
    app = startApp(topo, {
      data_dir: join(dir, 'data'),
      api: { listen: `127.0.0.1:${API_PORT}` },
      dhcp: { enabled: true, interfaces: ['eth1'], subnets: [{ id: 1, subnet: `${NET}.0/24`, pools: [`${NET}.100-${NET}.199`], routers: [`${NET}.1`], lease_time: 3600 }] },
      tftp: { enabled: true, root: join(dir, 'tftp') },
    });
    await app.ready;
    // Chromium in the server's namespace: `ip netns exec` keeps the pipes playwright speaks over.
    const wrapper = join(dir, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${topo.netns('srv')} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    browser = await chromium.launch({ executablePath: wrapper, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await ctx.newPage();
    await page.goto(`${BASE}/`);
    token = await page.evaluate(async (pw) => {
      const r = await fetch('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: pw }) });
      return ((await r.json()) as { access_token: string }).access_token;
    }, ADMIN_PASSWORD);
    await signIn(page, 'admin', ADMIN_PASSWORD);
  });

  after(async () => {
    await browser?.close();
    if (app !== undefined && app.child.exitCode === null) {
      const exited = new Promise((resolve) => app.child.once('exit', resolve));
      app.child.send({ kind: 'stop' });
      await exited;
    }
    await topo?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('draws a server created through the UI in its rack elevation, and a click or Enter opens a device', async () => {
    const dc = await apiCall<{ id: number }>(page, token, 'POST', '/api/v1/datacenters', { name: 'Berlin 2', code: 'ber2', tier: 3, power_capacity_kw: 800 });
    assert.equal(dc.status, 201);
    const racks: { id: number }[] = [];
    for (const [name, pos] of [['A01', 1], ['A02', 2], ['A03', 3]] as const) {
      const r = await apiCall<{ id: number }>(page, token, 'POST', '/api/v1/racks', { datacenter_id: dc.body.id, name, row: 'A', position: pos, u_height: 42, power_capacity_kw: 10 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      racks.push(r.body);
    }
    rackId = racks[0]!.id;
    const writes: [string, Record<string, unknown>][] = [
      ['network/devices', { name: 'leaf-a01', role: 'access_switch', rack_id: rackId, u_position: 42, u_size: 1, power_w: 350, status: 'active' }],
      ['storage', { name: 'nas-a01', type: 'nas', datacenter_id: dc.body.id, rack_id: rackId, u_position: 1, u_size: 4, power_w: 900, capacity_tb: 200, status: 'active' }],
      ['servers', { name: 'db-01', rack_id: rackId, u_position: 20, u_size: 2, power_supply_w: 1100, status: 'maintenance' }],
      ['servers', { name: 'gpu-01', rack_id: racks[1]!.id, u_position: 5, u_size: 4, power_supply_w: 3000, status: 'provisioning', type: 'gpu' }],
      ['servers', { name: 'spare-01', rack_id: racks[1]!.id, power_supply_w: 500, status: 'planned' }],
    ];
    for (const [path, body] of writes) {
      const r = await apiCall(page, token, 'POST', `/api/v1/${path}`, body);
      assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.body)}`);
    }

    await nav(page).getByRole('link', { name: 'Racks' }).click();
    await page.getByRole('heading', { name: 'Racks', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'A01', exact: true }).click();
    await page.getByRole('heading', { name: /A01/, level: 1 }).waitFor();
    const elevation = page.getByRole('group', { name: 'Front view of rack A01, 42U' });
    await elevation.waitFor();
    await elevation.getByRole('link', { name: /^leaf-a01/ }).waitFor();
    await snap(page, '01-rack-before');

    // The server goes in through the rack's own "Add server" form.
    await page.getByRole('link', { name: 'Add server' }).click();
    await page.getByLabel('Name').fill('web-01');
    await page.getByLabel('U position').fill('10');
    await page.getByLabel('Height (U)').fill('2');
    await page.getByLabel('PSU (W)').fill('750');
    await page.getByLabel('Status').selectOption('active');
    await page.getByRole('button', { name: 'Create server' }).click();
    await page.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
    serverId = Number(new URL(page.url()).pathname.split('/').pop());
    assert.ok(serverId > 0);
    await page.getByRole('link', { name: 'A01', exact: true }).first().click();
    await page.getByRole('heading', { name: /A01/, level: 1 }).waitFor();
    const web = elevation.getByRole('link', { name: /^web-01, server/ });
    await web.waitFor();
    assert.match((await web.getAttribute('aria-label')) ?? '', /U10–U11, 2U, Active/);
    // Its rectangle spans two U and sits where U10-U11 are: above nas-a01 (U1-U4), below db-01 (U20-U21).
    const box = (name: RegExp) => elevation.getByRole('link', { name }).locator('rect.rack-dev-body').boundingBox();
    const [w, nas, db] = [await box(/^web-01/), await box(/^nas-a01/), await box(/^db-01/)];
    assert.ok(w !== null && nas !== null && db !== null);
    assert.ok(Math.abs(w.height * 2 - nas.height) < 3, `2U is half of 4U: ${w.height} vs ${nas.height}`);
    assert.ok(w.y < nas.y && w.y > db.y, 'U numbers grow upwards');
    await page.getByText('9 of 42 U used, 33 U free').waitFor();
    await page.getByText('3.1 of 10.0 kW (31%)').waitFor();
    await snap(page, '02-rack-elevation');

    await web.click();
    await page.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/servers/${serverId}`);

    // Keyboard: Tab reaches the devices, Enter opens one.
    await page.goBack();
    await elevation.getByRole('link', { name: /^leaf-a01/ }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /leaf-a01/, level: 1 }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/network-devices\/\d+$/);

    // A server racked elsewhere (the API here) appears in an open elevation without a reload.
    await page.goBack();
    await elevation.getByRole('link', { name: /^web-01/ }).waitFor();
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
    const added = await apiCall(page, token, 'POST', '/api/v1/servers', { name: 'live-01', rack_id: rackId, u_position: 30, u_size: 1, status: 'planned' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await elevation.getByRole('link', { name: /^live-01, server \(Physical\), U30, 1U, Planned/ }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true);
  });

  it('shows a datacenter with its racks side by side, each with its U and power use', async () => {
    await nav(page).getByRole('link', { name: 'Datacenters' }).click();
    await page.getByRole('link', { name: 'Berlin 2' }).click();
    await page.getByRole('heading', { name: /Berlin 2/, level: 1 }).waitFor();
    for (const name of ['A01', 'A02', 'A03']) await page.getByRole('article', { name: `Rack ${name}` }).waitFor();
    await page.getByRole('article', { name: 'Rack A01' }).getByText('U 10/42').waitFor();
    await page.getByRole('article', { name: 'Rack A02' }).getByText('3.5/10.0 kW').waitFor();
    await page.getByRole('article', { name: 'Rack A03' }).getByText('U 0/42').waitFor();
    // Side by side: the same top, growing x.
    const xs = await Promise.all(['A01', 'A02', 'A03'].map(async (n) => (await page.getByRole('article', { name: `Rack ${n}` }).boundingBox())!));
    assert.ok(xs[0]!.x < xs[1]!.x && xs[1]!.x < xs[2]!.x && Math.abs(xs[0]!.y - xs[2]!.y) < 1);
    await snap(page, '03-datacenter-floor');
    await page.getByRole('article', { name: 'Rack A02' }).getByRole('link', { name: /^gpu-01/ }).click();
    await page.getByRole('heading', { name: /gpu-01/, level: 1 }).waitFor();
  });

  it('shows a lease live on the leases page when a client in the test network gets one, and the pool use on the subnets page', async () => {
    await nav(page).getByRole('link', { name: 'Leases' }).click();
    await page.getByRole('heading', { name: 'DHCP leases', level: 1 }).waitFor();
    await page.getByText('No leases yet').waitFor();
    await page.locator('header .live-live').waitFor();
    await snap(page, '04-leases-empty');
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

    const mac = randomMac();
    const r = await runUdhcpc(topo, 'cli', 'eth1', { mac, hostname: 'pxe-07' });
    const ip = r.lease?.ip;
    assert.ok(ip !== undefined && ip.startsWith(`${NET}.`), r.output);
    const row = page.locator(`tr[data-ip="${ip}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(`Active.*${mac}.*pxe-07.*not in inventory`));
    // No reload: the row came from the WebSocket's lease event.
    assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true);
    await page.locator('ol.events li', { hasText: 'DHCP ack' }).filter({ hasText: ip }).waitFor();
    await snap(page, '05-leases-live');

    await nav(page).getByRole('link', { name: 'Subnets' }).click();
    await page.getByRole('heading', { name: 'DHCP subnets', level: 1 }).waitFor();
    await page.getByText(/: 1 of 100 leased \(1%\)/).waitFor();
    await snap(page, '06-subnets');
  });

  it('marks a reservation derived from a server and links it to the server', async () => {
    const nic = await apiCall(page, token, 'POST', '/api/v1/server-interfaces', { server_id: serverId, name: 'eth0', mac: randomMac(), ip: `${NET}.20`, is_primary: true });
    assert.equal(nic.status, 201, JSON.stringify(nic.body));
    const manual = await apiCall(page, token, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 1, mac: randomMac(), ip: `${NET}.30`, hostname: 'ipmi-sw1' });
    assert.equal(manual.status, 201, JSON.stringify(manual.body));
    await nav(page).getByRole('link', { name: 'Reservations' }).click();
    await page.getByRole('heading', { name: 'DHCP reservations', level: 1 }).waitFor();
    const derived = page.getByRole('row', { name: new RegExp(`${NET}\\.20`) });
    await derived.getByText('From server').waitFor();
    await page.getByRole('row', { name: new RegExp(`${NET}\\.30`) }).getByText('Manual').waitFor();
    await snap(page, '07-reservations');
    await derived.getByRole('link', { name: 'web-01' }).click();
    await page.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
  });

  it('lists TFTP transfers as they happen: a completed one and a refused one', async () => {
    await nav(page).getByRole('link', { name: 'TFTP transfers' }).click();
    await page.getByRole('heading', { name: 'TFTP transfers', level: 1 }).waitFor();
    await page.getByText('No transfers yet').waitFor();
    // udhcpc above did not configure the client's interface; tftp-hpa needs an address to send from.
    await topo.exec('cli', 'ip', ['addr', 'add', `${NET}.2/24`, 'dev', 'eth1']);
    const out = join(dir, 'got');
    const ok = await tftpHpaGet({ netns: topo.netns('cli'), server: `${NET}.1` }, 'pxelinux.0', out);
    assert.ok(ok.ok && statSync(out).size === 300_000, ok.output);
    const missing = await tftpHpaGet({ netns: topo.netns('cli'), server: `${NET}.1` }, 'no-such-file.efi', out);
    assert.match(missing.output, /Error code 1/, missing.output);
    await page.locator('tr[data-file="pxelinux.0"]', { hasText: 'Completed' }).waitFor();
    await page.locator('tr[data-file="no-such-file.efi"]', { hasText: /Failed|Refused/ }).waitFor();
    assert.match((await page.locator('tr[data-file="pxelinux.0"]').textContent()) ?? '', /293 KiB/);
    await snap(page, '08-tftp');
  });

  it('shows the writes in the audit log, filtered, with what changed', async () => {
    const patch = await apiCall(page, token, 'PATCH', `/api/v1/servers/${serverId}`, { status: 'maintenance', description: 'fan swap' });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    await nav(page).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    await page.getByRole('row', { name: /Create.*Server web-01/ }).waitFor();
    await page.getByRole('row', { name: /Create.*Network device leaf-a01/ }).waitFor();
    await snap(page, '09-audit');
    await page.getByLabel('Object type').selectOption('server');
    await page.getByLabel('Action').selectOption('update');
    const upd = page.getByRole('row', { name: /Update.*Server web-01/ });
    await upd.waitFor();
    await page.getByRole('row', { name: /Create/ }).first().waitFor({ state: 'detached' });
    await upd.getByRole('button', { name: 'Before / after' }).click();
    const diff = page.locator('table.diff');
    await diff.getByRole('row', { name: /status\s+active\s+maintenance/ }).waitFor();
    await diff.getByRole('row', { name: /description\s+null\s+fan swap/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /u_position/ }).count(), 0, 'unchanged fields are folded away');
    await snap(page, '10-audit-diff');
    // A time window after every entry: nothing matches, and the page says how to get them back.
    await page.getByLabel('From').fill('2099-01-01T00:00');
    await page.getByText('No entries match').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('row', { name: /Create.*Rack A01/ }).waitFor();
  });

  it('lets an admin create, scope, reset and unlock users; a viewer sees no user admin or audit log', async () => {
    const tenant = await apiCall(page, token, 'POST', '/api/v1/tenants', { name: 'Blue team', slug: 'blue' });
    assert.equal(tenant.status, 201);
    await nav(page).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Add user' }).click();
    await page.getByLabel('Username').fill('olga');
    await page.getByLabel('Password').fill('short');
    await page.getByLabel('Role').selectOption('operator');
    await page.getByRole('checkbox', { name: 'Blue team' }).check();
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('.field-error', { hasText: /at least 12 characters/ }).waitFor();
    await snap(page, '11-user-form-refused');
    await page.getByLabel('Password').fill('olga has a long passphrase');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { name: /olga/, level: 1 }).waitFor();
    const olga = await apiCall<{ results: { role: string; tenant_ids: number[] }[] }>(page, token, 'GET', '/api/v1/users?username=olga');
    assert.equal(olga.body.results[0]?.role, 'operator');
    assert.deepEqual(olga.body.results[0]?.tenant_ids, [(tenant.body as { id: number }).id]);
    await page.getByLabel('New password').fill('a new passphrase for olga');
    await page.getByLabel('Repeat it').fill('a new passphrase for olga');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('A new password is set for olga').waitFor();
    await page.getByText('Only Blue team').waitFor();
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit user', level: 1 }).waitFor();
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('checkbox', { name: 'Blue team' }).uncheck();
    await snap(page, '12a-user-edit');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Every tenant').waitFor();
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByText('olga is disabled and signed out everywhere.').waitFor();
    await page.getByRole('button', { name: 'Enable account' }).waitFor();
    const edited = await apiCall<{ results: { role: string; tenant_ids: number[]; is_active: boolean }[] }>(page, token, 'GET', '/api/v1/users?username=olga');
    assert.deepEqual(edited.body.results.map((u) => [u.role, u.tenant_ids, u.is_active]), [['viewer', [], false]]);
    await snap(page, '12-user-detail');

    // A viewer who mistyped their password: the admin sees it and unlocks.
    const vic = await apiCall<{ id: number }>(page, token, 'POST', '/api/v1/users', { username: 'vic', password: VIEWER_PASSWORD, role: 'viewer' });
    assert.equal(vic.status, 201);
    const bad = await page.evaluate(async () => (await fetch('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'vic', password: 'wrong wrong wrong' }) })).status);
    assert.equal(bad, 401);
    await page.goto(`${BASE}/users/${vic.body.id}`);
    await page.getByText('1 failed login').waitFor();
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText('vic is unlocked.').waitFor();
    const unlocked = await apiCall<{ failed_logins: number }>(page, token, 'GET', `/api/v1/users/${vic.body.id}`);
    assert.equal(unlocked.body.failed_logins, 0, JSON.stringify(unlocked.body));
    await page.getByText('1 failed login').waitFor({ state: 'detached' });
    await snap(page, '13-user-unlocked');
    await nav(page).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'olga' }).waitFor();
    await snap(page, '13b-users');
    await nav(page).getByRole('link', { name: 'Boot profiles' }).click();
    await page.getByRole('link', { name: 'local' }).waitFor();
    await snap(page, '13c-boot-profiles');

    const vctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const vp = await vctx.newPage();
    try {
      await signIn(vp, 'vic', VIEWER_PASSWORD);
      await nav(vp).getByRole('link', { name: 'Leases' }).waitFor();
      assert.equal(await nav(vp).getByRole('link', { name: 'Users' }).count(), 0);
      assert.equal(await nav(vp).getByRole('link', { name: 'Audit log' }).count(), 0);
      await snap(vp, '14-viewer-nav');
      await vp.goto(`${BASE}/users`);
      await vp.getByText('Your role cannot see users').waitFor();
      assert.equal(await vp.getByRole('link', { name: 'Add user' }).count(), 0);
      await snap(vp, '15-viewer-users-refused');
      await vp.goto(`${BASE}/audit`);
      await vp.getByText('Only administrators read the audit log').waitFor();
      await snap(vp, '16-viewer-audit-refused');
      // The rack page has no edit controls for a viewer, but the elevation still opens devices.
      await vp.goto(`${BASE}/racks/${rackId}`);
      await vp.getByRole('link', { name: /^web-01, server/ }).waitFor();
      await snap(vp, '17-viewer-rack-laptop-width');
      await vp.getByRole('link', { name: /^web-01, server/ }).click();
      await vp.getByRole('heading', { name: /web-01/, level: 1 }).waitFor();
      assert.equal(await vp.getByRole('link', { name: 'Edit' }).count(), 0);
    } finally {
      await vctx.close();
    }
  });
});
