// Pod volumes as Docker bind mounts: emptyDir is a directory per pod and volume under
// <root-dir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name> (shared by the pod's containers, removed
// with the pod), hostPath is the node's path, checked or created according to its type; projected,
// configMap, secret and downwardAPI volumes are files written (atomically, projected.ts) into
// kubernetes.io~projected/<name> (and ~configmap, ~secret, ~downward-api), again on every sync.
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Container, Pod } from '../cluster/index.js';
import { FlannelError, errorMessage } from '../common/index.js';
import { type ProjectionSources, projectedFiles, writeProjection } from './projected.js';

export class VolumeError extends FlannelError {
  readonly code = 'VOLUME';
  override readonly transient = true;
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(`volume ${volume}: ${message}`);
  }
}

export const podDir = (rootDir: string, uid: string): string => path.join(rootDir, 'pods', uid);
export const emptyDirPath = (rootDir: string, uid: string, name: string): string => path.join(podDir(rootDir, uid), 'volumes', 'kubernetes.io~empty-dir', name);

type Obj = Record<string, unknown>;
const isRec = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The volume types written as files, with their plugin directory; each as the projected source it is. */
const FILE_VOLUMES: readonly { field: string; dir: string; asProjected: (src: Obj) => Obj }[] = [
  { field: 'projected', dir: 'kubernetes.io~projected', asProjected: (src) => src },
  { field: 'configMap', dir: 'kubernetes.io~configmap', asProjected: (src) => ({ defaultMode: src.defaultMode, sources: [{ configMap: src }] }) },
  { field: 'secret', dir: 'kubernetes.io~secret', asProjected: (src) => ({ defaultMode: src.defaultMode, sources: [{ secret: { ...src, name: src.secretName } }] }) },
  { field: 'downwardAPI', dir: 'kubernetes.io~downward-api', asProjected: (src) => ({ defaultMode: src.defaultMode, sources: [{ downwardAPI: src }] }) },
];

/** Whether the pod has a volume whose files the kubelet writes (and keeps up to date on each sync). */
export const hasFileVolumes = (pod: Pod): boolean => (pod.spec.volumes ?? []).some((v) => FILE_VOLUMES.some((f) => isRec((v as unknown as Obj)[f.field])));

const readText = (p: string): Promise<string | undefined> => readFile(p, 'utf8').catch(() => undefined);

/**
 * Makes every volume of the pod ready on the node; returns volume name → host path. `sources` feed the
 * file volumes (absent: a pod with one fails with a VolumeError naming it).
 */
export async function setUpVolumes(rootDir: string, pod: Pod, sources?: ProjectionSources): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const uid = pod.metadata.uid ?? '';
  for (const v of pod.spec.volumes ?? []) {
    const fileVolume = FILE_VOLUMES.find((f) => isRec((v as unknown as Obj)[f.field]));
    if (fileVolume) {
      if (!sources) throw new VolumeError(v.name, `${fileVolume.field} volumes are not set up by this kubelet`);
      const p = path.join(podDir(rootDir, uid), 'volumes', fileVolume.dir, v.name);
      try {
        await writeProjection(p, await projectedFiles(pod, fileVolume.asProjected((v as unknown as Obj)[fileVolume.field] as Obj), sources), readText);
      } catch (e) {
        throw new VolumeError(v.name, `MountVolume.SetUp failed: ${errorMessage(e)}`);
      }
      out.set(v.name, p);
    } else if (v.emptyDir) {
      const p = emptyDirPath(rootDir, uid, v.name);
      await mkdir(p, { recursive: true, mode: 0o777 });
      out.set(v.name, p);
    } else if (v.hostPath) {
      await checkHostPath(v.name, v.hostPath.path, v.hostPath.type ?? '');
      out.set(v.name, v.hostPath.path);
    }
  }
  return out;
}

async function checkHostPath(name: string, p: string, type: string): Promise<void> {
  const st = await stat(p).catch(() => undefined);
  const want = (ok: boolean, what: string): void => {
    if (!ok) throw new VolumeError(name, `hostPath type check failed: ${p} is not a ${what}`);
  };
  switch (type) {
    case 'DirectoryOrCreate':
      if (!st) await mkdir(p, { recursive: true, mode: 0o755 });
      else want(st.isDirectory(), 'directory');
      return;
    case 'FileOrCreate':
      if (!st) {
        await mkdir(path.dirname(p), { recursive: true });
        await (await open(p, 'a', 0o644)).close();
      } else want(st.isFile(), 'file');
      return;
    case 'Directory':
      return want(st?.isDirectory() === true, 'directory');
    case 'File':
      return want(st?.isFile() === true, 'file');
    case 'Socket':
      return want(st?.isSocket() === true, 'socket');
    case 'CharDevice':
      return want(st?.isCharacterDevice() === true, 'character device');
    case 'BlockDevice':
      return want(st?.isBlockDevice() === true, 'block device');
    default:
      return; // no check, as Kubernetes does for an empty type (Docker creates a missing directory)
  }
}

/** Docker `Binds` for one container: host:container[:ro]. */
export function bindsFor(c: Container, volumes: ReadonlyMap<string, string>): string[] {
  return (c.volumeMounts ?? []).map((m) => {
    const src = volumes.get(m.name);
    if (src === undefined) throw new VolumeError(m.name, 'not set up');
    return `${src}:${m.mountPath}${m.readOnly ? ':ro' : ''}`;
  });
}

/** Removes the pod's directory (its emptyDir volumes); never throws. */
export async function tearDownPodDir(rootDir: string, uid: string): Promise<string | undefined> {
  if (!uid || uid.includes('/') || uid.includes('..')) return 'bad uid';
  try {
    await rm(podDir(rootDir, uid), { recursive: true, force: true });
    return undefined;
  } catch (e) {
    return errorMessage(e);
  }
}
