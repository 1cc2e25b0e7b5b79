// One query to its answer, without sockets: the cluster domain from the zone, pod names from the
// name itself (kube-dns's "pods insecure": `10-5-1-3.<ns>.pod.<domain>` is 10.5.1.3 without a
// lookup), reverse names the zone knows; everything else goes to the upstream servers. Also the
// wire-level rules: FORMERR for a message that is no query, NOTIMP for an opcode other than QUERY,
// the EDNS payload size a UDP answer must fit (else it is cut to its question with TC set). Pure.
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import { AUTHORITATIVE_ANSWER, encode, RECURSION_AVAILABLE, RECURSION_DESIRED, TRUNCATED_RESPONSE } from 'dns-packet';
import { isIPv4 } from 'node:net';
import { addressOfReverse, canonical, inDomain, undashed } from './names.js';
import type { Zone } from './zone.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** What this server offers a client with EDNS (and asks of upstreams). */
export const EDNS_UDP_SIZE = 1232;
const CLASSIC_UDP_SIZE = 512;

export type Decision =
  | { readonly kind: 'answer'; readonly packet: Packet }
  /** Answered here, but the CNAME's target must be resolved too (an ExternalName outside the domain). */
  | { readonly kind: 'chase'; readonly packet: Packet; readonly target: Question }
  | { readonly kind: 'forward' };

const optOf = (q: Packet): OptAnswer | undefined => q.additionals?.find((a): a is OptAnswer => a.type === 'OPT');

/** The largest UDP answer the client takes: 512 without EDNS, else its advertised size (at least 512, at most ours). */
export function udpLimit(q: Packet): number {
  const o = optOf(q);
  return o ? Math.max(CLASSIC_UDP_SIZE, Math.min(o.udpPayloadSize || CLASSIC_UDP_SIZE, EDNS_UDP_SIZE)) : CLASSIC_UDP_SIZE;
}

/** A response header for the query: its id, question and RD, RA set (this server recurses), with EDNS when the query had it. */
export function responseTo(q: Packet, rcode: number, extra: { aa?: boolean; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] } = {}): Packet {
  const rd = (q.flags ?? 0) & RECURSION_DESIRED;
  const opt = optOf(q);
  return {
    type: 'response',
    id: q.id ?? 0,
    flags: rd | RECURSION_AVAILABLE | (extra.aa ? AUTHORITATIVE_ANSWER : 0) | (rcode & 0xf),
    questions: q.questions ?? [],
    answers: extra.answers ?? [],
    authorities: extra.authorities ?? [],
    additionals: [...(extra.additionals ?? []), ...(opt ? [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as OptAnswer] : [])],
  };
}

/** The bytes for a UDP client: the response, or, when it exceeds `limit`, its header and question with TC set. */
export function encodeForUdp(p: Packet, limit: number): Buffer {
  const b = encode(p);
  if (b.length <= limit) return b;
  return encode({ ...p, flags: (p.flags ?? 0) | TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: (p.additionals ?? []).filter((a) => a.type === 'OPT') });
}

/**
 * A message that decoded but cannot be answered as asked: FORMERR (not exactly one question), NOTIMP
 * (an opcode other than QUERY); undefined when it is a well-formed query. A response is never answered.
 */
export function refusal(q: DecodedPacket): Packet | 'ignore' | undefined {
  if (q.flag_qr) return 'ignore';
  const opcode = ((q.flags ?? 0) >> 11) & 0xf;
  if (opcode !== 0) return { ...responseTo({ ...q, questions: q.questions ?? [] }, RCODE.NOTIMP), flags: (opcode << 11) | RECURSION_AVAILABLE | RCODE.NOTIMP };
  if (q.questions?.length !== 1) return responseTo({ ...q, questions: [] }, RCODE.FORMERR);
  return undefined;
}

/** FORMERR for bytes that do not decode, when at least the header (its id) is there; undefined: drop them. */
export function formerrFor(raw: Buffer): Buffer | undefined {
  if (raw.length < 12 || raw[2]! & 0x80) return undefined;
  return encode(responseTo({ id: raw.readUInt16BE(0), flags: raw[2]! & 1 ? RECURSION_DESIRED : 0, questions: [] }, RCODE.FORMERR));
}

