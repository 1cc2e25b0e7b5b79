// The shared helpers in common/: Go's JSON key matching and typed readers, Go's duration grammar, and the
// promise combinators. (writeFileAtomic touches the disk: test/integration/fs.test.ts.)
import { describe, expect, it } from 'vitest';
import {
  DurationError,
  FlannelError,
  isJsonObject,
  isObject,
  jsonField,
  jsonReaders,
  mapLimit,
  parseDuration,
  withTimeout,
} from '../common/index.js';
import { parseLease } from '../ipam/index.js';

describe('JSON fields as Go encoding/json matches them', () => {
  it('matches exactly or ignoring case, the last matching key winning', () => {
    expect(jsonField({ network: 'a' }, 'Network')).toBe('a');
    expect(jsonField({ NETWORK: 'a' }, 'Network')).toBe('a');
    expect(jsonField({ Network: 'a', network: 'b' }, 'Network')).toBe('b');
    expect(jsonField({ network: 'b', Network: 'a' }, 'Network')).toBe('a');
    expect(jsonField({ Networks: 'a' }, 'Network')).toBeUndefined();
    expect(jsonField({ type: 1, Type: 2, TYPE: 3 }, 'Type')).toBe(3);
    expect(jsonField({}, 'Type')).toBeUndefined();
  });
  it('folds as Go does: the Kelvin sign and the long s, nothing else', () => {
    expect(jsonField({ '\u212aey': 1 }, 'Key')).toBe(1);
    expect(jsonField({ '\u017fubnetLen': 24 }, 'SubnetLen')).toBe(24);
    expect(jsonField({ 'Subnetlen\u0131': 24 }, 'SubnetLenI')).toBeUndefined();
  });
  it('a null leaves the field unset: an earlier value stays', () => {
    expect(jsonField({ Port: null }, 'Port')).toBeUndefined();
    expect(jsonField({ Port: 1, port: null }, 'Port')).toBe(1);
  });
  it('a lease value is read as flannel reads LeaseAttrs: key case does not matter', () => {
    const l = parseLease('/coreos.com/network/subnets/10.5.72.0-24', '{"publicip":"192.168.1.7","backendTYPE":"vxlan","backenddata":{"VNI":1}}', false);
    expect(l.attrs).toEqual({ publicIP: '192.168.1.7', backendType: 'vxlan', backendData: { VNI: 1 } });
  });
  it('isObject is a plain object, not null or an array', () => {
    expect(isObject({})).toBe(true);
    expect(isJsonObject({ a: 1 })).toBe(true);
    for (const v of [null, [], 'x', 1, undefined]) expect(isObject(v), String(v)).toBe(false);
  });
});

