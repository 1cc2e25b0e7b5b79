// parseLease's one pass over the value's keys against the reading it replaced (JSON.parse, then
// jsonField once per field): random leases, valid and broken, in flannel's layout and in others
// (keys in any case and order, repeated keys, nulls, whitespace, escapes), give the same lease or
// the same CorruptLeaseError reason. A broken lease is an error, never a wrong entry.
import { describe, expect, it } from 'vitest';
import { CorruptLeaseError, type Lease, type LeaseAttrs, parseLease, parseSubnetKeyName } from '../ipam/index.js';
import { isObject, jsonField, parseIp } from '../core/index.js';

const familyOf = (s: string): 4 | 6 | undefined => {
  try {
    return parseIp(s).family;
  } catch {
    return undefined;
  }
};

/** The previous parseLease, kept as the reference. */
function referenceParse(key: string, raw: string, reservation: boolean): Lease {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const sub = parseSubnetKeyName(name);
  if (typeof sub === 'string') throw new CorruptLeaseError(key, raw, `bad key: ${sub}`);
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new CorruptLeaseError(key, raw, `value is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new CorruptLeaseError(key, raw, 'value is not a JSON object');
  const d = doc;
  const str = (field: string, check?: (v: string) => boolean): string | undefined => {
    const v = jsonField(d, field);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' || (check && !check(v))) throw new CorruptLeaseError(key, raw, `${field} ${JSON.stringify(v)} is not valid`);
    return v;
  };
  const publicIP = str('PublicIP', (v) => familyOf(v) === 4);
  const publicIPv6 = str('PublicIPv6', (v) => familyOf(v) === 6);
  if (publicIP === undefined && publicIPv6 === undefined) throw new CorruptLeaseError(key, raw, 'no PublicIP');
  const backendType = str('BackendType');
  const backendData = jsonField(d, 'BackendData');
  const backendV6Data = jsonField(d, 'BackendV6Data');
  const attrs: LeaseAttrs = {
    ...(publicIP !== undefined && { publicIP }),
    ...(publicIPv6 !== undefined && { publicIPv6 }),
    ...(backendType !== undefined && { backendType }),
    ...(backendData !== undefined && { backendData }),
    ...(backendV6Data !== undefined && { backendV6Data }),
  };
  return { ...sub, attrs, reservation };
}

const outcome = (f: () => Lease): unknown => {
  try {
    const l = f();
    // The attributes' key order matters to sameLease (it compares them as JSON text).
    return { lease: l, attrsText: JSON.stringify(l.attrs) };
  } catch (e) {
    if (!(e instanceof CorruptLeaseError)) return { crash: String(e) };
    return { reason: e.reason };
  }
};

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 16807) % 2147483647) - 1) / 2147483646;
}

describe('parseLease', () => {
  it('reads 20,000 random leases exactly as JSON.parse and jsonField per field did', () => {
    const r = rng(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const hex = () => Math.floor(r() * 256).toString(16).padStart(2, '0');
    const ip4 = () => [0, 0, 0, 0].map(() => Math.floor(r() * 256)).join('.');
    const names = {
      PublicIP: ['PublicIP', 'publicip', 'PUBLICIP', 'PublicIp', 'PublicIP '],
      PublicIPv6: ['PublicIPv6', 'publicipv6', 'PublicIPV6'],
      BackendType: ['BackendType', 'backendtype', 'BackendTYPE', 'Backend_Type'],
      BackendData: ['BackendData', 'backenddata', 'BACKENDDATA'],
      BackendV6Data: ['BackendV6Data', 'backendv6data'],
    };
    const values: Record<keyof typeof names, (() => unknown)[]> = {
      PublicIP: [ip4, ip4, ip4, () => null, () => '', () => 7, () => 'fd00::1', () => '01.2.3.4', () => '1.2.3'],
      PublicIPv6: [() => null, () => null, () => `fd00::${hex()}`, () => '', () => ip4(), () => false],
      BackendType: [() => 'vxlan', () => 'vxlan', () => 'host-gw', () => null, () => '', () => 3, () => ['vxlan']],
      BackendData: [() => ({ VNI: 1, VtepMAC: `0a:62:${hex()}:${hex()}:${hex()}:${hex()}` }), () => null, () => 'x', () => [1, { a: null }], () => 0],
      BackendV6Data: [() => ({ VNI: 1, VtepMAC: `0a:62:00:00:00:${hex()}` }), () => null],
    };
    const keys = ['10.5.7.0-24', '10.5.7.0-24&fd00:0:0:7::-64', '0.0.0.0-0&fd00::-64', '10.5.7.1-24', '10.5.7.0', 'x-24', '10.5.7.0-33'];
    let valid = 0;
    let corrupt = 0;
    for (let i = 0; i < 20_000; i++) {
      const fields: [string, unknown][] = [];
      for (const f of Object.keys(names) as (keyof typeof names)[]) {
        const times = r() < 0.1 ? 0 : r() < 0.1 ? 2 : 1; // absent, repeated (the last non-null wins), once
        for (let t = 0; t < times; t++) fields.push([pick(names[f]), pick(values[f])()]);
      }
      if (r() < 0.1) fields.push(['Other', { nested: [1, 2] }]);
      if (r() < 0.3) fields.sort(() => r() - 0.5);
      let raw = `{${fields.map(([k, v]) => `${JSON.stringify(k)}${r() < 0.1 ? ' : ' : ':'}${JSON.stringify(v)}`).join(r() < 0.1 ? ' ,\n' : ',')}}`;
      if (r() < 0.03) raw = pick([raw.slice(0, -1), `[${raw}]`, 'null', '"x"', `${raw}x`, raw.replace('P', '\\u0050'), raw.replace('"', '')]);
      const key = `/coreos.com/network/subnets/${r() < 0.9 ? keys[0] : pick(keys)}`;
      const reservation = r() < 0.1;
      const want = outcome(() => referenceParse(key, raw, reservation));
      expect(outcome(() => parseLease(key, raw, reservation)), raw).toEqual(want);
      if ((want as { lease?: Lease }).lease) valid++;
      else corrupt++;
    }
    // Both kinds well represented.
    expect(valid).toBeGreaterThan(3_000);
    expect(corrupt).toBeGreaterThan(2_000);
  });

  it('names the problem of a broken lease, never returning an entry for it', () => {
    const key = '/coreos.com/network/subnets/10.5.7.0-24';
    const reason = (raw: string): string => {
      try {
        parseLease(key, raw, false);
      } catch (e) {
        return (e as CorruptLeaseError).reason;
      }
      return 'parsed';
    };
    expect(reason('{"PublicIP":"10.0.0.300","BackendType":"vxlan"}')).toBe('PublicIP "10.0.0.300" is not valid');
    expect(reason('{"PublicIP":null,"BackendType":"vxlan"}')).toBe('no PublicIP');
    expect(reason('{"PublicIP":"192.0.2.1","BackendType":7}')).toBe('BackendType 7 is not valid');
    expect(reason('{"PublicIP":"192.0.2.1"')).toMatch(/^value is not JSON: /);
    expect(reason('[1]')).toBe('value is not a JSON object');
    expect(reason('{"publicip":"192.0.2.1","PublicIP":null}')).toBe('parsed'); // a later null changes nothing
  });
});
