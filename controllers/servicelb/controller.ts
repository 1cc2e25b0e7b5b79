// The ServiceLB controller's loop: Services, Nodes and Endpoints from list+watch caches; a node's or an
// Endpoints' change queues the LoadBalancer services it may affect; each sync writes
// status.loadBalancer.ingress through …/status when it differs from the nodes that serve the service.
import { keys } from '../../cluster/index.js';
import type { ControllerContext, ObjCache, QueueController } from '../controller.js';
import { writeStatus } from '../pod-control.js';
import { WorkQueue } from '../queue.js';
import { desiredIngress, isOurs, sameIngress } from './logic.js';

type Obj = Record<string, unknown>;
const enc = encodeURIComponent;
const svcPath = (ns: string, name: string): string => `/api/v1/namespaces/${enc(ns)}/services/${enc(name)}`;

export class ServiceLbController implements QueueController {
  readonly kind = 'Service';
  readonly queue = new WorkQueue();
  readonly caches: readonly ObjCache[];
  private readonly services: ObjCache;
  private readonly nodes: ObjCache;
  private readonly endpoints: ObjCache;

  constructor(private readonly ctx: ControllerContext) {
    this.services = ctx.cache(keys.services(), (changed) => this.servicesChanged(changed));
    this.nodes = ctx.cache(keys.nodes(), () => this.resync());
    this.endpoints = ctx.cache(keys.allEndpoints(), (changed) => this.endpointsChanged(changed));
    this.caches = [this.services, this.nodes, this.endpoints];
  }

  private servicesChanged(changed: ReadonlySet<string>): void {
    const prefix = keys.services();
    for (const k of changed) if (k.startsWith(prefix)) this.queue.add(k.slice(prefix.length));
  }

  private endpointsChanged(changed: ReadonlySet<string>): void {
    const prefix = keys.allEndpoints();
    for (const k of changed) if (k.startsWith(prefix)) this.queue.add(k.slice(prefix.length));
  }

  podsChanged(): void {}

  resync(): void {
    const prefix = keys.services();
    for (const [k, s] of this.services.items) if (isOurs(s.obj)) this.queue.add(k.slice(prefix.length));
  }

  async sync(key: string): Promise<number | undefined> {
    const [ns, name] = key.split('/') as [string, string];
    const s = this.services.items.get(keys.service(ns, name));
    if (!s) return undefined;
    const want = desiredIngress(s.obj, [...this.nodes.items.values()].map((n) => n.obj), this.endpoints.items.get(keys.endpoints(ns, name))?.obj);
    if (!want || sameIngress(s.obj, want)) return undefined;
    const status: Obj = typeof s.obj.status === 'object' && s.obj.status !== null ? (s.obj.status as Obj) : {};
    // The cached object's resourceVersion rides along: a conflict (409) is retried once the cache has caught up.
    await writeStatus(this.ctx.client, svcPath(ns, name), s.obj, { ...status, loadBalancer: want.length ? { ingress: want } : {} }, this.ctx.signal);
    this.ctx.log.info({ service: key, ingress: want.map((i) => i.ip) }, 'load balancer ingress set');
    return undefined;
  }
}
