// Durations as Go's time.ParseDuration reads them, for the flags the Go daemons we mirror take as durations
// (kubelet, kube-proxy): a sign, then one or more decimal numbers each with a unit, "1h15m30.5s", "-1.5h",
// "300ms"; units ns, us (µs, μs), ms, s, m, h; "0" alone needs no unit. Anything else a caller accepts
// (kubelet's bare seconds) is the caller's rule, written there.
import { FlannelError } from './errors.js';

export class DurationError extends FlannelError {
  readonly code = 'DURATION';
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`time: ${reason} ${JSON.stringify(input)}`);
  }
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  '\u00b5s': 1e-3, // U+00B5 micro sign
  '\u03bcs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// Go's limit: the result is an int64 of nanoseconds.
const MAX_MS = 9_223_372_036_854.775807;

/** The duration in milliseconds (fractional below a millisecond, as Go keeps nanoseconds). Throws DurationError. */
export function parseDuration(s: string): number {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new DurationError(s, 'invalid duration');
  let total = 0;
  while (rest !== '') {
    // Go: digits, an optional fraction, at least one digit in all; then the unit, up to the next digit or '.'.
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    const [num, whole = '', frac] = m;
    if (whole === '' && (frac ?? '') === '') throw new DurationError(s, 'invalid duration');
    rest = rest.slice(num.length);
    const unitEnd = rest.search(/[\d.]/);
    const unit = unitEnd < 0 ? rest : rest.slice(0, unitEnd);
    if (unit === '') throw new DurationError(s, 'missing unit in duration');
    const perUnit = UNIT_MS[unit];
    if (perUnit === undefined) throw new DurationError(s, `unknown unit ${JSON.stringify(unit)} in duration`);
    total += Number(`${whole || '0'}.${frac || '0'}`) * perUnit;
    if (total > MAX_MS) throw new DurationError(s, 'invalid duration');
    rest = rest.slice(unit.length);
  }
  return sign * total;
}
