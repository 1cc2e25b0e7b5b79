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
