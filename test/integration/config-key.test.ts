// Where operators put the network config, as the seeds typed it: the v3 `etcdctl put` without the
// leading slash, the v2 `etcdctl set`, and `flanneld config set`. Real etcd (with the v2 API on, as
// etcd 3.4 offers it), the real etcdctl, and the built flanneld.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEtcdClient, readEtcdV2Key } from '../../common/index.js';
import { EtcdRegistry } from '../../ipam/index.js';
import { type CommandResult, EtcdServer, runCommandResult } from '../harness/index.js';

const run = promisify(execFile);
const FLANNELD = path.resolve(import.meta.dirname, '../../dist/flanneld/main.js');
const SEED_JSON = '{\n  "Network": "10.20.0.0/16",\n  "SubnetLen": 24,\n  "Backend": {\n    "Type": "vxlan",\n    "VNI": 1\n  }\n}\n';

let etcd: EtcdServer;
let client: Etcd3;
let dir: string;

beforeAll(async () => {
  etcd = await EtcdServer.start({ extraArgs: ['--enable-v2=true'] });
  client = createEtcdClient({ endpoints: [etcd.endpoint] });
  dir = await mkdtemp(path.join(tmpdir(), `flcfg${process.pid}-`));
  await writeFile(path.join(dir, 'flannel.json'), SEED_JSON);
});
afterAll(async () => {
  client?.close();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await client.delete().all();
  await run('etcdctl', [`--endpoints=${etcd.endpoint}`, 'rm', '/coreos.com/network/config'], { env: { ...process.env, ETCDCTL_API: '2' } }).catch(() => undefined);
});

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const flanneld = (...args: string[]): Promise<CommandResult> => runCommandResult(process.execPath, [FLANNELD, `-etcd-endpoints=${etcd.endpoint}`, ...args]);

describe('the network config key', () => {
  it('reads a config put without the leading slash, and says which key it read and which it expects', async () => {
    await etcd.ctl(['put', 'coreos.com/network/config', SEED_JSON]);
    const { log, lines } = capture();
    const reg = new EtcdRegistry(client, '/coreos.com/network', log);
    expect(JSON.parse((await reg.getNetworkConfig())!)).toMatchObject({ Network: '10.20.0.0/16' });
    await reg.getNetworkConfig();
    const warnings = lines.filter((l) => l.key === 'coreos.com/network/config');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, expected: '/coreos.com/network/config' });
  });

  it('prefers the key with the slash when both exist', async () => {
    await etcd.ctl(['put', 'coreos.com/network/config', '{"Network":"10.9.0.0/16"}']);
    await etcd.ctl(['put', '/coreos.com/network/config', SEED_JSON]);
    const reg = new EtcdRegistry(client, '/coreos.com/network');
    expect(JSON.parse((await reg.getNetworkConfig())!)).toMatchObject({ Network: "10.20.0.0/16" });
  });

  it("finds a config written by v2's etcdctl set, tells the operator flanneld does not read it, and how to write it", async () => {
    await run('etcdctl', [`--endpoints=${etcd.endpoint}`, 'set', '/coreos.com/network/config', SEED_JSON], { env: { ...process.env, ETCDCTL_API: '2' } });
    expect(await readEtcdV2Key({ endpoints: [etcd.endpoint] }, '/coreos.com/network/config')).toMatchObject({ kind: 'found' });
    const reg = new EtcdRegistry(client, '/coreos.com/network', undefined, (k) => readEtcdV2Key({ endpoints: [etcd.endpoint] }, k));
    expect(await reg.getNetworkConfig()).toBeUndefined();
    const why = await reg.explainMissingConfig();
    expect(why.lookedFor).toEqual(['/coreos.com/network/config (etcd v3)', 'coreos.com/network/config (etcd v3)', '/coreos.com/network/config (etcd v2 store)']);
    expect(why.note).toMatch(/v2 store/);
    expect(why.write.join('\n')).toContain("etcdctl put /coreos.com/network/config '");

    const r = await flanneld('config', 'check');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('looked for /coreos.com/network/config (etcd v3)');
    expect(r.stderr).toContain("etcd's v2 store");
  });

  it('says the v2 API is off when it is', async () => {
    const v3only = await EtcdServer.start();
    try {
      expect(await readEtcdV2Key({ endpoints: [v3only.endpoint] }, '/coreos.com/network/config')).toEqual({ kind: 'unavailable', reason: 'the v2 API is not enabled' });
      expect(await readEtcdV2Key({ endpoints: ['http://127.0.0.1:1'] }, '/x')).toMatchObject({ kind: 'unavailable' });
    } finally {
      await v3only.destroy();
    }
  });

  it('flanneld config set checks the file and writes it where flanneld reads it', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"Network":"10.20.0.0/33"}');
    const refused = await flanneld('config', 'set', bad);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Network/);
    expect(await etcd.ctl(['get', '--prefix', '/coreos.com'])).toBe('');

    const r = await flanneld('config', 'set', path.join(dir, 'flannel.json'));
    expect(r).toMatchObject({ code: 0, stdout: 'wrote /coreos.com/network/config\n' });
    expect(JSON.parse(await etcd.ctl(['get', '--print-value-only', '/coreos.com/network/config']))).toMatchObject({ Network: '10.20.0.0/16', Backend: { VNI: 1 } });
    const check = await flanneld('config', 'check');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('10.20.0.0/16');
  });
});
