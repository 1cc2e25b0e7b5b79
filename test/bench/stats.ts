export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** value / the baseline measured in the same run (1 for the baseline itself). */
  readonly ratio?: number;
  readonly baseline?: string;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function printResults(title: string, rows: readonly BenchResult[]): void {
  console.log(`\n## ${title}`);
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const v = r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2);
    const ratio = r.ratio === undefined ? '' : `  x${r.ratio.toFixed(2)}${r.baseline ? ` of ${r.baseline}` : ''}`;
    console.log(`${r.name.padEnd(w)}  ${v.padStart(9)} ${r.unit}${ratio}`);
  }
}

/**
 * A distribution-free confidence interval of the median (no assumption about the noise's shape): the
 * order statistics k and n + 1 - k of the sorted sample, k the largest with P(Binomial(n, 1/2) < k) ≤
 * (1 - conf) / 2. With too few values for that (n < 6 at 95 %), the whole range.
 */
export function medianCi(xs: readonly number[], conf = 0.95): [number, number] {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return [NaN, NaN];
  const tail = (1 - conf) / 2;
  let k = 0;
  let coef = 1; // C(n, j)
  let below = 0; // P(B <= j)
  for (let j = 0; j < n; j++) {
    if (j > 0) coef = (coef * (n - j + 1)) / j;
    below += coef / 2 ** n;
    if (below > tail) break;
    k = j + 1;
  }
  return k === 0 ? [s[0]!, s[n - 1]!] : [s[k - 1]!, s[n - k]!];
}
