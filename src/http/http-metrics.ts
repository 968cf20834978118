import type { FastifyInstance } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Seconds; the API's goal is a p99 under 20 ms for a page of 50, so the buckets are fine below 100 ms. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `dcplane_http_requests_total` and `dcplane_http_request_duration_seconds`
 * by method, route and status class. The route is the pattern that matched
 * (`/api/v1/servers/:id`), or `unmatched`: never the raw URL, whose ids and
 * junk would make one series per request.
 */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const labelNames = ['method', 'route', 'status_class'] as const;
  const requests = new Counter({ name: 'dcplane_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status class', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'dcplane_http_request_duration_seconds',
    help: 'Time from request to response, by method, route pattern and status class',
    labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const labels = {
      method: METHODS.has(req.method) ? req.method : 'OTHER',
      route: req.routeOptions.url ?? 'unmatched',
      status_class: `${Math.floor(reply.statusCode / 100)}xx`,
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}
