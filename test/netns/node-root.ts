// A lab node's own view of the host paths a DaemonSet mounts (/run/flannel, /etc/cni/net.d, …): the lab
// hosts share the machine's file system, so each node's daemons (containerd, dockerd, the kubelet) run in a
// mount namespace of their own (unshare, propagation slave: nothing mounts back into the machine's) where
// each such path is a bind of <host.dir>/root/<path>. The mount points themselves must exist on the machine:
// the missing ones are made (empty) and removed again by cleanup() when still empty.
import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { Host } from './lab.js';

export interface NodeRoot {
  /** `<host.dir>/root`: what the node sees at /<p> is here at <dir>/<p>. */
  readonly dir: string;
  /** argv run in the node's mount namespace (it execs: the same PID). */
  wrap(argv: readonly string[]): string[];
}

/** Mount points made on the machine by this process, deepest first for the cleanup. */
const made: string[] = [];

async function ensureMountPoint(p: string): Promise<void> {
  const missing: string[] = [];
  for (let d = p; d !== '/' && !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  if (missing.length === 0) return;
  await mkdir(p, { recursive: true });
  made.unshift(...missing.reverse());
}

export async function nodeRoot(h: Host, paths: readonly string[]): Promise<NodeRoot> {
  const dir = path.join(h.dir, 'root');
  for (const p of paths) {
    if (!path.isAbsolute(p) || p.includes("'")) throw new RangeError(`not an absolute path without quotes: ${p}`);
    await mkdir(path.join(dir, p), { recursive: true });
    await ensureMountPoint(p);
  }
  const script = paths.map((p) => `mount --bind '${path.join(dir, p)}' '${p}'`).join(' && ');
  return { dir, wrap: (argv) => ['unshare', '--mount', '--propagation', 'slave', '--', 'sh', '-c', `${script} && exec "$@"`, 'node-root', ...argv] };
}

/** Removes the mount points made on the machine, those still empty. Never throws. */
export async function cleanupNodeRoots(): Promise<void> {
  for (const d of made.splice(0)) await rmdir(d).catch(() => undefined);
}
