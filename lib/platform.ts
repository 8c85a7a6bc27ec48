/**
 * The platform's health-check path. The platform probes it (with `?ts=<n>`) through the
 * whole module chain and treats any 5xx as unhealthy, so the kit proxies it, answers it
 * itself when next-hop fails, and never redirects it.
 */
export const HEALTH_PATH = '/.well-known/section-io/aee-hc/healthz';
