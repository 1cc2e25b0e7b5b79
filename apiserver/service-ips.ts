// Dual-stack ClusterIPs, the cluster-dependent half of a Service's IP fields (pure): the
// --service-cluster-ip-range of one range per family, and a new Service's ipFamilies and ipFamilyPolicy
// completed from the cluster's families as the Service REST storage does before it allocates (the
// static checks of these fields are the kind's validation, kinds/core.ts).
import { formatIp, type Family, parseCidr, parseIp } from '../core/index.js';
import { ObjectSpecError } from '../proxy/index.js';
import type { FieldError } from './errors.js';
import { arrOf, type Obj, strOf } from './object.js';

export type IpFamily = 'IPv4' | 'IPv6';
export const familyOfIp = (ip: string): IpFamily => (ip.includes(':') ? 'IPv6' : 'IPv4');
const FAMILY_BITS: Record<IpFamily, number> = { IPv4: 32, IPv6: 128 };
const NUM: Record<IpFamily, Family> = { IPv4: 4, IPv6: 6 };
/** kube-apiserver's bound on a range's host bits (its bitmap's size): 2^20 addresses. */
const MAX_HOST_BITS = 20;

/** One family's service range; usable offsets are 0 .. size-1, the network and last addresses left out. */
export interface ServiceCidr {
  readonly family: IpFamily;
  readonly cidr: string;
  readonly base: bigint;
  /** How many addresses are allocatable. */
  readonly size: number;
}

const FLAG = '--service-cluster-ip-range';

/** `--service-cluster-ip-range`: one CIDR, or two of different families (the first is the primary). */
export function parseServiceCidrs(s: string): ServiceCidr[] {
  const parts = s.split(',').map((p) => p.trim());
  if (parts.length > 2) throw new ObjectSpecError(FLAG, 'value', s, 'must not contain more than two entries');
  const out = parts.map((p, i): ServiceCidr => {
    let c;
    try {
      c = parseCidr(p);
    } catch {
      throw new ObjectSpecError(FLAG, `[${i}]`, p, 'is not a valid CIDR');
    }
    const family: IpFamily = c.addr.family === 6 ? 'IPv6' : 'IPv4';
    const host = FAMILY_BITS[family] - c.prefix;
    if (host > MAX_HOST_BITS && family === 'IPv6') throw new ObjectSpecError(FLAG, `[${i}]`, p, `is too large; for 128-bit addresses, the mask must be >= ${128 - MAX_HOST_BITS}`);
    if (host < 2) throw new ObjectSpecError(FLAG, `[${i}]`, p, `must be a /${FAMILY_BITS[family] - 2} or larger`);
    const span = 1n << BigInt(host);
    const base = c.addr.value - (c.addr.value % span);
    return { family, cidr: `${formatIp({ family: NUM[family], value: base })}/${c.prefix}`, base, size: Number(span) - 2 };
  });
  if (out.length === 2 && out[0]!.family === out[1]!.family) throw new ObjectSpecError(FLAG, 'value', s, `[0] and ${FLAG}[1] must be of different IP family`);
  return out;
}

export const addressAt = (r: ServiceCidr, off: number): string => formatIp({ family: NUM[r.family], value: r.base + 1n + BigInt(off) });

/** The offset of an address in the range, or undefined outside it (or on the network or last address). */
export function offsetOf(r: ServiceCidr, ip: string): number | undefined {
  let a;
  try {
    a = parseIp(ip);
  } catch {
    return undefined;
  }
  if (NUM[r.family] !== a.family) return undefined;
  const off = a.value - r.base - 1n;
  return off >= 0n && off < BigInt(r.size) ? Number(off) : undefined;
}

const other = (f: IpFamily): IpFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4');
const headless = (spec: Obj): boolean => strOf(spec.clusterIP) === 'None' || strOf(arrOf(spec.clusterIPs)[0]) === 'None';

/**
 * Completes a new Service's ipFamilies and ipFamilyPolicy (in place) from its clusterIPs and the cluster's
 * families (`families[0]` the default): families read off given IPs, two families mean RequireDualStack,
 * a headless service without selector gets both, a dual-stack policy gets the cluster's second family.
 * Returns the errors of asking for what the cluster is not configured for. ExternalName carries none.
 */
export function initIpFamilies(spec: Obj, families: readonly IpFamily[]): FieldError[] {
  if (strOf(spec.type) === 'ExternalName') {
    delete spec.ipFamilies;
    delete spec.ipFamilyPolicy;
    return [];
  }
  const errs: FieldError[] = [];
  const ips = arrOf(spec.clusterIPs).filter((v): v is string => typeof v === 'string');
  const fams = arrOf(spec.ipFamilies).filter((v): v is IpFamily => v === 'IPv4' || v === 'IPv6');
  for (let i = 0; i < ips.length; i++) {
    if (ips[i] === 'None') break;
    if (i < fams.length) continue;
    const f = familyOfIp(ips[i]!);
    if (!families.includes(f)) errs.push({ type: 'FieldValueInvalid', field: `spec.clusterIPs[${i}]`, value: ips, detail: `may not use ${f} on a cluster which is not configured for it` });
    fams.push(f);
  }
  let policy = strOf(spec.ipFamilyPolicy);
  if (policy === undefined && fams.length === 2) policy = 'RequireDualStack';
  if (headless(spec) && Object.keys((spec.selector as Obj | undefined) ?? {}).length === 0) {
    // No addresses to allocate: both families unless asked for one (allowed even on a single-stack cluster).
    if (fams.length === 0) fams.push(families[0]!);
    policy ??= 'RequireDualStack';
    if (fams.length === 1 && policy !== 'SingleStack') fams.push(other(fams[0]!));
    spec.ipFamilies = fams;
    spec.ipFamilyPolicy = policy;
    return errs;
  }
  if (policy === 'RequireDualStack' && families.length < 2) errs.push({ type: 'FieldValueInvalid', field: 'spec.ipFamilyPolicy', value: policy, detail: 'this cluster is not configured for dual-stack services' });
  fams.forEach((f, i) => {
    if (!families.includes(f)) errs.push({ type: 'FieldValueInvalid', field: `spec.ipFamilies[${i}]`, value: f, detail: 'not configured on this cluster' });
  });
  if (errs.length) return errs;
  policy ??= 'SingleStack';
  if (fams.length === 0) fams.push(families[0]!);
  if (policy !== 'SingleStack' && fams.length === 1 && families.length === 2) fams.push(other(fams[0]!));
  spec.ipFamilies = fams;
  spec.ipFamilyPolicy = policy;
  return errs;
}
