// flanneld's packet-filter rules, rendered as iptables-save prints them so that what the kernel
// holds can be compared line for line with what we want:
//   nat/FLANNEL-POSTRTG (--ip-masq): leave overlay-internal traffic and traffic the service proxy
//     marked alone, masquerade what leaves the overlay (--random-fully);
//   filter/FLANNEL-FWD (--iptables-forward-rules): accept forwarding to and from the network,
//     because Docker sets the FORWARD policy to DROP.
// Each chain is hooked from its built-in chain by exactly one jump. Chains that are not ours are
// never written.

/** The mark the service proxy sets on traffic it will masquerade itself (kube-proxy's 0x4000). */
export const PROXY_MASQ_MARK = '0x4000/0x4000';

export interface ChainSpec {
  readonly table: 'nat' | 'filter';
  readonly chain: string;
  /** The built-in chain that jumps to ours, and the match of that jump (without -A/-j). */
  readonly hook: { readonly chain: string; readonly rule: string };
  /** Rules without the leading `-A <chain> `. */
  readonly rules: readonly string[];
}

export interface TrafficParams {
  readonly network: string;
  readonly subnet: string;
}

const masqComment = '-m comment --comment "flanneld masq"';
const fwdComment = '-m comment --comment "flanneld forward"';
const multicast = (family: 4 | 6) => (family === 4 ? '224.0.0.0/4' : 'ff00::/8');

export function masqChain(p: TrafficParams, family: 4 | 6 = 4): ChainSpec {
  const { network: net, subnet: sn } = p;
  return {
    table: 'nat',
    chain: 'FLANNEL-POSTRTG',
    hook: { chain: 'POSTROUTING', rule: masqComment },
    rules: [
      `-m mark --mark ${PROXY_MASQ_MARK} ${masqComment} -j RETURN`,
      `-s ${sn} -d ${net} ${masqComment} -j RETURN`,
      `-s ${net} -d ${sn} ${masqComment} -j RETURN`,
      `! -s ${net} -d ${sn} ${masqComment} -j RETURN`,
      `-s ${net} ! -d ${multicast(family)} ${masqComment} -j MASQUERADE --random-fully`,
      `! -s ${net} -d ${net} ${masqComment} -j MASQUERADE --random-fully`,
    ],
  };
}

export function forwardChain(p: Pick<TrafficParams, 'network'>): ChainSpec {
  return {
    table: 'filter',
    chain: 'FLANNEL-FWD',
    hook: { chain: 'FORWARD', rule: fwdComment },
    rules: [`-s ${p.network} ${fwdComment} -j ACCEPT`, `-d ${p.network} ${fwdComment} -j ACCEPT`],
  };
}

/** iptables-save output: table → chain → its `-A` rules (without `-A <chain> `), in order. */
export type SavedRules = Map<string, Map<string, string[]>>;

export function parseIptablesSave(text: string): SavedRules {
  const out: SavedRules = new Map();
  let table: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = new Map();
      out.set(line.slice(1).trim(), table);
    } else if (line.startsWith(':') && table) {
      table.set(line.slice(1).split(' ')[0]!, []);
    } else if (line.startsWith('-A ') && table) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const rule = sp < 0 ? '' : rest.slice(sp + 1);
      if (!table.has(chain)) table.set(chain, []);
      table.get(chain)!.push(rule);
    }
  }
  return out;
}

/**
 * The `iptables-restore --noflush` payload that makes `saved` hold `specs` (our chains exactly as
 * specified, one hook each, hooks first in their built-in chain), or undefined when it already does.
 * Declaring a chain in the payload flushes it, so its rules are rewritten whole; built-in chains
 * are only touched by inserting or deleting our own jump.
 */
export function planRestore(specs: readonly ChainSpec[], saved: SavedRules): string | undefined {
  const byTable = new Map<string, string[]>();
  for (const s of specs) {
    const t = saved.get(s.table);
    const have = t?.get(s.chain);
    const jump = `${s.hook.rule} -j ${s.chain}`;
    const hooks = (t?.get(s.hook.chain) ?? []).map((r, i) => ({ r, i })).filter((x) => x.r === jump);
    const chainOk = have !== undefined && have.length === s.rules.length && have.every((r, i) => r === s.rules[i]);
    const hookOk = hooks.length === 1 && hooks[0]!.i === 0;
    if (chainOk && hookOk) continue;
    const lines = byTable.get(s.table) ?? [];
    lines.push(`:${s.chain} - [0:0]`);
    for (const r of s.rules) lines.push(`-A ${s.chain} ${r}`);
    if (!hookOk) {
      for (let i = 0; i < hooks.length; i++) lines.push(`-D ${s.hook.chain} ${jump}`);
      lines.push(`-I ${s.hook.chain} 1 ${jump}`);
    }
    byTable.set(s.table, lines);
  }
  if (byTable.size === 0) return undefined;
  return [...byTable].map(([table, lines]) => `*${table}\n${lines.join('\n')}\nCOMMIT\n`).join('');
}
