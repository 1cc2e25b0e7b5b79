import { describe, expect, it } from 'vitest';
import { AddressError, addIp, contains, formatCidr, formatIp, networkOf, overlaps, parseCidr, parseIp } from '../ipam/index.js';

describe('address arithmetic, one path for both families', () => {
  it('parses and formats IPv4 and IPv6 (shortest form)', () => {
    expect(formatIp(parseIp('10.5.72.1'))).toBe('10.5.72.1');
    expect(formatIp(parseIp('fc00:0:0:0:0:0:0:1'))).toBe('fc00::1');
    expect(formatIp(parseIp('FC00:0:0:48::'))).toBe('fc00:0:0:48::');
    expect(formatCidr(networkOf(parseCidr('10.5.72.9/24')))).toBe('10.5.72.0/24');
  });
  it('rejects malformed addresses', () => {
    for (const s of ['10.5.72', '10.5.72.256', '010.5.0.1', 'fc00:::1:::', 'hello', '']) {
      expect(() => parseIp(s), s).toThrow(AddressError);
    }
    expect(() => parseCidr('10.5.0.0/33')).toThrow(AddressError);
    expect(() => parseCidr('10.5.0.0')).toThrow(AddressError);
  });
  it('contains, overlaps and adds across families', () => {
    const n = parseCidr('10.5.0.0/16');
    expect(contains(n, parseIp('10.5.255.255'))).toBe(true);
    expect(contains(n, parseIp('10.6.0.0'))).toBe(false);
    expect(contains(n, parseIp('fc00::1'))).toBe(false);
    expect(overlaps(parseCidr('10.5.0.0/16'), parseCidr('10.5.3.0/24'))).toBe(true);
    expect(overlaps(parseCidr('10.5.3.0/24'), parseCidr('10.5.4.0/24'))).toBe(false);
    expect(formatIp(addIp(parseIp('fc00::ffff'), 1n))).toBe('fc00::1:0');
    expect(() => addIp(parseIp('255.255.255.255'), 1n)).toThrow(AddressError);
  });
});
