// resolv.conf as glibc reads it, and as the kubelet writes it for a pod. Pure.
//
// Read: `nameserver ADDR` (each one), `search D...` and `domain D` (the last of the two wins, as in
// glibc), `options O...` (accumulated); comments (# or ;) and unknown keywords are skipped.
import { isIP } from 'node:net';

export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let searches: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...fields] = line.split(/\s+/);
    switch (key) {
      case 'nameserver':
        if (fields[0]) nameservers.push(fields[0]);
        break;
      case 'search':
      case 'domain':
        // A trailing dot is the same domain; "." alone is the root, no search at all.
        searches = fields.map((f) => f.replace(/\.$/, '')).filter(Boolean);
        break;
      case 'options':
        options.push(...fields);
        break;
      default:
        break;
    }
  }
  return { nameservers, searches, options };
}

/** The file's text: one `nameserver` line each, then `search` and `options` when there are any. */
export function renderResolvConf(c: ResolvConf): string {
  const lines = c.nameservers.map((n) => `nameserver ${n}`);
  if (c.searches.length) lines.push(`search ${c.searches.join(' ')}`);
  if (c.options.length) lines.push(`options ${c.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Upstream servers for a socket: each nameserver on port 53 (a zone index such as `fe80::1%eth0` is
 * kept). Beyond glibc, `IP:PORT` and `[IPv6]:PORT` name another port (glibc skips such a line; tests and
 * labs point kube-dns at a server of their own with it). Entries that are no address are skipped.
 */
export function upstreamServers(c: ResolvConf): { readonly address: string; readonly port: number }[] {
  const out: { address: string; port: number }[] = [];
  for (const n of c.nameservers) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(n) ?? /^([\d.]+):(\d+)$/.exec(n);
    const [address, port] = m ? [m[1]!, Number(m[2])] : [n, 53];
    if (isIP(address.replace(/%.*$/, '')) && port > 0 && port < 65536) out.push({ address, port });
  }
  return out;
}
