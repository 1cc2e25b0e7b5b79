// A lab node's own view of the machine's directories that a DaemonSet's hostPath volumes name
// (/run/flannel, /etc/cni/net.d, /opt/cni/bin, …): the lab's nodes share the machine's file system, so each
// node's daemons (containerd, dockerd, the kubelet) run in one mount namespace of the node's own where each
// top directory (/run, /etc, /opt) is an overlay: the machine's directory read-only below, the node's
// <host.dir>/root/<top> above, so whatever the node writes there lands in its own directory and the
// machine's is never written (not even a mount point is made on it).
//
// One namespace for all of a node's daemons, held by a sleeping process of the node's and entered with
// nsenter: dockerd hands runc paths of mounts it made itself (a host-network container's network
// namespace is dockerd's bind mount at <exec-root>/netns/default), and runc runs under containerd; with a
// namespace per daemon, runc would open the bare mount point there, and setns(2) refuses it (EINVAL:
// "failed to setns into net namespace", which runc reports as "can't get final child's PID from pipe: EOF").
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from './flannel.js';
import type { Host, Proc } from './lab.js';

export interface NodeRoot {
  /** `<host.dir>/root` */
  readonly dir: string;
  /** Where the node's /<top>/<rest> lands when the node writes it: <dir>/<top>/upper/<rest>. */
  pathOf(p: string): string;
  /** argv run in the node's mount namespace (nsenter execs: the same PID). */
  wrap(argv: readonly string[]): string[];
  /** Ends the holder; the namespace goes with the last of the node's processes. */
  stop(): Promise<void>;
}

const TOP = /^\/[a-z]+$/;

/** Starts the holder of host `h`'s mount namespace with an overlay on each of `tops` (e.g. ['/run', '/etc', '/opt']). */
export async function startNodeRoot(h: Host, tops: readonly string[]): Promise<NodeRoot> {
  const dir = path.join(h.dir, 'root');
  const lines: string[] = [];
  for (const top of tops) {
    if (!TOP.test(top) || !existsSync(top)) throw new RangeError(`not an existing top directory: ${top}`);
    const d = path.join(dir, top.slice(1));
    await mkdir(path.join(d, 'upper'), { recursive: true });
    await mkdir(path.join(d, 'work'), { recursive: true });
    lines.push(`mount -t overlay overlay -o 'lowerdir=${top},upperdir=${d}/upper,workdir=${d}/work' '${top}'`);
  }
  const ready = path.join(dir, 'ready');
  // propagation slave: nothing mounted here shows in the machine's namespace.
  const script = `${lines.join(' && ')} && touch '${ready}' && exec sleep 2147483647`;
  const holder: Proc = h.spawn(['unshare', '--mount', '--propagation', 'slave', '--', 'sh', '-ec', script], { logFile: path.join(h.dir, 'node-root.log') });
  await waitFor(`the mount namespace of ${h.name}`, () => {
    if (!holder.running) throw new Error(`the mount namespace holder of ${h.name} exited: ${holder.stderr()}`);
    return existsSync(ready);
  }, 10_000, 50);
  const ns = `/proc/${holder.pid}/ns/mnt`;
  return {
    dir,
    pathOf: (p) => {
      const top = tops.find((t) => p === t || p.startsWith(`${t}/`));
      if (!top) throw new RangeError(`${p} is not under ${tops.join(', ')}`);
      return path.join(dir, top.slice(1), 'upper', p.slice(top.length));
    },
    wrap: (argv) => ['nsenter', `--mount=${ns}`, '--', ...argv],
    stop: async () => {
      await holder.stop(5_000).catch(() => undefined);
    },
  };
}
