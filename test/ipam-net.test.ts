import { describe, expect, it } from 'vitest';
import { AddressError, addIp, contains, formatCidr, formatIp, networkOf, overlaps, parseCidr, parseIp } from '../ipam/index.js';
import { canonicalIp, ipFromBytes, ipToBytes, parseCidrOrIp } from '../common/index.js';

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

// The IPv6 parser and formatter are ours now (ip-num is gone): Go's net.ParseIP grammar, RFC 5952 text.
describe('IPv6 text, as Go parses it and RFC 5952 prints it', () => {
  it('compresses the longest run of two or more zero groups, the first on a tie, in lower case', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['2001:0DB8:00AB::0001', '2001:db8:ab::1'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ];
    for (const [input, want] of cases) expect(canonicalIp(input), input).toBe(want);
  });
  it('reads an embedded dotted quad as the last two groups', () => {
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(canonicalIp('::1.2.3.4')).toBe('::102:304');
    expect(canonicalIp('1:2:3:4:5:6:1.2.3.4')).toBe('1:2:3:4:5:6:102:304');
    expect(parseIp('::ffff:192.0.2.1').family).toBe(6);
  });
  it('refuses what Go refuses: zones, misplaced or overlong parts, a "::" that stands for nothing', () => {
    for (const s of [
      'fe80::1%eth0',
      'fe80::1%25eth0',
      '1:2:3:4:5:6:7:8:9',
      '::1:2:3:4:5:6:7:8',
      '1:2:3:4::5:6:7:8',
      '1:2:3:4:5:6:7',
      '12345::1',
      '1::2::3',
      ':1::2',
      '1::2:',
      ':::',
      ':',
      '1.2.3.4::',
      '::1.2.3.4:1',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::ffff:1.2.3',
      '::ffff:01.2.3.4',
      '::ffff:1.2.3.256',
      '::g',
      ' ::1',
    ]) {
      expect(() => parseIp(s), s).toThrow(AddressError);
    }
    expect(() => parseIp('fe80::1%eth0')).toThrow(/zone/);
  });
  it('converts to and from network-order bytes', () => {
    expect([...ipToBytes(parseIp('10.5.3.1'))]).toEqual([10, 5, 3, 1]);
    const v6 = ipToBytes(parseIp('2001:db8::2'));
    expect(v6.toString('hex')).toBe('20010db8000000000000000000000002');
    expect(formatIp(ipFromBytes(v6))).toBe('2001:db8::2');
    expect(formatIp(ipFromBytes(Buffer.alloc(16, 0xff)))).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(() => ipFromBytes(Buffer.alloc(5))).toThrow(AddressError);
  });
  it('parseCidrOrIp gives a bare address its full-length prefix; parseCidr demands one', () => {
    expect(formatCidr(parseCidrOrIp('fd00::1'))).toBe('fd00::1/128');
    expect(formatCidr(parseCidrOrIp('10.0.0.1'))).toBe('10.0.0.1/32');
    expect(formatCidr(parseCidrOrIp('FD00::0/64'))).toBe('fd00::/64');
    expect(() => parseCidr('fd00::1')).toThrow(AddressError);
    expect(() => parseCidr('fd00::/129')).toThrow(/0\.\.128/);
    expect(() => parseCidr('10.0.0.0/-1')).toThrow(AddressError);
    expect(() => parseCidr('10.0.0.0/1/2')).toThrow(AddressError);
  });
});
