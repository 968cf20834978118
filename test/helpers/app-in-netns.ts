/**
 * The real app (Dcplane.start) in a network namespace, driven over IPC by a
 * test outside it: the test's namespace cannot reach the API's loopback, so
 * HTTP requests are relayed and made here, against the real API, with a
 * bearer token of the first admin (DCPLANE_ADMIN_PASSWORD).
 *
 * argv[2]: the configuration (JSON). Messages in: {id, kind: 'http', method,
 * path, body?} → {id, status, body}; {id, kind: 'settled'} → {id} once every
 * inventory change has reached the DHCP service; {id, kind: 'reload', body:
 * configuration} → {id} once Dcplane.reload (SIGHUP's path) applied it; {kind: 'stop'}.
 */
import { pino } from 'pino';
import { Dcplane } from '../../src/app.js';
import { applyDefaults } from '../../src/config/defaults.js';
import type { DcplaneConfig } from '../../src/config/types.js';

interface Request {
  readonly id?: number;
  readonly kind: 'http' | 'settled' | 'reload' | 'stop';
  readonly method?: string;
  readonly path?: string;
  readonly body?: unknown;
}

const send = (m: unknown): void => {
  process.send?.(m);
};

const config = applyDefaults(JSON.parse(process.argv[2] ?? '{}') as DcplaneConfig);
const app = await Dcplane.start(config, pino({ level: process.env['DCPLANE_TEST_LOG'] ?? 'warn' }));
const base = `http://${config.api.listen}`;
const login = await fetch(`${base}/api/v1/auth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: process.env['DCPLANE_ADMIN_PASSWORD'] }),
});
const token = ((await login.json()) as { access_token?: string }).access_token;
if (token === undefined) throw new Error(`login failed: ${login.status}`);

process.on('message', (raw) => {
  const m = raw as Request;
  void (async () => {
    if (m.kind === 'stop') {
      await app.stop();
      process.exit(0);
    }
    if (m.kind === 'reload') {
      // What SIGHUP does with a changed file (serve-command.ts), given the file's content.
      await app.reload(applyDefaults(m.body as DcplaneConfig));
      send({ id: m.id });
      return;
    }
    if (m.kind === 'settled') {
      await app.dhcpSettled();
      send({ id: m.id });
      return;
    }
    const r = await fetch(`${base}${m.path ?? '/'}`, {
      method: m.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(m.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(m.body === undefined ? {} : { body: JSON.stringify(m.body) }),
    });
    const text = await r.text();
    send({ id: m.id, status: r.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) });
  })().catch((err: unknown) => send({ id: m.id, error: String(err) }));
});
send({ ready: true });
