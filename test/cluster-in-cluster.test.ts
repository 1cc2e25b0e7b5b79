// The in-cluster configuration (client-go's rest.InClusterConfig): the server from the kubelet's
// KUBERNETES_SERVICE_HOST/PORT, the token, CA and namespace from the service-account volume; and the client
// reading a rotated token file again.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient, InClusterError, inClusterServer, loadInClusterConfig, NOT_IN_CLUSTER, openApiStore } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'in-cluster-'));
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

describe('inClusterServer', () => {
  it('is https://host:port, an IPv6 host in brackets; undefined outside a pod', () => {
    expect(inClusterServer({ KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443' })).toBe('https://10.254.0.1:443');
    expect(inClusterServer({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' })).toBe('https://[fd00::1]:443');
    expect(inClusterServer({ KUBERNETES_SERVICE_HOST: '10.254.0.1' })).toBeUndefined();
    expect(inClusterServer({})).toBeUndefined();
  });
  it('refuses a port or host that is none, naming the variable', () => {
    expect(() => inClusterServer({ KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: 'https' })).toThrow(/KUBERNETES_SERVICE_PORT: "https" is not a port number/);
    expect(() => inClusterServer({ KUBERNETES_SERVICE_HOST: 'a b', KUBERNETES_SERVICE_PORT: '443' })).toThrow(/KUBERNETES_SERVICE_HOST/);
  });
});

describe('loadInClusterConfig', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.254.0.1', KUBERNETES_SERVICE_PORT: '443' };
  it('reads the token, the CA and the namespace of the volume, and names the token file for rotation', async () => {
    await writeFile(path.join(dir, 'token'), 'tok-1\n');
    await writeFile(path.join(dir, 'ca.crt'), 'CA');
    await writeFile(path.join(dir, 'namespace'), 'kube-system');
    const c = await loadInClusterConfig(env, dir);
    expect(c).toEqual({ conn: { servers: ['https://10.254.0.1:443'], token: 'tok-1', tokenFile: path.join(dir, 'token'), ca: Buffer.from('CA') }, namespace: 'kube-system' });
  });
  it('goes on without a CA or namespace file; refuses a missing or empty token and an environment that is no pod', async () => {
    await expect(loadInClusterConfig(env, dir)).rejects.toThrow(/cannot read the service-account token .*\/token/);
    await writeFile(path.join(dir, 'token'), '\n');
    await expect(loadInClusterConfig(env, dir)).rejects.toThrow(/token .* is empty/);
    await writeFile(path.join(dir, 'token'), 't');
    expect((await loadInClusterConfig(env, dir)).conn).toEqual({ servers: ['https://10.254.0.1:443'], token: 't', tokenFile: path.join(dir, 'token') });
    await expect(loadInClusterConfig({}, dir)).rejects.toThrow(NOT_IN_CLUSTER);
  });
  it('is what openApiStore opens when neither a kubeconfig nor a server is given', async () => {
    const saved = { h: process.env.KUBERNETES_SERVICE_HOST, p: process.env.KUBERNETES_SERVICE_PORT };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      await expect(openApiStore({}, silentLogger)).rejects.toBeInstanceOf(InClusterError);
    } finally {
      if (saved.h !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.h;
      if (saved.p !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.p;
    }
  });
});

describe('ApiClient with a token file', () => {
  let srv: Server;
  const seen: (string | undefined)[] = [];
  beforeEach(async () => {
    seen.length = 0;
    srv = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"Status"}');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => srv.close(() => resolve())));

  it('reads the file again once a minute has passed, keeping the last token while it is unreadable', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const file = path.join(dir, 'token');
    await writeFile(file, 'one');
    const addr = srv.address() as { port: number };
    const c = new ApiClient({ servers: [`http://127.0.0.1:${addr.port}`], token: 'one', tokenFile: file });
    try {
      await c.request('GET', '/api');
      await writeFile(file, 'two\n');
      await c.request('GET', '/api');
      vi.setSystemTime(Date.now() + 61_000);
      await c.request('GET', '/api');
      await rm(file);
      vi.setSystemTime(Date.now() + 61_000);
      await c.request('GET', '/api');
    } finally {
      c.close();
    }
    expect(seen).toEqual(['Bearer one', 'Bearer one', 'Bearer two', 'Bearer two']);
  });
});
