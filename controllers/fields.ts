// Reading the controllers' objects as parsed JSON, checked field by field (a missing or mistyped field is
// undefined, an absent object empty), and metav1.Time's format. Pure, shared by the controllers' logic.
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objAt = (o: unknown, k: string): Obj => (isObj(o) && isObj(o[k]) ? o[k] : {});
export const strAt = (o: unknown, k: string): string | undefined => (isObj(o) && typeof o[k] === 'string' ? o[k] : undefined);
export const numAt = (o: unknown, k: string): number | undefined => (isObj(o) && typeof o[k] === 'number' ? o[k] : undefined);

/** A timestamp's milliseconds, or undefined when absent or not a date. */
export const timeOf = (s: string | undefined): number | undefined => {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? undefined : t;
};

/** metav1.Time: RFC 3339 in whole seconds. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
