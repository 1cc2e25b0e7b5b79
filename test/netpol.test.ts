import { describe, expect, it } from 'vitest';
import { type ElementChange, isElementOnly } from '../nft/index.js';
import { cidrRanges, type ClusterView, globalPart, mergeRanges, namespaceLabels, parsePod, parsePolicy, type Part, type PodInfo, type Policy, policyEvent, policyHash, policyPart, PolicyState, rangeElement, renderDiff, renderFull, resolvePolicy, selectionOf } from '../netpol/index.js';

type Obj = Record<string, unknown>;

/** Element changes as the nft statements they stand for (a map's values on add only). */
const asScript = (ops: readonly ElementChange[]): string =>
  ops.map((o) => `${o.verb} element ${o.family} ${o.table} ${o.set} { ${o.elements.map(([k, v]) => (o.verb === 'add' && v ? `${k} : ${v}` : k)).join(', ')} }\n`).join('');
const pol = (ns: string, name: string, spec: Obj): Obj => ({ metadata: { namespace: ns, name, uid: 'u1', resourceVersion: '7' }, spec });
const pod = (ns: string, name: string, ip: string, labels: Record<string, string>, node = 'a', ports: Obj[] = []): Obj => ({
  metadata: { namespace: ns, name, labels },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox', ports }] },
  status: { phase: 'Running', podIP: ip },
});

function view(pods: Obj[], nss: Record<string, Record<string, string>> = {}): ClusterView {
  const m = new Map<string, Map<string, PodInfo>>();
  for (const raw of pods) {
    const p = parsePod(raw)!;
    if (!m.has(p.namespace)) m.set(p.namespace, new Map());
    m.get(p.namespace)!.set(p.name, p);
  }
  const namespaces = new Map(Object.entries(nss).map(([n, l]) => [n, namespaceLabels({ metadata: { name: n, labels: l } })]));
  return { node: 'a', pods: m, namespaces };
}

const els = (p: Part, set: string): string[] => [...(p.sets.get(set)?.elements.keys() ?? [])].sort();

describe('netpol: reading policies', () => {
  it('defaults policyTypes as the apiserver does, rules and ports as given', () => {
    const p = parsePolicy(pol('x', 'p', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 80 }, { protocol: 'UDP', port: 53, endPort: 60 }, { port: 'http' }] }] }));
    expect(p.problems).toEqual([]);
    expect(p.egress).toBeUndefined();
    expect(p.ingress).toEqual([{ peers: [{ kind: 'pods', pods: [] }], ports: [{ proto: 'tcp', from: 80, to: 80 }, { proto: 'udp', from: 53, to: 60 }, { proto: 'tcp', name: 'http' }] }]);
    const e = parsePolicy(pol('x', 'e', { podSelector: {}, egress: [{}] }));
    expect(e.ingress).toEqual([]);
    expect(e.egress).toEqual([{ peers: 'all', ports: 'all' }]);
    expect(parsePolicy(pol('x', 'd', { podSelector: {}, policyTypes: ['Egress'] })).ingress).toBeUndefined();
  });

  it('fails closed: a bad peer or port is left out and the rule allows nothing, a bad podSelector isolates the namespace', () => {
    const p = parsePolicy(pol('x', 'p', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'not a value!' } } }] },
        { from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] },
        { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] },
        { ports: [{ port: 'http', endPort: 90 }] },
      ],
    }));
    expect(p.ingress!.map((r) => [r.peers, r.ports])).toEqual([[[], 'all'], [[], 'all'], [[], 'all'], ['all', []]]);
    expect(p.problems).toHaveLength(4);
    expect(p.problems[0]).toMatch(/^spec\.ingress\[0\]\.from\[0\]\.podSelector: /);
    expect(p.problems[2]).toBe('spec.ingress[2].from[0].ipBlock: except 11.0.0.0/16 is not inside 10.0.0.0/8');
    const bad = parsePolicy(pol('x', 'q', { podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['@@'] }] }, ingress: [{}] }));
    expect(bad.podSelector).toEqual([]);
    expect(bad.ingress).toEqual([]);
    expect(bad.problems[0]).toMatch(/^spec\.podSelector: /);
    const ev = policyEvent(pol('x', 'q', {}), bad, 'a', Date.UTC(2026, 0, 1), () => 0);
    expect(ev).toMatchObject({ kind: 'Event', type: 'Warning', reason: 'PolicyNotProgrammed', involvedObject: { kind: 'NetworkPolicy', name: 'q', namespace: 'x', uid: 'u1' }, source: { component: 'netpol-agent', host: 'a' } });
  });

  it('an ipBlock is its CIDR minus the excepts, as ranges', () => {
    expect(cidrRanges('10.0.0.0/24', ['10.0.0.64/26']).map(rangeElement)).toEqual(['10.0.0.0-10.0.0.63', '10.0.0.128-10.0.0.255']);
    expect(cidrRanges('10.0.0.5/24', []).map(rangeElement)).toEqual(['10.0.0.0-10.0.0.255']);
    expect(cidrRanges('10.0.0.0/24', ['10.0.0.0/25', '10.0.0.128/25'])).toEqual([]);
    expect(cidrRanges('fd00::/8', [])).toEqual([]);
    expect(mergeRanges([[5, 9], [1, 4], [20, 30], [25, 26]])).toEqual([[1, 9], [20, 30]]);
    expect(() => cidrRanges('10.0.0.0', [])).toThrow(/not a CIDR/);
  });

  it('pods without an IP, finished or on the host network are no peers', () => {
    expect(parsePod({ metadata: { name: 'p' }, spec: { hostNetwork: true }, status: { podIP: '10.0.0.1', phase: 'Running' } })).toBeUndefined();
    expect(parsePod({ metadata: { name: 'p' }, spec: {}, status: { podIP: '10.0.0.1', phase: 'Succeeded' } })).toBeUndefined();
    expect(parsePod({ metadata: { name: 'p' }, spec: {}, status: { phase: 'Pending' } })).toBeUndefined();
  });
});

