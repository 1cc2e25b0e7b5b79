// A ruleset as data (chains and sets with their elements) and the `nft -f` scripts that write it: the whole
// of it in one transaction (the table deleted and written again, so nothing stale survives), or the
// difference between two versions of some of its parts. Pure.
import type { ElementChange } from '../nft/index.js';

export const FAMILY = 'inet';
export const TABLE = 'kube-network-policies';
const T = `${FAMILY} ${TABLE}`;

export interface ChainSpec {
  /** A base chain's `type … hook … priority …; policy …;`. */
  readonly hook?: string;
  readonly rules: readonly string[];
}

export interface SetSpec {
  readonly kind: 'set' | 'map';
  /** `type …; flags …;` */
  readonly decl: string;
  /** key → value (a map's verdict; '' in a set). */
  readonly elements: ReadonlyMap<string, string>;
}

/** Some chains and sets; a whole ruleset is the union of disjoint parts. */
export interface Part {
  readonly chains: ReadonlyMap<string, ChainSpec>;
  readonly sets: ReadonlyMap<string, SetSpec>;
}

export const emptyPart = (): Part => ({ chains: new Map(), sets: new Map() });

/** Elements per `add element` statement: long enough to be fast, short enough to name a bad line. */
const BATCH = 500;

function elementLines(verb: 'add' | 'delete', kind: 'set' | 'map', set: string, items: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += BATCH) {
    const chunk = items.slice(i, i + BATCH).map(([k, v]) => (verb === 'add' && kind === 'map' ? `${k} : ${v}` : k));
    out.push(`${verb} element ${T} ${set} { ${chunk.join(', ')} }`);
  }
  return out;
}

const chainLine = (name: string, c: ChainSpec): string => `add chain ${T} ${name}${c.hook ? ` { ${c.hook} }` : ''}`;
const ruleLines = (name: string, c: ChainSpec): string[] => c.rules.map((r) => `add rule ${T} ${name} ${r}`);

/**
 * The whole ruleset in one transaction: the table deleted (if there) and written again with exactly these
 * chains and sets. Sets first, then every chain (empty), then elements (a map's verdicts name chains), then rules.
 */
export function renderFull(parts: Iterable<Part>): string {
  const ps = [...parts];
  const lines: string[] = [`add table ${T}`, `delete table ${T}`, `add table ${T}`];
  for (const p of ps) for (const [n, s] of p.sets) lines.push(`add ${s.kind} ${T} ${n} { ${s.decl} }`);
  for (const p of ps) for (const [n, c] of p.chains) lines.push(chainLine(n, c));
  for (const p of ps) for (const [n, s] of p.sets) if (s.elements.size) lines.push(...elementLines('add', s.kind, n, [...s.elements]));
  for (const p of ps) for (const [n, c] of p.chains) lines.push(...ruleLines(n, c));
  return `${lines.join('\n')}\n`;
}

const sameRules = (a: ChainSpec, b: ChainSpec): boolean => a.hook === b.hook && a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);

export interface DiffStats {
  elements: number;
  chains: number;
}

/**
 * From `before` to `after` (the same parts, as last written and as wanted now), in an order the kernel
 * accepts in one transaction: new sets and chains; element deletions and additions (a changed value is
 * both); changed chains flushed and written again; chains no longer wanted flushed, then deleted; sets
 * no longer wanted deleted. Empty when nothing differs. When the difference is set elements only,
 * `elementOps` receives it as data too (for netlink), in the script's order.
 */
export function renderDiff(before: readonly Part[], after: readonly Part[], stats?: DiffStats, elementOps?: ElementChange[]): string {
  const op = (verb: 'add' | 'delete', set: string, decl: string, elements: readonly (readonly [string, string])[]): ElementChange => ({ verb, family: FAMILY, table: TABLE, set, decl, elements });
  const union = <T>(ps: readonly Part[], pick: (p: Part) => ReadonlyMap<string, T>): Map<string, T> => {
    const m = new Map<string, T>();
    for (const p of ps) for (const [k, v] of pick(p)) m.set(k, v);
    return m;
  };
  const oldSets = union(before, (p) => p.sets);
  const newSets = union(after, (p) => p.sets);
  const oldChains = union(before, (p) => p.chains);
  const newChains = union(after, (p) => p.chains);
  const head: string[] = [];
  const dels: string[] = [];
  const adds: string[] = [];
  const rules: string[] = [];
  const tail: string[] = [];
  const delOps: ElementChange[] = [];
  const addOps: ElementChange[] = [];
  let elements = 0;
  let chains = 0;
  for (const [n, s] of newSets) {
    const old = oldSets.get(n);
    if (!old) {
      head.push(`add ${s.kind} ${T} ${n} { ${s.decl} }`);
      if (s.elements.size) adds.push(...elementLines('add', s.kind, n, [...s.elements]));
      elements += s.elements.size;
      continue;
    }
    const gone: [string, string][] = [];
    const added: [string, string][] = [];
    for (const [k, v] of old.elements) {
      const nv = s.elements.get(k);
      if (nv === undefined) gone.push([k, v]);
      else if (nv !== v) (gone.push([k, v]), added.push([k, nv]));
    }
    for (const [k, v] of s.elements) if (!old.elements.has(k)) added.push([k, v]);
    if (gone.length) (dels.push(...elementLines('delete', s.kind, n, gone)), delOps.push(op('delete', n, old.decl, gone)));
    if (added.length) (adds.push(...elementLines('add', s.kind, n, added)), addOps.push(op('add', n, s.decl, added)));
    elements += gone.length + added.length;
  }
  for (const [n, c] of newChains) {
    const old = oldChains.get(n);
    if (!old) {
      head.push(chainLine(n, c));
      rules.push(...ruleLines(n, c));
      chains++;
    } else if (!sameRules(old, c)) {
      rules.push(`flush chain ${T} ${n}`, ...ruleLines(n, c));
      chains++;
    }
  }
  const goneChains = [...oldChains.keys()].filter((n) => !newChains.has(n));
  for (const n of goneChains) tail.push(`flush chain ${T} ${n}`);
  for (const n of goneChains) tail.push(`delete chain ${T} ${n}`);
  for (const [n, s] of oldSets) if (!newSets.has(n)) tail.push(`delete ${s.kind} ${T} ${n}`);
  chains += goneChains.length;
  if (stats) {
    stats.elements = elements;
    stats.chains = chains;
  }
  const lines = [...head, ...dels, ...adds, ...rules, ...tail];
  // The same change as data, when it is elements only (deletions first, as in the script).
  if (elementOps && !head.length && !rules.length && !tail.length) elementOps.push(...delOps, ...addOps);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
