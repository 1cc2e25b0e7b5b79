// The cluster domain in memory: the records of every service (records.ts), indexed by owner name,
// rebuilt per service when its Service or Endpoints change. A name below the domain that owns no
// record but has records below it (`<ns>.svc.<domain>`, a headless service's `<svc>…` parent) exists
// empty, as an empty non-terminal does in DNS: NODATA, not NXDOMAIN. Pure (no I/O).
import type { Answer } from 'dns-packet';
import { inDomain } from './names.js';
import { type DnsEndpoints, type DnsService, recordsOf } from './records.js';

export class Zone {
  private readonly services = new Map<string, DnsService>();
  private readonly endpoints = new Map<string, DnsEndpoints>();
  private readonly contrib = new Map<string, Answer[]>();
  /** owner name → service key → its records of that name. */
  private readonly byName = new Map<string, Map<string, Answer[]>>();
  private readonly nonTerminals = new Map<string, number>();
  /** Bumped at every change: a response cached against an older generation is stale. */
  generation = 0;

  constructor(
    readonly domain: string,
    readonly ttl = 30,
  ) {}

  get serviceCount(): number {
    return this.services.size;
  }

  /** `key` is `<namespace>/<name>`; undefined removes the service. */
  setService(key: string, svc: DnsService | undefined): void {
    if (svc) this.services.set(key, svc);
    else this.services.delete(key);
    this.rebuild(key);
  }

  setEndpoints(key: string, ep: DnsEndpoints | undefined): void {
    if (ep) this.endpoints.set(key, ep);
    else this.endpoints.delete(key);
    this.rebuild(key);
  }

  /** Replaces every service (a complete listing). */
  resetServices(all: ReadonlyMap<string, DnsService>): void {
    const keys = new Set([...this.services.keys(), ...all.keys()]);
    this.services.clear();
    for (const [k, v] of all) this.services.set(k, v);
    for (const k of keys) this.rebuild(k);
  }

  resetEndpoints(all: ReadonlyMap<string, DnsEndpoints>): void {
    const keys = new Set([...this.endpoints.keys(), ...all.keys()]);
    this.endpoints.clear();
    for (const [k, v] of all) this.endpoints.set(k, v);
    for (const k of keys) this.rebuild(k);
  }

  /** The records a canonical name owns; [] when it exists without records; undefined when it does not exist. */
  lookup(name: string): readonly Answer[] | undefined {
    const m = this.byName.get(name);
    if (m) {
      const out: Answer[] = [];
      for (const l of m.values()) out.push(...l);
      return out;
    }
    return this.nonTerminals.has(name) ? [] : undefined;
  }

  private rebuild(key: string): void {
    this.generation++;
    const old = this.contrib.get(key) ?? [];
    for (const r of old) {
      const m = this.byName.get(r.name);
      if (!m?.delete(key)) continue;
      if (m.size === 0) this.byName.delete(r.name);
      this.ancestors(r.name, -1);
    }
    const slash = key.indexOf('/');
    const recs = recordsOf(key.slice(0, slash), key.slice(slash + 1), this.services.get(key), this.endpoints.get(key), this.domain, this.ttl);
    if (recs.length) this.contrib.set(key, recs);
    else this.contrib.delete(key);
    for (const r of recs) {
      let m = this.byName.get(r.name);
      if (!m) this.byName.set(r.name, (m = new Map()));
      const l = m.get(key);
      if (l) l.push(r);
      else {
        m.set(key, [r]);
        this.ancestors(r.name, 1);
      }
    }
  }

  /** Counts `name` under each of its ancestors strictly between it and the domain. */
  private ancestors(name: string, d: number): void {
    if (!inDomain(name, this.domain)) return;
    for (let n = name.slice(name.indexOf('.') + 1); n.length > this.domain.length; n = n.slice(n.indexOf('.') + 1)) {
      const c = (this.nonTerminals.get(n) ?? 0) + d;
      if (c > 0) this.nonTerminals.set(n, c);
      else this.nonTerminals.delete(n);
    }
  }
}
