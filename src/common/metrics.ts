import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per running dcplane process; every subsystem
 * registers its metrics here and the HTTP API exposes it as text.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dcplane_' });
  return registry;
}
