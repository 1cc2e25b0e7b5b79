// The etcd flags every daemon shares (one declaration, one default) and the per-endpoint circuit
// breaker that keeps the last real error of a failing endpoint.
import { Command } from 'commander';
import { GRPCUnavailableError, EtcdPermissionDeniedError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ETCD_ENDPOINTS, EtcdFaults, EtcdUnavailableError, HostBreaker } from '../common/index.js';
import { addDaemonOptions, daemonOptions } from '../flanneld/options.js';
import { addKubeletOptions, kubeletOptions } from '../kubelet/options.js';
import { addProxyOptions, proxyOptions } from '../proxy/options.js';

const daemons = [
  { name: 'flanneld', env: 'FLANNELD', add: addDaemonOptions, parse: daemonOptions },
  { name: 'kubelet', env: 'KUBELET', add: addKubeletOptions, parse: kubeletOptions },
  { name: 'kube-proxy', env: 'KUBE_PROXY', add: addProxyOptions, parse: proxyOptions },
] as const;

function parse(d: (typeof daemons)[number], argv: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = d.add(new Command(d.name)).exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.parse(argv, { from: 'user' });
    const o = d.parse(cmd.opts());
    return { etcdEndpoints: o.etcdEndpoints, etcdKeyfile: o.etcdKeyfile, etcdCertfile: o.etcdCertfile, etcdCafile: o.etcdCafile, etcdUsername: o.etcdUsername, etcdPassword: o.etcdPassword };
  } finally {
    process.env = saved;
  }
}

const etcdHelp = (d: (typeof daemons)[number]) =>
  d
    .add(new Command(d.name))
    .options.filter((o) => /^--etcd-(endpoints|keyfile|certfile|cafile|username|password)$/.test(o.long ?? ''))
    .map((o) => ({ flags: o.flags, description: o.description, default: o.defaultValue as unknown, env: o.envVar?.replace(/^[A-Z_]+?_ETCD_/, 'ETCD_') }));

describe('the etcd flags of the three daemons', () => {
  it('are the same flags with the same default, flannel\'s', () => {
    const [flanneld, ...others] = daemons.map(etcdHelp);
    expect(flanneld).toHaveLength(6);
    for (const o of others) expect(o).toEqual(flanneld);
    for (const d of daemons) {
      expect(parse(d, []), d.name).toEqual({ etcdEndpoints: ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'] });
    }
    expect(DEFAULT_ETCD_ENDPOINTS).toBe('http://127.0.0.1:4001,http://127.0.0.1:2379');
  });

  it('parse alike from the command line and from each daemon\'s environment, the command line winning', () => {
    const argv = ['--etcd-endpoints', 'https://10.0.0.1:2379, https://10.0.0.2:2379', '--etcd-cafile=/ca.pem', '--etcd-certfile=/c.pem', '--etcd-keyfile=/k.pem', '--etcd-username=u', '--etcd-password=p'];
    const want = { etcdEndpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'], etcdCafile: '/ca.pem', etcdCertfile: '/c.pem', etcdKeyfile: '/k.pem', etcdUsername: 'u', etcdPassword: 'p' };
    for (const d of daemons) {
      expect(parse(d, argv), d.name).toEqual(want);
      const env = { [`${d.env}_ETCD_ENDPOINTS`]: 'https://e:2379', [`${d.env}_ETCD_USERNAME`]: 'envuser' };
      expect(parse(d, [], env), d.name).toEqual({ etcdEndpoints: ['https://e:2379'], etcdUsername: 'envuser' });
      expect(parse(d, ['--etcd-username=cli'], env).etcdUsername, d.name).toBe('cli');
      expect(() => parse(d, ['--etcd-endpoints= , ']), d.name).toThrow(/--etcd-endpoints is empty/);
    }
  });
});

describe('HostBreaker', () => {
  it('opens after 3 consecutive failures, keeps the last error, and lets one trial through after 5 s', () => {
    const b = new HostBreaker('10.0.0.1:2379');
    expect(b.admit(0)).toBe(true);
    b.failed(0, 'first');
    b.failed(1, 'second');
    expect(b.failure(1)).toBeUndefined();
    expect(b.admit(1)).toBe(true);
    b.failed(2, 'bad certificate');
    expect(b.admit(3)).toBe(false);
    expect(b.failure(1002)).toEqual({ host: '10.0.0.1:2379', error: 'bad certificate', retryInMs: 4000 });
    expect(b.admit(5002)).toBe(true);
    expect(b.admit(5003)).toBe(false); // one trial at a time
    b.failed(5004, 'still a bad certificate');
    expect(b.admit(5005)).toBe(false);
    expect(b.failure(5005)).toMatchObject({ error: 'still a bad certificate', retryInMs: 4999 });
    expect(b.admit(10_004)).toBe(true);
    b.succeeded();
    expect(b.failure(10_005)).toBeUndefined();
    expect(b.admit(10_005)).toBe(true);
  });
});

describe('EtcdFaults', () => {
  it('rejects calls to an open endpoint with every failing endpoint\'s last real error, and counts only connection failures', async () => {
    let now = 0;
    const faults = new EtcdFaults(() => now);
    const a = faults.policy('https://10.0.0.1:2379');
    const b = faults.policy('https://10.0.0.2:2379');
    let calls = 0;
    const fail = (msg: string) => () => {
      calls++;
      throw new GRPCUnavailableError(msg);
    };
    for (let i = 0; i < 3; i++) await expect(a.execute(fail('14 UNAVAILABLE: bad certificate'))).rejects.toThrow(/bad certificate/);
    for (let i = 0; i < 3; i++) await expect(b.execute(fail('14 UNAVAILABLE: connect ECONNREFUSED 10.0.0.2:2379'))).rejects.toThrow(/ECONNREFUSED/);
    expect(calls).toBe(6);
    now = 1_000;
    const err = await b.execute(fail('never sent')).catch((e: unknown) => e);
    expect(calls).toBe(6);
    expect(err).toBeInstanceOf(EtcdUnavailableError);
    const u = err as EtcdUnavailableError;
    expect(u.failures).toEqual([
      { host: '10.0.0.2:2379', error: '14 UNAVAILABLE: connect ECONNREFUSED 10.0.0.2:2379', retryInMs: 4000 },
      { host: '10.0.0.1:2379', error: '14 UNAVAILABLE: bad certificate', retryInMs: 4000 },
    ]);
    expect(u.message).toBe('not sent, every endpoint tried failed recently: 10.0.0.2:2379: 14 UNAVAILABLE: connect ECONNREFUSED 10.0.0.2:2379; 10.0.0.1:2379: 14 UNAVAILABLE: bad certificate');
    expect(u.transient).toBe(true);

    // After 5 s one call goes through; an answer from etcd, even an error, closes the breaker.
    now = 5_000;
    await expect(a.execute(() => Promise.reject(new EtcdPermissionDeniedError('etcdserver: permission denied')))).rejects.toThrow(/permission denied/);
    expect(faults.failures('10.0.0.1:2379').map((f) => f.host)).toEqual(['10.0.0.2:2379']);
    await expect(a.execute(() => 'ok')).resolves.toBe('ok');
  });
});
