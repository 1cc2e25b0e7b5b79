// What a benchmarked daemon costs, from /proc: its node process behind the nsenter that started it,
// its CPU time (and its waited-for children's), and that over an idle window.
import { readFile } from 'node:fs/promises';
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

