// The node's own address when --node-ip is not given: the IPv4 address of the interface that holds
// the default route, read from /proc/net/route (which shows the caller's network namespace).
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';

/** The interface of the default IPv4 route in /proc/net/route text, if any. Pure. */
export function defaultRouteIface(procNetRoute: string): string | undefined {
  for (const line of procNetRoute.split('\n').slice(1)) {
    const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (iface && dest === '00000000' && mask === '00000000') return iface;
  }
  return undefined;
}

export async function detectNodeIp(): Promise<string | undefined> {
  const ifaces = networkInterfaces();
  const v4 = (name: string): string | undefined => ifaces[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  const dflt = defaultRouteIface(await readFile('/proc/net/route', 'utf8').catch(() => ''));
  if (dflt && v4(dflt)) return v4(dflt);
  for (const name of Object.keys(ifaces).sort()) {
    if (name === 'docker0' || name.startsWith('flannel') || name.startsWith('veth') || name === 'cni0') continue;
    const a = v4(name);
    if (a) return a;
  }
  return undefined;
}
