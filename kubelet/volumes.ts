// Pod volumes as Docker bind mounts: emptyDir is a directory per pod and volume under
// <root-dir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name> (shared by the pod's containers, removed
// with the pod), hostPath is the node's path, checked or created according to its type.
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Container, Pod } from '../cluster/index.js';
import { FlannelError, errorMessage } from '../common/index.js';

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

/** Makes every volume of the pod ready on the node; returns volume name → host path. */
export async function setUpVolumes(rootDir: string, pod: Pod): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const uid = pod.metadata.uid ?? '';
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir) {
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
