// The health check node ports of LoadBalancer services with externalTrafficPolicy Local (kube-proxy's
// ServiceHealthServer): one HTTP listener per healthCheckNodePort, answering 200 where this node has
// ready endpoints of the service and 503 where it has none (or the proxy is unhealthy), with the
// JSON body kube-proxy sends, so an external load balancer sends traffic only to nodes that keep it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { errorMessage, listenHttp, type Logger } from '../common/index.js';
import type { ServiceName } from './types.js';

export interface HealthCheckTarget {
  readonly port: number;
  readonly localEndpoints: number;
}

/** The response to a health check probe (pure). */
export function healthCheckResponse(service: ServiceName, localEndpoints: number, proxyHealthy: boolean): { code: number; headers: Record<string, string>; body: string } {
  const [namespace, name] = service.split('/') as [string, string];
  const body = JSON.stringify({ service: { namespace, name }, localEndpoints, serviceProxyHealthy: proxyHealthy });
  return {
    code: localEndpoints > 0 && proxyHealthy ? 200 : 503,
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'x-load-balancing-endpoints': String(localEndpoints) },
    body,
  };
}

export class HealthCheckServers {
  private readonly servers = new Map<number, { service: ServiceName; srv?: Server }>();
  private targets = new Map<ServiceName, HealthCheckTarget>();

  constructor(
    private readonly ip: string,
    private readonly proxyHealthy: () => boolean,
    private readonly log: Logger,
  ) {}

  /** Opens a listener for every target port, closes the others. Listen failures are logged and retried at the next call. */
  async sync(targets: ReadonlyMap<ServiceName, HealthCheckTarget>): Promise<void> {
    this.targets = new Map(targets);
    const want = new Map([...targets].map(([svc, t]) => [t.port, svc]));
    for (const [port, s] of [...this.servers]) {
      if (want.get(port) === s.service) continue;
      this.servers.delete(port);
      if (s.srv) await new Promise<void>((r) => s.srv!.close(() => r()));
    }
    for (const [port, service] of want) {
      if (this.servers.has(port)) continue;
      const entry: { service: ServiceName; srv?: Server } = { service };
      this.servers.set(port, entry);
      try {
        entry.srv = await listenHttp(this.ip, port, (req, res) => this.answer(service, req, res), this.log.child({ service }));
      } catch (e) {
        this.servers.delete(port);
        this.log.warn({ service, port, err: errorMessage(e) }, 'health check node port not served');
      }
    }
  }

  get ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  private answer(service: ServiceName, _req: IncomingMessage, res: ServerResponse): void {
    const r = healthCheckResponse(service, this.targets.get(service)?.localEndpoints ?? 0, this.proxyHealthy());
    res.writeHead(r.code, r.headers).end(r.body);
  }

  async close(): Promise<void> {
    await this.sync(new Map());
  }
}
