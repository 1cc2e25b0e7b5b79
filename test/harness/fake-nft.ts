// A recording fake of the kernel's nftables for the proxy's scripts, and a tracer that pushes a
// synthetic packet through what they built (kube-proxy's nftables helpers_test, for this layout).
//
// The fake applies a script as one transaction with the kernel's rules that matter here: adding an
// element whose key exists with another value fails (EEXIST), deleting a missing one fails (ENOENT),
// rules and elements may only name chains and sets that exist, a referenced chain or set cannot be
// deleted, and a set redeclared differently fails. A failure names the script line, like nft.
//
// The tracer understands the rule vocabulary ruleset.ts emits (concatenations of ip saddr/daddr,
// meta l4proto, th dport, numgen; set and map lookups; vmap; goto/jump/return; dnat; mark
// arithmetic; update of a dynamic set; fib daddr type local; masquerade; reject) and walks the base
// chains in hook and priority order, as the kernel would for the first packet of a connection.
import { contains, parseCidr, parseIp } from '../../core/index.js';
import { contextLines, NftError, type NftPort } from '../../proxy/index.js';

interface FakeSet {
  readonly kind: 'set' | 'map';
  readonly decl: string;
  readonly dynamic: boolean;
  /** key → value ('' for sets) */
  readonly elements: Map<string, string>;
  /** Dynamic sets: key → expiry (ms on the fake's clock). */
  readonly expires: Map<string, number>;
}
interface FakeChain {
  readonly hook?: string;
  rules: string[];
}
interface FakeTable {
  readonly chains: Map<string, FakeChain>;
  readonly sets: Map<string, FakeSet>;
}

export interface TracePacket {
  readonly src: string;
  readonly dst: string;
  readonly proto: 'tcp' | 'udp';
  readonly dport: number;
  /** 'prerouting' for a packet arriving (from a pod or another node), 'output' for the node's own. */
  readonly hook?: 'prerouting' | 'output';
  /** The node's own addresses (for `fib daddr type local`). */
  readonly localAddrs?: readonly string[];
  /** The random source for numgen; default Math.random. */
  readonly rnd?: () => number;
}

export interface TraceResult {
  readonly verdict: 'accept' | 'reject' | 'drop';
  /** Where DNAT sent it, if anywhere. */
  readonly dnat?: { readonly ip: string; readonly port: number };
  readonly masquerade: boolean;
  /** Chains visited, in order. */
  readonly path: readonly string[];
}

class FakeError extends Error {}

const cloneTable = (t: FakeTable): FakeTable => ({
  chains: new Map([...t.chains].map(([k, c]) => [k, { ...(c.hook !== undefined && { hook: c.hook }), rules: [...c.rules] }])),
  sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, elements: new Map(s.elements), expires: new Map(s.expires) }])),
});

const norm = (s: string): string => s.trim().replace(/\s+/g, ' ');

export class FakeNft implements NftPort {
  private tables = new Map<string, FakeTable>();
  /** Every script applied successfully, in order. */
  readonly applied: string[] = [];
  /** A hook for tests: return a message to make the next transaction fail. */
  failWith: ((script: string) => string | undefined) | undefined;
  /** The fake's clock (dynamic set timeouts), ms. */
  now = 0;

  async run(script: string): Promise<void> {
    if (!script) return;
    this.apply(script);
  }

  async listChains(family: 4 | 6 = 4): Promise<string[]> {
    return [...(this.tables.get(`${family === 6 ? 'ip6' : 'ip'} kube-proxy`)?.chains.keys() ?? [])];
  }

  /** Applies a script as one transaction; throws NftError naming the failing line. */
  apply(script: string): void {
    const injected = this.failWith?.(script);
    if (injected) throw new NftError(undefined, [], injected);
    const next = new Map([...this.tables].map(([k, t]) => [k, cloneTable(t)]));
    const lines = script.split('\n');
    lines.forEach((line, i) => {
      if (!line.trim() || line.trim().startsWith('#')) return;
      try {
        this.exec(next, line.trim());
      } catch (e) {
        if (!(e instanceof FakeError)) throw e;
        throw new NftError(i + 1, contextLines(script, i + 1), `/dev/stdin:${i + 1}:1-1: Error: ${e.message}`);
      }
    });
    this.tables = next;
    this.applied.push(script);
  }

  hasTable(family: string, name: string): boolean {
    return this.tables.has(`${family} ${name}`);
  }

