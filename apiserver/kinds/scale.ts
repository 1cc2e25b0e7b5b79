// The autoscaling/v1 Scale view of a kind with a `scale` subresource (`kubectl scale`): the object's
// replicas as a Scale, and a Scale written back as spec.replicas (ValidateScale first).
import { meta, nameOf, namespaceOf, num, obj } from './access.js';
import { invalid, required, typeInvalid } from './field-errors.js';
import type { FieldError, KubeObject, Strategy } from './types.js';

/** The Scale the server answers `GET .../scale` with; undefined for a kind without one. */
export function scaleOf(s: Strategy, o: KubeObject): KubeObject | undefined {
  if (!s.scale) return undefined;
  const r = s.scale.read(o);
  const m = meta(o);
  const scaleMeta: KubeObject = { name: nameOf(o), namespace: namespaceOf(o) };
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp']) if (m[k] !== undefined) scaleMeta[k] = m[k];
  return { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: scaleMeta, spec: { replicas: r.specReplicas }, status: { replicas: r.statusReplicas, selector: r.selector } };
}

/** ValidateScale: spec.replicas, a non-negative integer. */
export function validateScale(scale: KubeObject): FieldError[] {
  const spec = obj(scale, 'spec');
  const v = spec?.replicas;
  if (v === undefined) return spec ? [] : [required('spec')];
  if (typeof v !== 'number' || !Number.isInteger(v)) return [typeInvalid('spec.replicas', v, 'must be an integer')];
  return v < 0 ? [invalid('spec.replicas', v, 'must be greater than or equal to 0')] : [];
}

/** The object with the Scale's replicas applied (spec.replicas; an absent one means 0, as Go decodes it). */
export function applyScale(s: Strategy, o: KubeObject, scale: KubeObject): void {
  s.scale?.write(o, num(obj(scale, 'spec'), 'replicas') ?? 0);
}
