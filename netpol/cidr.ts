// An ipBlock as IPv4 address ranges: the CIDR minus its excepts, so one interval set holds a peer and no
// rule has to say "but not". Pure.
import { formatIp, parseCidr } from '../common/index.js';

/** Inclusive [first, last], as 32-bit numbers. */
export type Range = readonly [number, number];

export class CidrError extends RangeError {}

function v4Block(s: string): Range | undefined {
  let c;
  try {
    c = parseCidr(s);
  } catch (e) {
    throw new CidrError(e instanceof Error ? e.message : String(e));
  }
  // IPv6 blocks are valid, but the pods here are IPv4 only: such a block names none of their peers.
  if (c.addr.family !== 4) return undefined;
  const size = 2 ** (32 - c.prefix);
  const first = Math.floor(Number(c.addr.value) / size) * size;
  return [first, first + size - 1];
}

/** `cidr` minus every `except`; throws CidrError for one that does not parse or lies outside the CIDR. */
export function cidrRanges(cidr: string, except: readonly string[]): Range[] {
  const block = v4Block(cidr);
  const cuts = except.map((e) => [e, v4Block(e)] as const);
  if (!block) return [];
  let out: Range[] = [block];
  for (const [text, cut] of cuts) {
    if (!cut) continue;
    if (cut[0] < block[0] || cut[1] > block[1]) throw new CidrError(`except ${text} is not inside ${cidr}`);
    out = out.flatMap(([a, b]): Range[] => {
      if (cut[1] < a || cut[0] > b) return [[a, b]];
      const left: Range[] = cut[0] > a ? [[a, cut[0] - 1]] : [];
      const right: Range[] = cut[1] < b ? [[cut[1] + 1, b]] : [];
      return [...left, ...right];
    });
  }
  return out;
}

export const numToIp = (n: number): string => formatIp({ family: 4, value: BigInt(n) });

export function ipToNum(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! * 256 + p[1]!) * 256 + p[2]!) * 256 + p[3]!;
}

/** The ranges sorted and merged (overlapping or adjacent ones joined), as an interval set wants them. */
export function mergeRanges(rs: readonly Range[]): Range[] {
  const sorted = [...rs].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** An element of an interval set: a single address, or `first-last`. */
export const rangeElement = ([a, b]: Range): string => (a === b ? numToIp(a) : `${numToIp(a)}-${numToIp(b)}`);

export const inRanges = (ip: number, rs: readonly Range[]): boolean => rs.some(([a, b]) => ip >= a && ip <= b);