  /** Elements of a set or map of our table (key → value). */
  elements(set: string, table = 'ip kube-proxy'): Map<string, string> {
    return new Map(this.tables.get(table)?.sets.get(set)?.elements ?? []);
  }

  chainNames(table = 'ip kube-proxy'): string[] {
    return [...(this.tables.get(table)?.chains.keys() ?? [])].sort();
  }

  rules(chain: string, table = 'ip kube-proxy'): string[] {
    return [...(this.tables.get(table)?.chains.get(chain)?.rules ?? [])];
  }

  /** A normalised, sorted dump of a table: chains with rules, then sets with elements. */
  dump(table = 'ip kube-proxy'): string {
    const t = this.tables.get(table);
    if (!t) return '';
    const out: string[] = [];
    for (const name of [...t.chains.keys()].sort()) {
      const c = t.chains.get(name)!;
      out.push(`chain ${name}${c.hook ? ` { ${c.hook} }` : ''}`, ...c.rules.map((r) => `  ${r}`));
    }
    for (const name of [...t.sets.keys()].sort()) {
      const s = t.sets.get(name)!;
      out.push(`${s.kind} ${name} { ${s.decl} }`, ...[...s.elements].map(([k, v]) => `  ${v ? `${k} : ${v}` : k}`).sort());
    }
    return out.join('\n');
  }

  // ---------------------------------------------------------------- commands

  private exec(tables: Map<string, FakeTable>, line: string): void {
    const m = /^(add|delete|flush) (table|chain|rule|map|set|element) (\S+) (\S+)(?: (\S+))?(?: (.*))?$/.exec(line);
    if (!m) throw new FakeError(`syntax error: ${line.slice(0, 80)}`);
    const [, verb, obj, family, tname, name, rest] = m as unknown as [string, string, string, string, string, string | undefined, string | undefined];
    const tk = `${family} ${tname}`;
    if (obj === 'table') {
      if (verb === 'add') {
        if (!tables.has(tk)) tables.set(tk, { chains: new Map(), sets: new Map() });
      } else if (verb === 'delete') {
        if (!tables.delete(tk)) throw new FakeError('Could not process rule: No such file or directory');
      } else {
        const t = tables.get(tk);
        if (!t) throw new FakeError('No such file or directory');
        t.chains.forEach((c) => (c.rules = []));
        t.sets.forEach((s) => s.elements.clear());
      }
      return;
    }
    const t = tables.get(tk);
    if (!t) throw new FakeError(`Could not process rule: No such file or directory (table ${tk})`);
    if (!name) throw new FakeError('syntax error: missing name');
    switch (obj) {
      case 'chain':
        return this.chainCmd(t, verb, name, rest);
      case 'rule':
        if (verb !== 'add' || !rest) throw new FakeError('syntax error: rule');
        return this.addRule(t, name, rest);
      case 'map':
      case 'set':
        return this.setCmd(t, verb, obj, name, rest);
      case 'element':
        return this.elementCmd(t, verb, name, rest ?? '');
    }
  }

  private chainCmd(t: FakeTable, verb: string, name: string, rest: string | undefined): void {
    const c = t.chains.get(name);
    if (verb === 'add') {
      const hook = rest ? norm(rest.replace(/^\{|\}$/g, '')) : undefined;
      if (c) {
        if ((c.hook ?? undefined) !== hook) throw new FakeError('Could not process rule: File exists (chain type differs)');
        return;
      }
      t.chains.set(name, { ...(hook !== undefined && { hook }), rules: [] });
    } else if (verb === 'flush') {
      if (!c) throw new FakeError(`Could not process rule: No such file or directory (chain ${name})`);
      c.rules = [];
    } else {
      if (!c) throw new FakeError(`Could not process rule: No such file or directory (chain ${name})`);
      if (referencesChain(t, name)) throw new FakeError(`Could not process rule: Device or resource busy (chain ${name} in use)`);
      t.chains.delete(name);
    }
  }

  private addRule(t: FakeTable, chain: string, rule: string): void {
    const c = t.chains.get(chain);
    if (!c) throw new FakeError(`Could not process rule: No such file or directory (chain ${chain})`);
    for (const s of rule.matchAll(/@([\w-]+)/g)) if (!t.sets.has(s[1]!)) throw new FakeError(`Could not process rule: No such file or directory (set ${s[1]})`);
    for (const j of rule.matchAll(/\b(?:goto|jump) ([\w-]+)/g)) if (!t.chains.has(j[1]!)) throw new FakeError(`Could not process rule: No such file or directory (chain ${j[1]})`);
    c.rules.push(norm(rule));
  }

