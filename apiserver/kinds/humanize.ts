// How kubectl's tables print times and selectors (apimachinery's duration.HumanDuration, labels.FormatLabels,
// metav1.FormatLabelSelector), so the server's Table rows read as kube-apiserver's do.
import { isObject } from '../../core/index.js';
import { list, obj, str, strMap, strs } from './access.js';

/** duration.HumanDuration: 5s, 3m2s, 15m, 4h, 2d3h, 45d, 2y30d. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: the age of an RFC 3339 timestamp, `<unknown>` when there is none. */
export function since(timestamp: string | undefined, nowMs: number): string {
  const t = timestamp ? Date.parse(timestamp) : NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(nowMs - t);
}

/** labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty. */
export function formatLabels(m: Record<string, string>): string {
  const keys = Object.keys(m).sort();
  return keys.length ? keys.map((k) => `${k}=${m[k]}`).join(',') : '<none>';
}

/** A metav1.LabelSelector as labels.Selector.String() prints it; undefined when it is not a valid selector. */
export function labelSelectorString(sel: unknown): string | undefined {
  if (!isObject(sel)) return '';
  const reqs: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(strMap(sel, 'matchLabels'))) reqs.push({ key: k, text: `${k}=${v}` });
  for (const e of list(sel, 'matchExpressions') ?? []) {
    const key = str(e, 'key') ?? '';
    const values = [...strs(e, 'values')].sort();
    switch (str(e, 'operator')) {
      case 'In':
        reqs.push({ key, text: `${key} in (${values.join(',')})` });
        break;
      case 'NotIn':
        reqs.push({ key, text: `${key} notin (${values.join(',')})` });
        break;
      case 'Exists':
        reqs.push({ key, text: key });
        break;
      case 'DoesNotExist':
        reqs.push({ key, text: `!${key}` });
        break;
      default:
        return undefined;
    }
  }
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs.map((r) => r.text).join(',');
}

/** metav1.FormatLabelSelector: the selector's string, `<none>` when empty, `<error>` when invalid. */
export function formatLabelSelector(sel: unknown): string {
  const s = labelSelectorString(sel);
  if (s === undefined) return '<error>';
  return s || '<none>';
}

/** The containers' names and images, comma-joined (layoutContainerCells). */
export function containerCells(podSpec: unknown): [string, string] {
  const cs = (list(podSpec, 'containers') ?? []).filter(isObject);
  return [cs.map((c) => str(c, 'name') ?? '').join(','), cs.map((c) => str(c, 'image') ?? '').join(',')];
}

/** A LoadBalancer status's ingress points, comma-joined (loadBalancerStatusStringer, wide). */
export function loadBalancerIngress(status: unknown): string {
  const lb = obj(status, 'loadBalancer');
  return (list(lb, 'ingress') ?? [])
    .filter(isObject)
    .map((i) => str(i, 'ip') || str(i, 'hostname') || '')
    .filter((s) => s)
    .join(',');
}
