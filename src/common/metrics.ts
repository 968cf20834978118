import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per running dcplane process; every subsystem
 * registers its metrics here and the HTTP API exposes it as text.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dcplane_' });
  return registry;
}

/** Configuration reloads (SIGHUP), by result: `applied` or `refused`. */
export function configReloadsCounter(registry: Registry): Counter<'result'> {
  return new Counter({ name: 'dcplane_config_reloads_total', help: 'Configuration reloads (SIGHUP), by result', labelNames: ['result'], registers: [registry] });
}
