// The etcd client against a real etcd over TLS (client certificates) and with auth: a refused
// certificate or a wrong password is named on every retry, not only the first; a TLS etcd at
// https://127.0.0.1 gives no DEP0123 warning; a range over grpc-js default 4 MiB message limit is read.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient, type EtcdOptions } from '../../common/index.js';
import { EtcdRegistry } from '../../ipam/index.js';
import { EtcdServer, makeTestCerts, type TestCerts } from '../harness/index.js';

const run = promisify(execFile);
let dir: string;
let certs: TestCerts;
let tlsEtcd: EtcdServer;
let authEtcd: EtcdServer;
const clients: Etcd3[] = [];
const client = (o: EtcdOptions): Etcd3 => {
  const c = createEtcdClient({ callTimeoutMs: 5_000, ...o });
  clients.push(c);
  return c;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The messages of `n` failing reads of the network config, `gapMs` apart. */
async function failures(reg: EtcdRegistry, n: number, gapMs: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = await reg.getNetworkConfig().then(
      () => undefined,
      (err: unknown) => err,
    );
    out.push(e instanceof Error ? e.message : `call ${i} succeeded`);
    await sleep(gapMs);
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `fletcdtls${process.pid}-`));
  certs = await makeTestCerts(join(dir, 'certs'));
  tlsEtcd = await EtcdServer.start({ tls: certs.server, dir: join(dir, 'tls') });
  await tlsEtcd.ctl(['put', '/coreos.com/network/config', '{"Network":"10.5.0.0/16"}']);
  authEtcd = await EtcdServer.start({ dir: join(dir, 'auth') });
  await authEtcd.ctl(['user', 'add', 'root:right-password']);
  await authEtcd.ctl(['auth', 'enable']);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await tlsEtcd?.destroy();
  await authEtcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('etcd errors keep their cause', () => {
  it('names the refused client certificate on every retry, through the breaker and its half-open trial', async () => {
    const reg = new EtcdRegistry(client({ endpoints: [tlsEtcd.endpoint], cafile: certs.client.ca, certfile: certs.foreignClient.cert, keyfile: certs.foreignClient.key }), '/coreos.com/network');
    const msgs = [...(await failures(reg, 5, 100)), ...(await sleep(5_200).then(() => failures(reg, 3, 100)))];
    expect(msgs).toHaveLength(8);
    for (const m of msgs) {
      expect(m).toMatch(/^etcd get \/coreos.com\/network\/config: /);
      expect(m).toMatch(/bad certificate|unknown ca|certificate required/i);
      expect(m).not.toMatch(/circuit breaker is open/);
    }
    // The calls after the first were held back by the breaker, and say so.
    expect(msgs.slice(1).some((m) => m.includes('not sent, every endpoint tried failed recently: 127.0.0.1:'))).toBe(true);
  });

  it('names a dead endpoint and a refused certificate alike when both endpoints of the list fail', async () => {
    const reg = new EtcdRegistry(
      client({ endpoints: [`https://127.0.0.1:1`, tlsEtcd.endpoint], cafile: certs.client.ca, certfile: certs.foreignClient.cert, keyfile: certs.foreignClient.key }),
      '/coreos.com/network',
    );
    const msgs = await failures(reg, 6, 100);
    const last = msgs.at(-1)!;
    expect(last).toMatch(/127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(last).toMatch(new RegExp(`127\\.0\\.0\\.1:${tlsEtcd.clientPort}: .*(bad certificate|unknown ca)`, 'i'));
  });

  it('names the wrong password on every retry', async () => {
    const reg = new EtcdRegistry(client({ endpoints: [authEtcd.endpoint], username: 'root', password: 'wrong-password' }), '/coreos.com/network');
    const msgs = await failures(reg, 6, 100);
    for (const m of msgs) expect(m).toMatch(/authentication failed, invalid user ID or password/);
    const ok = new EtcdRegistry(client({ endpoints: [authEtcd.endpoint], username: 'root', password: 'right-password' }), '/coreos.com/network');
    await expect(ok.getNetworkConfig()).resolves.toBeUndefined();
  });

  it('connects with a good certificate', async () => {
    const reg = new EtcdRegistry(client({ endpoints: [tlsEtcd.endpoint], cafile: certs.client.ca, certfile: certs.client.cert, keyfile: certs.client.key }), '/coreos.com/network');
    await expect(reg.getNetworkConfig()).resolves.toBe('{"Network":"10.5.0.0/16"}');
  });
});

describe('TLS to an IP address', () => {
  it('flanneld reads its config from https://127.0.0.1 without a DEP0123 warning on stderr', async () => {
    expect(tlsEtcd.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const flags = [`--etcd-endpoints=${tlsEtcd.endpoint}`, `--etcd-cafile=${certs.client.ca}`, `--etcd-certfile=${certs.client.cert}`, `--etcd-keyfile=${certs.client.key}`];
    const { stdout, stderr } = await run(process.execPath, ['dist/flanneld/main.js', ...flags, 'config', 'check'], { timeout: 30_000 });
    expect(stdout).toMatch(/10\.5\.0\.0\/16/);
    expect(stderr).not.toMatch(/DEP0123|ServerName|Warning/);
  });

  it('still verifies the server certificate (by name, and against the CA) without SNI', async () => {
    const ok = new EtcdRegistry(client({ endpoints: [`https://localhost:${tlsEtcd.clientPort}`], cafile: certs.client.ca, certfile: certs.client.cert, keyfile: certs.client.key }), '/coreos.com/network');
    await expect(ok.getNetworkConfig()).resolves.toBe('{"Network":"10.5.0.0/16"}');
    const untrusted = new EtcdRegistry(client({ endpoints: [tlsEtcd.endpoint], cafile: certs.foreignClient.ca.replace(/ca\.crt$/, 'other-ca.crt'), certfile: certs.client.cert, keyfile: certs.client.key }), '/coreos.com/network');
    await expect(untrusted.getNetworkConfig()).rejects.toThrow(/unable to verify|self.signed|unable to get local issuer/i);
  });
});

describe('responses over grpc-js default 4 MiB', () => {
  // etcd's Go client takes responses up to 2 GiB; a range of 10,000 pods (~7 MB) must not fail.
  const bigRange = async (c: Etcd3, prefix: string): Promise<number> => {
    const value = 'x'.repeat(1024 * 1024); // etcd takes puts up to 1.5 MiB
    for (let i = 0; i < 6; i++) await c.put(`${prefix}${i}`).value(value);
    const all = await c.getAll().prefix(prefix).strings();
    return Object.values(all).reduce((n, v) => n + v.length, 0);
  };

  it('reads a 6 MiB range over plain HTTP', async () => {
    const c = client({ endpoints: [authEtcd.endpoint], username: 'root', password: 'right-password' });
    expect(await bigRange(c, '/big/plain/')).toBe(6 * 1024 * 1024);
  });

  it('reads a 6 MiB range over TLS', async () => {
    const c = client({ endpoints: [tlsEtcd.endpoint], cafile: certs.client.ca, certfile: certs.client.cert, keyfile: certs.client.key });
    expect(await bigRange(c, '/big/tls/')).toBe(6 * 1024 * 1024);
  });
});