  private setCmd(t: FakeTable, verb: string, kind: 'set' | 'map', name: string, rest: string | undefined): void {
    const s = t.sets.get(name);
    if (verb === 'add') {
      const decl = norm((rest ?? '').replace(/^\{|\}$/g, ''));
      if (s) {
        if (s.decl !== decl || s.kind !== kind) throw new FakeError('Could not process rule: File exists (set declared differently)');
        return;
      }
      t.sets.set(name, { kind, decl, dynamic: /flags [\w,]*dynamic/.test(decl), elements: new Map(), expires: new Map() });
    } else if (verb === 'flush') {
      if (!s) throw new FakeError(`Could not process rule: No such file or directory (set ${name})`);
      s.elements.clear();
      s.expires.clear();
    } else {
      if (!s) throw new FakeError(`Could not process rule: No such file or directory (set ${name})`);
      for (const c of t.chains.values()) if (c.rules.some((r) => r.includes(`@${name} `) || r.endsWith(`@${name}`))) throw new FakeError(`Could not process rule: Device or resource busy (set ${name} in use)`);
      t.sets.delete(name);
    }
  }

  private elementCmd(t: FakeTable, verb: string, name: string, rest: string): void {
    const s = t.sets.get(name);
    if (!s) throw new FakeError(`Could not process rule: No such file or directory (set ${name})`);
    const body = rest.trim().replace(/^\{/, '').replace(/\}$/, '');
    for (const raw of body.split(',')) {
      if (!raw.trim()) continue;
      const [k, v] = raw.split(' : ').map(norm) as [string, string | undefined];
      if (verb === 'add') {
        if (s.kind === 'map' && v === undefined) throw new FakeError(`Could not process rule: map element ${k} lacks a value`);
        const value = s.kind === 'map' ? v! : '';
        const goto = /^(?:goto|jump) ([\w-]+)$/.exec(value);
        if (goto && !t.chains.has(goto[1]!)) throw new FakeError(`Could not process rule: No such file or directory (chain ${goto[1]})`);
        const cur = s.elements.get(k);
        if (cur !== undefined && cur !== value) throw new FakeError(`Could not process rule: File exists (${k})`);
        s.elements.set(k, value);
      } else if (verb === 'delete') {
        if (!s.elements.delete(k)) throw new FakeError(`Could not process rule: No such file or directory (element ${k})`);
        s.expires.delete(k);
      } else {
        throw new FakeError(`syntax error: ${verb} element`);
      }
    }
  }

  // ---------------------------------------------------------------- the tracer

  /** The first packet of a new connection through the base chains of every table in the fake. */
  trace(p: TracePacket, table = 'ip kube-proxy'): TraceResult {
    const t = this.tables.get(table);
    const ctx: Ctx = {
      saddr: p.src,
      daddr: p.dst,
      proto: p.proto,
      dport: p.dport,
      mark: 0,
      dnatted: false,
      local: new Set(p.localAddrs ?? []),
      rnd: p.rnd ?? Math.random,
      masq: false,
      path: [],
    };
    if (!t) return { verdict: 'accept', masquerade: false, path: [] };
    const hooks = p.hook === 'output' ? ['output', 'postrouting'] : ['prerouting', 'postrouting'];
    for (const hook of hooks) {
      const chains = [...t.chains].filter(([, c]) => c.hook && hookOf(c.hook) === hook).sort(([, a], [, b]) => priorityOf(a.hook!) - priorityOf(b.hook!));
      for (const [name, c] of chains) {
        const isNat = /type nat/.test(c.hook!);
        if (isNat && hook !== 'postrouting' && ctx.dnatted) continue; // one DNAT per connection
        if (isNat && hook === 'postrouting' && ctx.masq) continue;
        const v = this.runChain(t, name, ctx, 0);
        if (v === 'reject' || v === 'drop') return { verdict: v, masquerade: false, path: ctx.path };
      }
    }
    return { verdict: 'accept', ...(ctx.dnat && { dnat: ctx.dnat }), masquerade: ctx.masq, path: ctx.path };
  }

  private runChain(t: FakeTable, name: string, ctx: Ctx, depth: number): Verdict {
    if (depth > 16) throw new Error(`trace: chain depth exceeded at ${name}`);
    const c = t.chains.get(name);
    if (!c) throw new Error(`trace: no chain ${name}`);
    ctx.path.push(name);
    for (const rule of c.rules) {
      const r = this.evalRule(t, rule, ctx);
      if (r.kind === 'nomatch' || r.kind === 'next') continue;
      if (r.kind === 'jump') {
        const v = this.runChain(t, r.chain, ctx, depth + 1);
        if (v !== undefined) return v;
        continue;
      }
      if (r.kind === 'goto') return this.runChain(t, r.chain, ctx, depth + 1);
      if (r.kind === 'return') return undefined;
      return r.kind; // accept | reject | drop
    }
    return undefined;
  }

