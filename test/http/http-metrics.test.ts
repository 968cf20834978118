/**
 * HTTP request metrics in the Prometheus scrape: labelled by the route
 * pattern that matched, never the raw URL, so ids and junk paths cannot
 * create a series per request.
 */
import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { registerHttpMetrics } from '../../src/http/http-metrics.js';
import { call, describeApi } from './harness.js';

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const part of (m[2] as string).matchAll(/([a-z_]+)="([^"]*)"/g)) labels[part[1] as string] = part[2] as string;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

describeApi('HTTP metrics', (env) => {
  it('counts requests and their durations by method, route pattern and status class', async () => {
    const { app } = env();
    const created = await call(app, 'POST', '/api/v1/datacenters', { name: 'Metrics DC', code: 'metrics-dc' });
    assert.equal(created.status, 201);
    const id = created.body.id as number;
    for (let i = 0; i < 3; i++) assert.equal((await call(app, 'GET', `/api/v1/datacenters/${id}`)).status, 200);
    assert.equal((await call(app, 'GET', '/api/v1/datacenters/999999')).status, 404);
    for (const junk of ['/api/v1/nosuch/1', '/api/v1/nosuch/2', '/etc/passwd']) assert.equal((await call(app, 'GET', junk)).status, 404);
    assert.equal((await call(app, 'POST', '/api/v1/datacenters', { name: 1 })).status, 400);

    const text = (await call(app, 'GET', '/api/v1/metrics/prometheus')).raw;
    const counts = samples(text, 'dcplane_http_requests_total');
    const count = (method: string, route: string, status: string) =>
      counts.find((s) => s.labels['method'] === method && s.labels['route'] === route && s.labels['status_class'] === status)?.value;
    assert.equal(count('GET', '/api/v1/datacenters/:id', '2xx'), 3);
    assert.equal(count('GET', '/api/v1/datacenters/:id', '4xx'), 1);
    assert.equal(count('POST', '/api/v1/datacenters', '2xx'), 1);
    assert.equal(count('POST', '/api/v1/datacenters', '4xx'), 1);
    assert.equal(count('GET', 'unmatched', '4xx'), 3, 'unmatched paths share one series');
    for (const s of counts) {
      assert.ok(!/\d{2,}|nosuch|passwd/.test(s.labels['route'] ?? ''), `route label is a pattern: ${s.labels['route']}`);
      assert.match(s.labels['status_class'] ?? '', /^[1-5]xx$/);
    }
    const durations = samples(text, 'dcplane_http_request_duration_seconds_count');
    const d = durations.find((s) => s.labels['method'] === 'GET' && s.labels['route'] === '/api/v1/datacenters/:id' && s.labels['status_class'] === '2xx');
    assert.equal(d?.value, 3);
    const inf = samples(text, 'dcplane_http_request_duration_seconds_bucket').find(
      (s) => s.labels['route'] === '/api/v1/datacenters/:id' && s.labels['status_class'] === '2xx' && s.labels['le'] === '+Inf',
    );
    assert.equal(inf?.value, 3);
  });
});

describe('HTTP metrics label set', () => {
  it('names its labels method, route and status_class', async () => {
    const app = Fastify();
    const registry = new Registry();
    registerHttpMetrics(app, registry);
    app.get('/things/:id', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/things/42' });
    const v = await registry.getSingleMetric('dcplane_http_requests_total')?.get();
    assert.deepEqual(v?.values.map((s) => s.labels), [{ method: 'GET', route: '/things/:id', status_class: '2xx' }]);
    await app.close();
  });
});