describe('netpol: compiling', () => {
  const pods = [
    pod('x', 'a', '10.5.1.2', { pod: 'a' }, 'a', [{ name: 'serve-80', containerPort: 80 }, { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' }]),
    pod('x', 'b', '10.5.1.3', { pod: 'b' }),
    pod('y', 'a', '10.5.2.2', { pod: 'a' }, 'b', [{ name: 'serve-80', containerPort: 80 }]),
    pod('z', 'c', '10.5.2.3', { pod: 'c' }, 'b'),
  ];
  const v = view(pods, { x: { ns: 'x' }, y: { ns: 'y' }, z: { ns: 'z' } });

  it('selects the pods of this node only, and names peers on every node', () => {
    const p = parsePolicy(pol('x', 'allow', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }, { podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 80 }, { port: 'serve-81-udp', protocol: 'UDP' }] }] }));
    const rp = resolvePolicy(p, v);
    expect(rp.selected).toEqual(['10.5.1.2']);
    const part = policyPart(rp);
    const h = policyHash('x', 'allow');
    expect(part.chains.get(`pol-${h}-in`)!.rules).toEqual([
      `ip saddr @pol-${h}-in-0-pods meta l4proto . th dport { tcp . 80 } accept`,
      `ip saddr @pol-${h}-in-0-pods ip daddr . meta l4proto . th dport @pol-${h}-in-0-named accept`,
    ]);
    expect(els(part, `pol-${h}-in-0-pods`)).toEqual(['10.5.1.3', '10.5.2.2']);
    expect(els(part, `pol-${h}-in-0-named`)).toEqual(['10.5.1.2 . udp . 81']);
  });

  it('egress: named ports resolve on the peers, ipBlocks are interval sets; deny-all is a chain without rules', () => {
    const p = parsePolicy(pol('x', 'eg', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.5.2.0/24', except: ['10.5.2.3/32'] } }], ports: [{ port: 'serve-80' }, { port: 1000, endPort: 2000 }] }] }));
    const part = policyPart(resolvePolicy(p, v));
    const h = policyHash('x', 'eg');
    const cidrs = 'ip daddr { 10.5.2.0-10.5.2.2, 10.5.2.4-10.5.2.255 }';
    expect(part.chains.get(`pol-${h}-eg`)!.rules).toEqual([`${cidrs} meta l4proto . th dport { tcp . 1000-2000 } accept`, `${cidrs} ip daddr . meta l4proto . th dport @pol-${h}-eg-0-named accept`]);
    expect(els(part, `pol-${h}-eg-0-named`)).toEqual(['10.5.2.2 . tcp . 80']);
    expect([...part.sets.keys()]).toEqual([`pol-${h}-eg-0-named`]);
    // A block that its excepts empty allows nothing: no rule (an empty anonymous set cannot be written).
    const gone = policyPart(resolvePolicy(parsePolicy(pol('x', 'g', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.0/24'] } }] }] })), v));
    expect(gone.chains.get(`pol-${policyHash('x', 'g')}-eg`)!.rules).toEqual([]);
    const deny = policyPart(resolvePolicy(parsePolicy(pol('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })), v));
    expect(deny.chains.get(`pol-${policyHash('x', 'deny')}-in`)!.rules).toEqual([]);
  });

  it('the global part: a verdict map entry per isolated pod, one chain per set of policies, the union of their rules, then reject', () => {
    const a = resolvePolicy(parsePolicy(pol('x', 'a', { podSelector: {}, ingress: [{}] })), v);
    const b = resolvePolicy(parsePolicy(pol('x', 'b', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress', 'Egress'] })), v);
    const g = globalPart([selectionOf(a), selectionOf(b)]);
    const ing = g.sets.get('ingress-pods')!.elements;
    expect([...ing.keys()].sort()).toEqual(['10.5.1.2', '10.5.1.3']);
    const both = ing.get('10.5.1.2')!.replace('goto ', '');
    const [ha, hb] = [policyHash('x', 'a'), policyHash('x', 'b')].sort();
    expect(g.chains.get(both)!.rules).toEqual([`jump pol-${ha}-in`, `jump pol-${hb}-in`, 'reject with icmpx type admin-prohibited']);
    expect([...g.sets.get('egress-pods')!.elements.keys()]).toEqual(['10.5.1.2']);
    expect(g.chains.get('ingress')).toEqual({ hook: 'type filter hook forward priority filter ; policy accept ;', rules: ['ct state established,related accept', 'ip saddr . ip daddr @self accept', 'ip daddr vmap @ingress-pods'] });
    expect(g.chains.get('egress')!.hook).toBe('type filter hook forward priority filter - 1 ; policy accept ;');
    expect(els(g, 'self')).toEqual(['10.5.1.2 . 10.5.1.2', '10.5.1.3 . 10.5.1.3']);
    const full = renderFull([g]);
    expect(full.split('\n').slice(0, 3)).toEqual(['add table inet kube-network-policies', 'delete table inet kube-network-policies', 'add table inet kube-network-policies']);
    // Chains before the elements that name them, rules last.
    expect(full.indexOf('add chain')).toBeLessThan(full.indexOf('add element'));
    expect(full.indexOf('add element')).toBeLessThan(full.indexOf('add rule'));
  });
});

describe('netpol: incremental state', () => {
  const podObjs = [pod('x', 'a', '10.5.1.2', { pod: 'a' }), pod('x', 'b', '10.5.1.3', { pod: 'b' }), pod('x', 'c', '10.5.1.4', { pod: 'c' })];
  const fresh = (): PolicyState => {
    const s = new PolicyState('a');
    s.resetPods(podObjs.map((o) => { const p = parsePod(o)!; return [p.namespace, p.name, p] as [string, string, PodInfo]; }));
    s.resetNamespaces([['x', { 'kubernetes.io/metadata.name': 'x' }]]);
    s.resetPolicies([['x/p', parsePolicy(pol('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] }))]]);
    return s;
  };

  it('a pod labelled into a peer set is one element added; nothing else is written', () => {
    const s = fresh();
    const full = s.plan(true);
    s.commit(full);
    expect(full.script).toContain('add table inet kube-network-policies');
    expect(s.hasChanges).toBe(false);
    expect(s.plan(false).script).toBe('');
    s.setPod('x', 'b', parsePod(pod('x', 'b', '10.5.1.3', { pod: 'b', role: 'client' })));
    const plan = s.plan(false);
    const h = policyHash('x', 'p');
    expect(plan.compiled).toBe(1);
    expect(plan.script).toBe(`add element inet kube-network-policies pol-${h}-in-0-pods { 10.5.1.3 }\n`);
    s.commit(plan);
    // A pod that no policy names changes nothing.
    s.setPod('x', 'c', parsePod(pod('x', 'c', '10.5.1.4', { pod: 'c', other: 'x' })));
    const none = s.plan(false);
    expect(none.compiled).toBe(0);
    expect(none.script).toBe('');
  });

  it('a policy removed: its vmap entry, its chain set and its sets go, in an order the kernel takes', () => {
    const s = fresh();
    s.commit(s.plan(true));
    s.setPolicy('x/p', undefined);
    const lines = s.plan(false).script.trim().split('\n');
    const h = policyHash('x', 'p');
    expect(lines[0]).toBe('delete element inet kube-network-policies ingress-pods { 10.5.1.2 }');
    const iFlush = lines.findIndex((l) => l === `flush chain inet kube-network-policies pol-${h}-in`);
    const iDel = lines.findIndex((l) => l === `delete chain inet kube-network-policies pol-${h}-in`);
    const iSet = lines.findIndex((l) => l === `delete set inet kube-network-policies pol-${h}-in-0-pods`);
    expect(iFlush).toBeGreaterThan(0);
    expect(iDel).toBeGreaterThan(iFlush);
    expect(iSet).toBeGreaterThan(iDel);
    expect(lines.filter((l) => /^delete chain .* in-[0-9a-f]{12}$/.test(l))).toHaveLength(1);
  });

  it('renderDiff: a changed map value is a delete and an add; identical parts write nothing', () => {
    const a: Part = { chains: new Map(), sets: new Map([['m', { kind: 'map', decl: 'type ipv4_addr : verdict ;', elements: new Map([['10.0.0.1', 'goto x'], ['10.0.0.2', 'goto x']]) }]]) };
    const b: Part = { chains: new Map(), sets: new Map([['m', { kind: 'map', decl: 'type ipv4_addr : verdict ;', elements: new Map([['10.0.0.1', 'goto y'], ['10.0.0.2', 'goto x']]) }]]) };
    expect(renderDiff([a], [b])).toBe('delete element inet kube-network-policies m { 10.0.0.1 }\nadd element inet kube-network-policies m { 10.0.0.1 : goto y }\n');
    expect(renderDiff([a], [a])).toBe('');
  });

  it('renderDiff: an element-only difference is also given as data, in the script\'s order; any other none', () => {
    const a: Part = { chains: new Map(), sets: new Map([['m', { kind: 'map', decl: 'type ipv4_addr : verdict ;', elements: new Map([['10.0.0.1', 'goto x'], ['10.0.0.2', 'goto x']]) }], ['s', { kind: 'set', decl: 'type ipv4_addr ;', elements: new Map([['10.0.0.9', '']]) }]]) };
    const b: Part = { chains: new Map(), sets: new Map([['m', { kind: 'map', decl: 'type ipv4_addr : verdict ;', elements: new Map([['10.0.0.1', 'goto y'], ['10.0.0.2', 'goto x']]) }], ['s', { kind: 'set', decl: 'type ipv4_addr ;', elements: new Map([['10.0.0.8', '']]) }]]) };
    const ops: ElementChange[] = [];
    renderDiff([a], [b], undefined, ops);
    const t = { family: 'inet', table: 'kube-network-policies' };
    expect(ops).toEqual([
      { verb: 'delete', ...t, set: 'm', decl: 'type ipv4_addr : verdict ;', elements: [['10.0.0.1', 'goto x']] },
      { verb: 'delete', ...t, set: 's', decl: 'type ipv4_addr ;', elements: [['10.0.0.9', '']] },
      { verb: 'add', ...t, set: 'm', decl: 'type ipv4_addr : verdict ;', elements: [['10.0.0.1', 'goto y']] },
      { verb: 'add', ...t, set: 's', decl: 'type ipv4_addr ;', elements: [['10.0.0.8', '']] },
    ]);
    const withChain: Part = { chains: new Map([['c', { rules: ['accept'] }]]), sets: b.sets };
    const none: ElementChange[] = [];
    expect(renderDiff([a], [withChain], undefined, none)).toContain('add chain');
    expect(none).toEqual([]);
  });
});

describe('netpol: incremental equals from scratch', () => {
  it('after pods relabelled, policies added and removed, namespaces relabelled, the state is what a fresh compile gives', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor(seed / 65536) % n);
    const podOf = (ns: number, i: number, role: number): PodInfo => parsePod(pod(`n${ns}`, `p${i}`, `10.5.${ns}.${i + 2}`, { app: `a${i % 3}`, role: `r${role}` }, i % 2 ? 'a' : 'b', [{ name: 'http', containerPort: 80 + role }]))!;
    const polOf = (ns: number, j: number): Policy => parsePolicy(pol(`n${ns}`, `q${j}`, {
      podSelector: { matchLabels: { app: `a${j % 3}` } },
      policyTypes: j % 2 ? ['Ingress'] : ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { role: `r${j % 2}` } } }, { namespaceSelector: { matchLabels: { team: `t${j % 2}` } } }], ports: [{ port: 'http' }] }],
      egress: [{ to: [{ podSelector: { matchLabels: { role: 'r1' } } }] }],
    }));
    const pods = new Map<string, PodInfo>();
    const nss = new Map<string, Record<string, string>>();
    const pols = new Map<string, Policy>();
    const s = new PolicyState('a');
    const load = (x: PolicyState): void => {
      x.resetPods([...pods.values()].map((p) => [p.namespace, p.name, p]));
      x.resetNamespaces([...nss]);
      x.resetPolicies([...pols]);
    };
    for (let ns = 0; ns < 3; ns++) {
      nss.set(`n${ns}`, { team: `t${ns % 2}` });
      for (let i = 0; i < 6; i++) pods.set(`n${ns}/p${i}`, podOf(ns, i, i % 2));
      for (let j = 0; j < 3; j++) pols.set(`n${ns}/q${j}`, polOf(ns, j));
    }
    load(s);
    s.commit(s.plan(true));
    // One line per element, sorted: the order of elements inside a statement is not the state.
    const sorted = (x: string): string[] =>
      x.split('\n').flatMap((l) => {
        const m = /^(add element \S+ \S+ \S+) \{ (.*) \}$/.exec(l);
        return m ? m[2]!.split(', ').map((e) => `${m[1]} ${e}`) : [l];
      }).sort();
    let elementOnly = 0;
    for (let step = 0; step < 60; step++) {
      const ns = rnd(3);
      const what = rnd(4);
      if (what === 0) {
        const i = rnd(6);
        const p = podOf(ns, i, rnd(3));
        pods.set(`n${ns}/p${i}`, p);
        s.setPod(p.namespace, p.name, p);
      } else if (what === 1) {
        const id = `n${ns}/q${rnd(4)}`;
        if (pols.has(id)) (pols.delete(id), s.setPolicy(id, undefined));
        else (pols.set(id, polOf(ns, Number(id.slice(-1)))), s.setPolicy(id, pols.get(id)));
      } else if (what === 2) {
        nss.set(`n${ns}`, { team: `t${rnd(2)}` });
        s.setNamespace(`n${ns}`, nss.get(`n${ns}`));
      } else {
        const i = rnd(6);
        pods.delete(`n${ns}/p${i}`);
        s.setPod(`n${ns}`, `p${i}`, undefined);
      }
      const plan = s.plan(false);
      // The same change as data whenever it is elements only, and then exactly the script's elements.
      expect(plan.elements !== undefined, `step ${step}`).toBe(plan.script !== '' && isElementOnly(plan.script));
      if (plan.elements) (expect(sorted(asScript(plan.elements))).toEqual(sorted(plan.script)), elementOnly++);
      s.commit(plan);
      const fresh = new PolicyState('a');
      load(fresh);
      expect(sorted(s.plan(true).script), `step ${step}`).toEqual(sorted(fresh.plan(true).script));
    }
    expect(elementOnly).toBeGreaterThan(5);
  });
});