class FieldError extends FlannelError {
  readonly code = 'TEST_FIELD';
  constructor(
    readonly path: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

describe('typed JSON readers throw the caller\'s error with the field path', () => {
  const r = jsonReaders((path, value, reason) => new FieldError(path, value, reason));
  const fail = (f: () => unknown): FieldError => {
    try {
      f();
    } catch (e) {
      if (e instanceof FieldError) return e;
      throw e;
    }
    throw new Error('did not throw');
  };
  it('reads each kind, absent and null as undefined', () => {
    const o = { Name: 'n', on: true, n: 3, obj: { a: 1 }, arr: [1], nul: null };
    expect(r.optString(o, 'name', '')).toBe('n');
    expect(r.optBool(o, 'On', '')).toBe(true);
    expect(r.optInt(o, 'N', '', 0, 3)).toBe(3);
    expect(r.optObject(o, 'Obj', '')).toEqual({ a: 1 });
    expect(r.optArray(o, 'arr', '')).toEqual([1]);
    expect(r.optString(o, 'nul', '')).toBeUndefined();
    expect(r.optString(o, 'missing', '')).toBeUndefined();
    expect(r.stringAt('s', 'x[0]')).toBe('s');
    expect(r.objectAt({ b: 2 }, 'x[0]')).toEqual({ b: 2 });
  });
  it('names the path and the value of a wrong one', () => {
    expect(fail(() => r.optString({ Name: 1 }, 'name', 'ipam'))).toMatchObject({ path: 'ipam.name', value: 1, reason: 'must be a string' });
    expect(fail(() => r.optInt({ n: 4 }, 'n', '', 0, 3))).toMatchObject({ path: 'n', value: 4, reason: 'must be an integer in 0..3' });
    expect(fail(() => r.optInt({ n: 1.5 }, 'n', '', 0, 3)).path).toBe('n');
    expect(fail(() => r.optBool({ b: 'true' }, 'b', 'x')).reason).toBe('must be true or false');
    expect(fail(() => r.optObject({ o: [] }, 'o', '')).reason).toBe('must be an object');
    expect(fail(() => r.optArray({ a: {} }, 'a', '')).reason).toBe('must be an array');
    expect(fail(() => r.objectAt(1, 'ranges[0]')).path).toBe('ranges[0]');
    expect(fail(() => r.stringAt(null, 'dns[1]')).path).toBe('dns[1]');
  });
});

describe("durations in Go's time.ParseDuration grammar, in milliseconds", () => {
  it('reads what Go reads', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['-0', 0],
      ['+0', 0],
      ['5s', 5000],
      ['30s', 30_000],
      ['1478s', 1_478_000],
      ['-5s', -5000],
      ['+5s', 5000],
      ['-0s', -0],
      ['5.0s', 5000],
      ['5.6s', 5600],
      ['5.s', 5000],
      ['.5s', 500],
      ['1.0s', 1000],
      ['1.004s', 1004],
      ['100.00100s', 100_001],
      ['10ns', 10e-6],
      ['11us', 11e-3],
      ['12µs', 12e-3],
      ['12μs', 12e-3],
      ['13ms', 13],
      ['14s', 14_000],
      ['15m', 900_000],
      ['16h', 57_600_000],
      ['3h30m', 12_600_000],
      ['10.5s4m', 250_500],
      ['-2m3.4s', -123_400],
      ['1h2m3s4ms5us6ns', 3_723_004.005006],
      ['39h9m14.425s', 140_954_425],
      ['2562047h', 9_223_369_200_000],
    ];
    for (const [s, ms] of cases) expect(parseDuration(s), s).toBeCloseTo(ms, 6);
  });
  it("refuses what Go refuses, with Go's reason", () => {
    const cases: [string, RegExp][] = [
      ['', /invalid duration/],
      ['3', /missing unit/],
      ['-', /invalid duration/],
      ['s', /invalid duration/],
      ['.', /invalid duration/],
      ['-.', /invalid duration/],
      ['.s', /invalid duration/],
      ['+.s', /invalid duration/],
      ['1d', /unknown unit "d"/],
      ['1m 30s', /unknown unit "m "/],
      [' 1s', /invalid duration/],
      ['1s ', /unknown unit "s "/],
      ['1.5.5s', /missing unit/],
      ['9223372036855s', /invalid duration/],
      ['2562048h', /invalid duration/],
    ];
    for (const [s, re] of cases) {
      expect(() => parseDuration(s), s).toThrow(DurationError);
      expect(() => parseDuration(s), s).toThrow(re);
    }
  });
});

describe('withTimeout and mapLimit', () => {
  it("withTimeout gives the promise's value, or undefined at the deadline", async () => {
    expect(await withTimeout(Promise.resolve(7), 1000)).toBe(7);
    expect(await withTimeout(new Promise<number>(() => undefined), 5)).toBeUndefined();
    await expect(withTimeout(Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
  });
  it('mapLimit keeps at most `limit` in flight, runs every item once, and returns the failures', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const items = Array.from({ length: 20 }, (_, i) => i);
    const failed = await mapLimit(items, 3, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(i);
      inFlight--;
      if (i % 7 === 0) throw new Error(`item ${i}`);
    });
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(items);
    expect(failed.map((f) => f.item)).toEqual([0, 7, 14]);
    expect((failed[1]?.err as Error).message).toBe('item 7');
  });
  it('mapLimit with a limit below 1 still runs every item, one at a time', async () => {
    const seen: number[] = [];
    expect(await mapLimit([1, 2, 3], 0, async (i) => void seen.push(i))).toEqual([]);
    expect(seen).toEqual([1, 2, 3]);
    expect(await mapLimit([], 4, async () => undefined)).toEqual([]);
  });
});
