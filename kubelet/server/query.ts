// A boolean query parameter as the kubelet's query decoding reads it (Go's strconv.ParseBool). Pure.
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

export const queryBoolean = (q: URLSearchParams, key: string): boolean => {
  const v = q.get(key);
  return v !== null && TRUE.has(v);
};
