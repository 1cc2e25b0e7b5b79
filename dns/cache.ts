// Upstream answers kept for their TTL: the smallest TTL of the answer and authority records (for a
// negative answer, the SOA's, capped by its minimum, as RFC 2308 says), at most `maxTtlSec`; served with
// the TTLs counted down. Bounded: past `maxEntries` the least recently used entry goes. SERVFAIL,
// REFUSED and truncated answers are never kept. Pure: the clock is the caller's.
import type { Answer, Packet, Question } from 'dns-packet';
import { AUTHORITATIVE_ANSWER, RECURSION_DESIRED, TRUNCATED_RESPONSE } from 'dns-packet';
import { canonical } from './names.js';
import { RCODE, responseTo } from './respond.js';

interface Entry {
  readonly packet: Packet;
  readonly at: number;
  readonly expires: number;
}

export const cacheKey = (q: Question): string => `${canonical(q.name)}|${q.type}|${q.class ?? 'IN'}`;

/** How long an upstream answer may be kept, in seconds; 0: not at all. */
export function ttlOf(p: Packet, maxTtlSec: number): number {
  const flags = p.flags ?? 0;
  const rcode = flags & 0xf;
  if (flags & TRUNCATED_RESPONSE) return 0;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return 0;
  const answers = p.answers ?? [];
  let ttl = Infinity;
  for (const a of answers) if (a.type !== 'OPT') ttl = Math.min(ttl, a.ttl ?? 0);
  if (!answers.length) {
    const soa = (p.authorities ?? []).find((a) => a.type === 'SOA');
    // A negative answer without an SOA says nothing of how long it holds.
    if (!soa || soa.type !== 'SOA') return 0;
    ttl = Math.min(soa.ttl ?? 0, soa.data.minimum ?? Infinity);
  } else {
    for (const a of p.authorities ?? []) if (a.type !== 'OPT') ttl = Math.min(ttl, a.ttl ?? 0);
  }
  return Number.isFinite(ttl) ? Math.max(0, Math.min(ttl, maxTtlSec)) : 0;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly maxEntries = 10_000,
    readonly maxTtlSec = 3600,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Keeps an upstream answer to `q` if it may be kept. */
  put(q: Question, p: Packet, nowMs: number): void {
    const ttl = ttlOf(p, this.maxTtlSec);
    if (ttl <= 0) return;
    const key = cacheKey(q);
    this.entries.delete(key);
    this.entries.set(key, { packet: { ...p, additionals: (p.additionals ?? []).filter((a) => a.type !== 'OPT') }, at: nowMs, expires: nowMs + ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The kept answer as a response to `query` (its id, question and RD; TTLs counted down), or undefined. */
  get(query: Packet, nowMs: number): Packet | undefined {
    const q = query.questions![0]!;
    const key = cacheKey(q);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (nowMs >= e.expires) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    const age = Math.floor((nowMs - e.at) / 1000);
    const down = (rs: readonly Answer[] | undefined): Answer[] => (rs ?? []).map((r) => (r.type === 'OPT' ? r : { ...r, ttl: Math.max(0, (r.ttl ?? 0) - age) }));
    const base = responseTo(query, (e.packet.flags ?? 0) & 0xf, { answers: down(e.packet.answers), authorities: down(e.packet.authorities), additionals: down(e.packet.additionals) });
    // The upstream's flags but for RD, which is the asker's, and AA: a kept answer is no authority's.
    return { ...base, flags: ((e.packet.flags ?? 0) & ~RECURSION_DESIRED & ~TRUNCATED_RESPONSE & ~AUTHORITATIVE_ANSWER) | ((query.flags ?? 0) & RECURSION_DESIRED) };
  }
}