  private evalRule(t: FakeTable, rule: string, ctx: Ctx): RuleResult {
    try {
      return this.evalRuleInner(t, rule, ctx);
    } catch (e) {
      if (e === NO_MATCH) return { kind: 'nomatch' };
      throw e;
    }
  }

  private evalRuleInner(t: FakeTable, rule: string, ctx: Ctx): RuleResult {
    const tok = rule.replace(/,/g, ' , ').split(/\s+/).filter(Boolean);
    let i = 0;
    const peek = () => tok[i];
    const next = () => {
      const v = tok[i++];
      if (v === undefined) throw new Error(`trace: rule ended early: ${rule}`);
      return v;
    };
    const expect = (w: string) => {
      const v = next();
      if (v !== w) throw new Error(`trace: expected ${w}, got ${v} in: ${rule}`);
    };
    const primary = (): string => {
      const a = next();
      if (a === 'ip' || a === 'ip6') {
        const f = next();
        if (f === 'saddr') return ctx.saddr;
        if (f === 'daddr') return ctx.daddr;
      } else if (a === 'meta') {
        const f = next();
        if (f === 'l4proto') return ctx.proto;
        if (f === 'mark') return String(ctx.mark);
      } else if (a === 'th') {
        expect('dport');
        return String(ctx.dport);
      } else if (a === 'tcp' || a === 'udp') {
        // `tcp dport` carries the dependency `meta l4proto tcp`.
        expect('dport');
        if (ctx.proto !== a) throw NO_MATCH;
        return String(ctx.dport);
      } else if (a === 'numgen') {
        expect('random');
        expect('mod');
        const n = Number(next());
        let off = 0;
        if (peek() === 'offset') {
          next();
          off = Number(next());
        }
        return String((n === 1 ? 0 : Math.min(n - 1, Math.floor(ctx.rnd() * n))) + off);
      }
      throw new Error(`trace: unknown expression at "${a}" in: ${rule}`);
    };
    const concat = (): string => {
      const parts = [primary()];
      while (peek() === '.') {
        next();
        parts.push(primary());
      }
      return parts.join(' . ');
    };
    const inSet = (name: string, key: string): string | undefined => {
      const s = t.sets.get(name);
      if (!s) throw new Error(`trace: no set ${name}`);
      const v = s.elements.get(key) ?? (/flags [\w,]*interval/.test(s.decl) ? intervalLookup(s.elements, key) : undefined);
      if (v === undefined) return undefined;
      if (s.dynamic && (s.expires.get(key) ?? 0) <= this.now) return undefined;
      return v;
    };
    const verdictOf = (v: string): RuleResult => {
      const [kind, chain] = v.split(' ');
      if ((kind === 'goto' || kind === 'jump') && chain) return { kind, chain };
      throw new Error(`trace: verdict ${v}`);
    };
    while (i < tok.length) {
      const w = peek()!;
      if (w === 'ct') {
        next();
        const f = next();
        const v = next();
        if (f === 'state' && v !== 'new') return { kind: 'nomatch' };
        if (f === 'status' && v === 'dnat' && !ctx.dnatted) return { kind: 'nomatch' };
        continue;
      }
      if (w === 'fib') {
        next();
        expect('daddr');
        expect('type');
        expect('local');
        if (!ctx.local.has(ctx.daddr)) return { kind: 'nomatch' };
        continue;
      }
      if (w === 'goto' || w === 'jump') {
        next();
        return { kind: w, chain: next() };
      }
      if (w === 'return') return { kind: 'return' };
      if (w === 'reject') return { kind: 'reject' };
      if (w === 'drop') return { kind: 'drop' };
      if (w === 'masquerade') {
        ctx.masq = true;
        return { kind: 'accept' };
      }
      if (w === 'dnat') {
        next();
        if (next() !== (ctx.daddr.includes(':') ? 'ip6' : 'ip')) throw new Error(`trace: dnat of the wrong family in: ${rule}`);
        expect('to');
        const key = concat();
        expect('map');
        const m = next().slice(1);
        const v = inSet(m, key);
        if (v === undefined) return { kind: 'nomatch' }; // a failed lookup breaks the rule
        const [ip, port] = v.split(' . ');
        ctx.dnat = { ip: ip!, port: Number(port) };
        ctx.daddr = ip!;
        ctx.dport = Number(port);
        ctx.dnatted = true;
        return { kind: 'accept' };
      }
      if (w === 'update') {
        next();
        const name = next().slice(1);
        expect('{');
        const key = concat();
        expect('timeout');
        const secs = Number(next().replace(/s$/, ''));
        expect('}');
        const s = t.sets.get(name)!;
        s.elements.set(key, '');
        s.expires.set(key, this.now + secs * 1000);
        continue;
      }
      if (w === 'meta' && tok[i + 1] === 'mark' && tok[i + 2] === 'set') {
        i += 3;
        expect('meta');
        expect('mark');
        const op = next();
        const val = Number(next());
        ctx.mark = op === '|' ? ctx.mark | val : op === '^' ? ctx.mark ^ val : op === '&' ? ctx.mark & val : val;
        continue;
      }
      // <expr> followed by a match or a lookup
      const value = concat();
      const op = next();
      if (op.startsWith('@')) {
        if (inSet(op.slice(1), value) === undefined) return { kind: 'nomatch' };
        const after = peek();
        if (after === 'goto' || after === 'jump') continue;
        continue;
      }
      if (op === 'vmap') {
        const target = next();
        let v: string | undefined;
        if (target === '{') {
          const entries: [string, string][] = [];
          while (peek() !== '}') {
            const k = next();
            expect(':');
            const kind = next();
            const chain = next();
            entries.push([k, `${kind} ${chain}`]);
            if (peek() === ',') next();
          }
          next();
          v = entries.find(([k]) => k === value)?.[1];
        } else {
          v = inSet(target.slice(1), value);
        }
        if (v === undefined) return { kind: 'nomatch' };
        return verdictOf(v);
      }
      if (op === '!=' || op === '==') {
        const want = next();
        const eq = want.includes('/') ? inCidr(value, want) : value === want;
        if ((op === '==') !== eq) return { kind: 'nomatch' };
        continue;
      }
      if (op === '&') {
        const mask = Number(next());
        expect('==');
        const want = Number(next());
        if ((Number(value) & mask) !== want) return { kind: 'nomatch' };
        continue;
      }
      // `meta l4proto tcp`: an implicit ==
      if (value !== op) return { kind: 'nomatch' };
    }
    return { kind: 'next' };
  }
}

