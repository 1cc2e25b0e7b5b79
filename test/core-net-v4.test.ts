// The dotted-quad reader against the grammar it replaced (a regex and a split): on random strings
// over digits, dots and a few other characters, parseIp answers exactly as that reading did, value
// or error message, so the char-wise loop changed speed only.
import { describe, expect, it } from 'vitest';
import { parseIp } from '../core/index.js';

/** The previous reading of IPv4 text, kept here as the reference. */
function referenceV4(s: string): number | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return undefined;
  let value = 0;
  for (const o of s.split('.')) {
    if (o.length > 1 && o.startsWith('0')) throw new Error(`${JSON.stringify(s)} is not an IPv4 address (octets with leading zeros are ambiguous)`);
    const n = Number(o);
    if (n > 255) throw new Error(`${JSON.stringify(s)} is not an IPv4 address (octet above 255)`);
    value = value * 256 + n;
  }
  return value;
}

const outcome = (f: () => unknown): unknown => {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: (e as Error).message };
  }
};

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 16807) % 2147483647) - 1) / 2147483646;
}

describe('parseIp on IPv4 text', () => {
  it('answers as the regex-and-split reading did, on 100,000 random strings', () => {
    const r = rng(7);
    const alphabet = '0123456789.....09a: -+٣';
    let v4 = 0;
    for (let k = 0; k < 100_000; k++) {
      let s = '';
      if (r() < 0.5) {
        const len = Math.floor(r() * 18);
        for (let i = 0; i < len; i++) s += alphabet[Math.floor(r() * alphabet.length)];
      } else {
        // Dotted groups of digits, now and then one group too many or too few, or a stray character.
        const groups = r() < 0.9 ? 4 : r() < 0.5 ? 3 : 5;
        const parts = Array.from({ length: groups }, () => {
          const len = r() < 0.05 ? 4 : 1 + Math.floor(r() * 3);
          let g = '';
          for (let i = 0; i < len; i++) g += r() < 0.02 ? alphabet[Math.floor(r() * alphabet.length)] : String(Math.floor(r() * 10));
          return g;
        });
        s = parts.join('.');
      }
      const ref = outcome(() => referenceV4(s));
      if (typeof ref === 'object' && ref && 'ok' in ref && ref.ok !== undefined) {
        v4++;
        expect(outcome(() => parseIp(s)), s).toEqual({ ok: { family: 4, value: BigInt(ref.ok as number) } });
      } else if (typeof ref === 'object' && ref && 'err' in ref) {
        expect(outcome(() => parseIp(s)), s).toEqual(ref);
      } else {
        const got = outcome(() => parseIp(s)) as { ok?: { family: number } };
        expect(got.ok?.family, s).not.toBe(4);
      }
    }
    expect(v4).toBeGreaterThan(5_000); // the generator does reach valid addresses
  });

  it('reads the edges: 0.0.0.0, 255.255.255.255, and refuses 256, leading zeros, five groups, empty groups', () => {
    expect(parseIp('0.0.0.0')).toEqual({ family: 4, value: 0n });
    expect(parseIp('255.255.255.255')).toEqual({ family: 4, value: 0xffffffffn });
    expect(parseIp('10.1.2.3')).toEqual({ family: 4, value: 0x0a010203n });
    expect(() => parseIp('10.1.2.256')).toThrow(/octet above 255/);
    expect(() => parseIp('10.01.2.3')).toThrow(/leading zeros/);
    expect(() => parseIp('1.2.3.4.5')).toThrow(/is not an IPv4 or IPv6 address/);
    expect(() => parseIp('1..2.3')).toThrow(/is not an IPv4 or IPv6 address/);
    expect(() => parseIp('1.2.3.')).toThrow(/is not an IPv4 or IPv6 address/);
  });
});
