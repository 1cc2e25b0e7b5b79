// resource.Quantity with exact arithmetic (nano-units in a bigint) and its canonical printing, as
// k8s.io/apimachinery/pkg/api/resource does: `1500m`, `2`, `128Mi`, `1k`. What LimitRanger compares and
// what ResourceQuota adds up and prints (status.used) must not drift with floating point.
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 10^-9 (rounded up, as Kubernetes rounds to its smallest scale). */
  readonly nano: bigint;
  readonly format: QuantityFormat;
}

const RE = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;
const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_EXP: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const NANO = 1_000_000_000n;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Divides rounding away from zero's opposite: up for positive values (Kubernetes rounds up to nano). */
function divCeil(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** A quantity from its JSON form (a string, or a number as YAML gives `2`); undefined when it is not one. */
export function parseQuantity(v: unknown): Quantity | undefined {
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  if (typeof s !== 'string') return undefined;
  const m = RE.exec(s.trim());
  if (!m) return undefined;
  const [, sign, num, suffix = ''] = m as unknown as [string, string, string, string | undefined];
  const [whole = '', frac = ''] = num.split('.');
  let digits = BigInt(`${whole || '0'}${frac}`);
  let exp10 = -frac.length;
  let format: QuantityFormat = 'DecimalSI';
  let binary = 0;
  if (suffix in BINARY_EXP) {
    format = 'BinarySI';
    binary = BINARY_EXP[suffix]!;
  } else if (suffix in DECIMAL_EXP) exp10 += DECIMAL_EXP[suffix]!;
  else {
    format = 'DecimalExponent';
    exp10 += Number(suffix.slice(1));
  }
  if (Math.abs(exp10) > 40) return undefined;
  digits *= 2n ** BigInt(binary);
  // digits × 10^exp10 in nano units: × 10^(exp10 + 9).
  const shift = exp10 + 9;
  let nano = shift >= 0 ? digits * pow10(shift) : divCeil(digits, pow10(-shift));
  if (sign === '-') nano = -nano;
  return { nano, format };
}

export const zero = (format: QuantityFormat = 'DecimalSI'): Quantity => ({ nano: 0n, format });
/** Quantity.Add: the sum in the first one's format (a zero takes the other's, as Kubernetes' does). */
export const add = (a: Quantity, b: Quantity): Quantity => ({ nano: a.nano + b.nano, format: a.nano === 0n ? b.format : a.format });
export const sub = (a: Quantity, b: Quantity): Quantity => ({ nano: a.nano - b.nano, format: a.format });
export const cmp = (a: Quantity, b: Quantity): number => (a.nano < b.nano ? -1 : a.nano > b.nano ? 1 : 0);
export const maxOf = (a: Quantity, b: Quantity): Quantity => (cmp(a, b) >= 0 ? a : b);
/** A count (pods=3) as a quantity. */
export const count = (n: number): Quantity => ({ nano: BigInt(n) * NANO, format: 'DecimalSI' });
/** The value in milli-units, as a float (ratios). */
export const milli = (q: Quantity): number => Number(q.nano / 1_000_000n);

const DECIMAL_SUFFIX: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const BINARY_SUFFIX = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** Quantity.String(): the canonical form. */
export function formatQuantity(q: Quantity): string {
  const neg = q.nano < 0n;
  const abs = neg ? -q.nano : q.nano;
  const sign = neg ? '-' : '';
  if (abs === 0n) return '0';
  // BinarySI only for whole values of at least 1024 (smaller or fractional ones print as DecimalSI).
  if (q.format === 'BinarySI' && abs % NANO === 0n && abs / NANO >= 1024n) {
    let v = abs / NANO;
    let i = 0;
    while (i < BINARY_SUFFIX.length - 1 && v % 1024n === 0n) {
      v /= 1024n;
      i++;
    }
    return `${sign}${v}${BINARY_SUFFIX[i]}`;
  }
  // The largest power of ten (a multiple of 3 for DecimalSI) that leaves a whole mantissa.
  let exp = -9;
  let mant = abs;
  const step = q.format === 'DecimalExponent' ? 1 : 3;
  const top = q.format === 'DecimalExponent' ? 40 : 18;
  while (exp + step <= top && mant % pow10(step) === 0n) {
    mant /= pow10(step);
    exp += step;
  }
  if (q.format === 'DecimalExponent') return exp === 0 ? `${sign}${mant}` : `${sign}${mant}e${exp}`;
  return `${sign}${mant}${DECIMAL_SUFFIX[exp]}`;
}

/** A resource list (`{cpu: "1", memory: "1Gi"}`) parsed; values that are not quantities are left out. */
export function resourceList(v: unknown): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, raw] of Object.entries(v)) {
    const q = parseQuantity(raw);
    if (q) out.set(k, q);
  }
  return out;
}