type Verdict = 'accept' | 'reject' | 'drop' | undefined;

/** An interval set's lookup: each field of the key equals the element's, or falls in its CIDR. */
function intervalLookup(elements: ReadonlyMap<string, string>, key: string): string | undefined {
  const parts = key.split(' . ');
  for (const [k, v] of elements) {
    const ek = k.split(' . ');
    if (ek.length === parts.length && ek.every((e, i) => (e.includes('/') ? inCidr(parts[i]!, e) : e === parts[i]))) return v;
  }
  return undefined;
}
const NO_MATCH = Symbol('no match');
type RuleResult = { kind: 'nomatch' | 'next' | 'return' | 'accept' | 'reject' | 'drop' } | { kind: 'goto' | 'jump'; chain: string };

interface Ctx {
  saddr: string;
  daddr: string;
  proto: string;
  dport: number;
  mark: number;
  dnatted: boolean;
  readonly local: ReadonlySet<string>;
  readonly rnd: () => number;
  dnat?: { ip: string; port: number };
  masq: boolean;
  readonly path: string[];
}

function hookOf(spec: string): string | undefined {
  return /hook (\w+)/.exec(spec)?.[1];
}

function priorityOf(spec: string): number {
  const p = /priority ([\w-]+)(?: ([+-]) (\d+))?/.exec(spec);
  if (!p) return 0;
  const named: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };
  const base = p[1]! in named ? named[p[1]!]! : Number(p[1]);
  return p[2] ? base + (p[2] === '+' ? 1 : -1) * Number(p[3]) : base;
}

function referencesChain(t: FakeTable, name: string): boolean {
  const re = new RegExp(`\\b(?:goto|jump) ${name.replace(/[-]/g, '\\-')}(?![\\w-])`);
  for (const c of t.chains.values()) if (c.rules.some((r) => re.test(r))) return true;
  for (const s of t.sets.values()) for (const v of s.elements.values()) if (v === `goto ${name}` || v === `jump ${name}`) return true;
  return false;
}

function inCidr(ip: string, cidr: string): boolean {
  return contains(parseCidr(cidr), parseIp(ip));
}