export function soaRecord(domain: string, ttl: number): Answer {
  return { name: domain, type: 'SOA', class: 'IN', ttl, data: { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl } };
}

/** The records of a name in the cluster domain: undefined when the name does not exist. */
function localRecords(name: string, zone: Zone): readonly Answer[] | undefined {
  const d = zone.domain;
  if (name === d) return [soaRecord(d, zone.ttl), { name: d, type: 'NS', class: 'IN', ttl: zone.ttl, data: `ns.dns.${d}` }];
  if (name === `svc.${d}` || name === `pod.${d}`) return [];
  const podSuffix = `.pod.${d}`;
  if (name.endsWith(podSuffix)) {
    const labels = name.slice(0, -podSuffix.length).split('.');
    if (labels.length === 1 && labels[0]) return []; // a namespace under pod.<domain>: every namespace may hold pods
    if (labels.length !== 2) return undefined;
    const ip = undashed(labels[0]!);
    if (!ip) return undefined;
    return [{ name, type: isIPv4(ip) ? 'A' : 'AAAA', class: 'IN', ttl: zone.ttl, data: ip }];
  }
  return zone.lookup(name);
}

/** The additional section of SRV answers: the targets' addresses the zone holds. */
function srvGlue(answers: readonly Answer[], zone: Zone): Answer[] {
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const a of answers) {
    if (a.type !== 'SRV' || seen.has(a.data.target)) continue;
    seen.add(a.data.target);
    for (const r of zone.lookup(a.data.target) ?? []) if (r.type === 'A' || r.type === 'AAAA') out.push(r);
  }
  return out;
}

/** Records under the name the client asked with (its case), as resolvers compare answers to questions. */
const asAsked = (rs: readonly Answer[], asked: string): Answer[] => rs.map((r) => ({ ...r, name: asked }));

/** A well-formed query (see refusal) against the zone. */
export function decide(q: Packet, zone: Zone): Decision {
  const question = q.questions![0]!;
  const name = canonical(question.name);
  const d = zone.domain;
  if (!inDomain(name, d)) {
    const ip = addressOfReverse(name);
    const recs = ip !== undefined ? zone.lookup(name) : undefined;
    if (recs?.length && (question.type === 'PTR' || (question.type as string) === 'ANY')) return { kind: 'answer', packet: responseTo(q, RCODE.NOERROR, { aa: true, answers: asAsked(recs, question.name) }) };
    return { kind: 'forward' };
  }
  if ((question.class ?? 'IN') !== 'IN' && (question.class as string) !== 'ANY') return { kind: 'answer', packet: responseTo(q, RCODE.REFUSED) };
  const soa = [soaRecord(d, zone.ttl)];
  const recs = localRecords(name, zone);
  if (recs === undefined) return { kind: 'answer', packet: responseTo(q, RCODE.NXDOMAIN, { aa: true, authorities: soa }) };
  const type = question.type as string;
  const cname = recs.find((r): r is Answer & { type: 'CNAME'; data: string } => r.type === 'CNAME');
  if (cname && type !== 'CNAME') {
    const answers = asAsked([cname], question.name);
    const target = cname.data;
    const packet = responseTo(q, RCODE.NOERROR, { aa: true, answers });
    if (type === 'A' || type === 'AAAA') {
      const t = canonical(target);
      if (!inDomain(t, d)) return { kind: 'chase', packet, target: { name: target, type: question.type, class: 'IN' } };
      const more = (localRecords(t, zone) ?? []).filter((r) => r.type === type);
      return { kind: 'answer', packet: { ...packet, answers: [...answers, ...more] } };
    }
    return { kind: 'answer', packet };
  }
  const hits = type === 'ANY' ? recs : recs.filter((r) => r.type === type);
  if (!hits.length) return { kind: 'answer', packet: responseTo(q, RCODE.NOERROR, { aa: true, authorities: soa }) };
  const answers = asAsked(hits, question.name);
  return { kind: 'answer', packet: responseTo(q, RCODE.NOERROR, { aa: true, answers, additionals: srvGlue(hits, zone) }) };
}
