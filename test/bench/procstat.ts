// What a benchmarked daemon costs, from /proc: its node process behind the nsenter that started it,
// its CPU time (and its waited-for children's), and that over an idle window.
import { readdir, readFile } from 'node:fs/promises';
import type { Proc } from '../netns/index.js';

/** A daemon's own node process: the labs spawn `nsenter … -- node …`, and nsenter execs node in place. */
export async function nodePid(p: Proc): Promise<number> {
  const comm = (await readFile(`/proc/${p.pid}/comm`, 'utf8')).trim();
  if (comm === 'node' || comm === 'MainThread') return p.pid;
  // A forking nsenter: the program is its only child.
  const kids = (await readFile(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  if (kids.length === 1 && kids[0]! > 0) return kids[0]!;
  throw new Error(`pid ${p.pid} is ${comm} with children ${kids.join(',')}`);
}

export interface MemStatus {
  rssKiB: number;
  hwmKiB: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status. */
export async function memStatus(pid: number): Promise<MemStatus> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** CPU time (user + system) of a process, and of its waited-for children, in ms. */
export async function cpuMs(pid: number): Promise<{ own: number; children: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17, in clock ticks (USER_HZ = 100).
  return { own: (Number(fields[11]) + Number(fields[12])) * 10, children: (Number(fields[13]) + Number(fields[14])) * 10 };
}

/** CPU a daemon (and what it runs) uses while nothing happens, over 20.5 s by default. */
export async function idleCpuMs(pid: number, windowMs = 20_500): Promise<{ own: number; children: number }> {
  const before = await cpuMs(pid);
  await new Promise((r) => setTimeout(r, windowMs));
  const after = await cpuMs(pid);
  return { own: after.own - before.own, children: after.children - before.children };
}


/** The live descendants of a process (children, their children, …), from /proc/<pid>/task/<tid>/children. */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift()!;
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const text = await readFile(`/proc/${p}/task/${t}/children`, 'utf8').catch(() => '');
      for (const c of text.trim().split(/\s+/).filter(Boolean).map(Number)) {
        out.push(c);
        queue.push(c);
      }
    }
  }
  return out;
}

/**
 * CPU of a process and everything it runs: its own, its reaped children's, and its live descendants'
 * (a long-lived helper such as `nft -i` is reaped only when it exits), in ms.
 */
export async function treeCpuMs(pid: number): Promise<number> {
  let total = 0;
  for (const p of [pid, ...(await descendants(pid))]) {
    const c = await cpuMs(p).catch(() => ({ own: 0, children: 0 }));
    total += c.own + c.children;
  }
  return total;
}

/** treeCpuMs over an idle window (a descendant that exits inside it is counted in its parent's reaped children). */
export async function idleTreeCpuMs(pid: number, windowMs = 20_500): Promise<number> {
  const before = await treeCpuMs(pid);
  await new Promise((r) => setTimeout(r, windowMs));
  return (await treeCpuMs(pid)) - before;
}
