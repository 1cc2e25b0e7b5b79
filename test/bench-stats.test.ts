import { describe, expect, it } from 'vitest';
// eslint-disable-next-line no-restricted-imports -- test/bench has no index (each bench is run by name); this is its statistics module under test
import { medianCi, percentile } from './bench/stats.js';

describe('bench statistics', () => {
  it('percentile: the nearest rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([], 50)).toBeNaN();
  });

  it('medianCi: the order statistics the binomial gives, at least the confidence asked', () => {
    const xs = Array.from({ length: 16 }, (_, i) => i + 1);
    // P(B(16, 1/2) <= 3) = 0.0106 <= 0.025 < P(B <= 4) = 0.0384: the 4th and the 13th.
    expect(medianCi(xs)).toEqual([4, 13]);
    // n = 8: P(B <= 0) = 0.0039, P(B <= 1) = 0.035: the 1st and the 8th.
    expect(medianCi([8, 7, 6, 5, 4, 3, 2, 1])).toEqual([1, 8]);
    // At 90 %: P(B(16) <= 4) = 0.0384 <= 0.05 < P(B <= 5) = 0.105: the 5th and the 12th.
    expect(medianCi(xs, 0.9)).toEqual([5, 12]);
  });

  it('medianCi: too few values for the confidence give the whole range; none gives NaN', () => {
    expect(medianCi([3, 1, 2])).toEqual([1, 3]);
    expect(medianCi([]).every(Number.isNaN)).toBe(true);
  });
});
