// The lab's naming scheme. Everything a lab creates is named from its prefix, so it can be removed by
// exact name; the default prefix encodes the owning PID, so a crashed run's leftovers can be found.
//
//   prefix            fl<pid><2 letters>          fl4711qz       (default; the PID is process.pid)
//   switch netns      <prefix>-sw                 fl4711qz-sw    (bridge br0, underlay .1)
//   host netns        <prefix>-<host>             fl4711qz-a     (eth0, underlay .11, .12, ...)
//   pod netns         <prefix>-<host>-<pod>       fl4711qz-a-p1  (eth0 on the host's pod bridge)
//   temp dir          /tmp/<prefix>/{sw,<host>,<host>/<pod>}
//   switch-side veth  ve-<host>   (inside the switch netns)
//   host-side veth    vp-<pod>    (inside the host netns)
// Interface names live inside the lab's namespaces, so they need no prefix; all stay <= 15 chars.
import { randomInt } from 'node:crypto';

/** A default prefix: `fl` + PID + two random letters. */
export const DEFAULT_PREFIX_RE = /^fl(\d{1,7})([a-z]{2})$/;
/** Namespace names the stale sweeper may touch: a default prefix, a dash, lab name parts. */
export const STALE_NS_RE = /^fl(\d{1,7})[a-z]{2}-[a-z0-9-]{1,32}$/;

export const PREFIX_RE = /^[a-z][a-z0-9]{1,11}$/;
export const HOST_RE = /^[a-z][a-z0-9]{0,7}$/;
export const POD_RE = /^[a-z][a-z0-9]{0,9}$/;
export const SWITCH = 'sw';
export const IFNAMSIZ_MAX = 15;

export function defaultPrefix(pid = process.pid): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return `fl${pid}${letters[randomInt(26)]}${letters[randomInt(26)]}`;
}

/** Throws if a caller-chosen prefix is malformed, or looks like another process's default prefix. */
export function checkPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) throw new RangeError(`lab prefix ${JSON.stringify(prefix)} must match ${PREFIX_RE}`);
  const m = DEFAULT_PREFIX_RE.exec(prefix);
  if (m && Number(m[1]) !== process.pid) {
    // Another run's sweeper would delete it as soon as that PID is not alive.
    throw new RangeError(`lab prefix ${prefix} encodes pid ${m[1]}, not this process (${process.pid})`);
  }
}

export function checkHostName(name: string): void {
  if (!HOST_RE.test(name) || name === SWITCH) {
    throw new RangeError(`host name ${JSON.stringify(name)} must match ${HOST_RE} and not be "${SWITCH}"`);
  }
}

export function checkPodName(name: string): void {
  if (!POD_RE.test(name)) throw new RangeError(`pod name ${JSON.stringify(name)} must match ${POD_RE}`);
}

export function checkIfName(name: string): void {
  if (name.length === 0 || name.length > IFNAMSIZ_MAX || /[\s/:]/.test(name)) {
    throw new RangeError(`interface name ${JSON.stringify(name)} is not a valid Linux interface name`);
  }
}

export const switchPortName = (host: string): string => `ve-${host}`;
export const podPortName = (pod: string): string => `vp-${pod}`;
