// The agent on a node: follows Pods, Namespaces and NetworkPolicies (a listing, then a watch; a lost watch
// is a new listing) into the writer, and posts an event on a policy it cannot program in full.
import { type ApiClient, type ClusterStore, keys, namespacedName, parseJsonObject, prefixSource, type Stored } from '../cluster/index.js';
import { followPrefix, type Logger } from '../common/index.js';
import { Agent, type AgentOptions } from './agent.js';
import { postPolicyEvent } from './events.js';

type Obj = Record<string, unknown>;

export interface ServerDeps {
  readonly store: ClusterStore;
  /** On the API: events are posted through it. */
  readonly client?: ApiClient;
  readonly nft: ConstructorParameters<typeof Agent>[1]['nft'];
  readonly log: Logger;
}

export class NetpolServer {
  readonly agent: Agent;

  constructor(
    o: AgentOptions,
    private readonly d: ServerDeps,
  ) {
    const client = d.client;
    this.agent = new Agent(o, {
      nft: d.nft,
      log: d.log.child({ component: 'agent' }),
      ...(client && { onProblems: (raw: Obj, pol: Parameters<typeof postPolicyEvent>[3]) => void postPolicyEvent(client, d.log, raw, pol, o.nodeName) }),
    });
  }

  run(signal: AbortSignal): Promise<void> {
    const { store, log } = this.d;
    const src = prefixSource(store, parseJsonObject);
    const podsP = keys.pods();
    const nsP = keys.namespaces();
    const polP = keys.networkPolicies();
    const named = (prefix: string, key: string): [string, string] | undefined => namespacedName(prefix, key);
    const nsName = (key: string): string | undefined => (key.startsWith(nsP) && !key.slice(nsP.length).includes('/') ? key.slice(nsP.length) : undefined);
    const a = this.agent;
    return Promise.all([
      a.run(signal),
      followPrefix<Stored<Obj>, { key: string; reason: string }>(src, signal, { prefix: podsP, log }, {
        reset: (items) => a.resetPods(items.flatMap((it) => { const n = named(podsP, it.key); return n ? [[n[0], n[1], it.obj] as [string, string, Obj]] : []; })),
        put: (it) => { const n = named(podsP, it.key); if (n) a.updatePod(n[0], n[1], it.obj); },
        delete: (key) => { const n = named(podsP, key); if (n) a.updatePod(n[0], n[1], undefined); },
        corrupt: (c) => log.warn({ key: c.key, reason: c.reason }, 'object ignored'),
      }),
      followPrefix<Stored<Obj>, { key: string; reason: string }>(src, signal, { prefix: nsP, log }, {
        reset: (items) => a.resetNamespaces(items.flatMap((it) => { const n = nsName(it.key); return n ? [[n, it.obj] as [string, Obj]] : []; })),
        put: (it) => { const n = nsName(it.key); if (n) a.updateNamespace(n, it.obj); },
        delete: (key) => { const n = nsName(key); if (n) a.updateNamespace(n, undefined); },
        corrupt: (c) => log.warn({ key: c.key, reason: c.reason }, 'object ignored'),
      }),
      followPrefix<Stored<Obj>, { key: string; reason: string }>(src, signal, { prefix: polP, log }, {
        reset: (items) => a.resetPolicies(items.flatMap((it) => { const n = named(polP, it.key); return n ? [[n.join('/'), it.obj] as [string, Obj]] : []; })),
        put: (it) => { const n = named(polP, it.key); if (n) a.updatePolicy(n.join('/'), it.obj); },
        delete: (key) => { const n = named(polP, key); if (n) a.updatePolicy(n.join('/'), undefined); },
        // A policy that cannot be read is not dropped (that would open what it closed): it stays as last read.
        corrupt: (c) => log.warn({ key: c.key, reason: c.reason }, 'policy unreadable; its last version stays programmed'),
      }),
    ]).then(() => undefined);
  }
}
