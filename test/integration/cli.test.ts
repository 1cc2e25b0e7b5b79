// The built daemons' command lines, as an operator types them: Go-style for flanneld, pflag-style with
// underscores for the Kubernetes daemons. No daemon starts: each call ends at the flags.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CommandResult, runCommandResult } from '../harness/index.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const FOLDER: Record<string, string> = { flanneld: 'flanneld', kubelet: 'kubelet', 'kube-proxy': 'proxy' };
const bin = (name: string) => path.join(REPO, 'dist', FOLDER[name]!, 'main.js');

const cli = (name: string, ...args: string[]): Promise<CommandResult> => runCommandResult(process.execPath, [bin(name), ...args], { env: { PATH: process.env.PATH ?? '' } });

describe('command lines as typed in the seeds', () => {
  it('flanneld answers -version and --version', async () => {
    for (const v of ['-version', '--version']) {
      const r = await cli('flanneld', v);
      expect(r).toMatchObject({ code: 0 });
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
  it('flanneld refuses an unknown Go-style flag with its name, exit code 2 as Go', async () => {
    const r = await cli('flanneld', '-iface=eth0', '-ifcae=eth0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('flag provided but not defined: -ifcae');
  });
  it('flanneld config check reads Go-style flags and its file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flcli-'));
    try {
      await writeFile(path.join(dir, 'flannel.json'), '{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","VNI":1}}');
      const r = await cli('flanneld', '-logtostderr', '-v=2', 'config', 'check', path.join(dir, 'flannel.json'));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('10.1.0.0/16');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('kubelet and kube-proxy take the seeds\' underscores', async () => {
    expect((await cli('kubelet', '--hostname_override=node2', '--version')).code).toBe(0);
    expect((await cli('kube-proxy', '--etcd_endpoints=http://127.0.0.1:1', '--version')).code).toBe(0);
    const bad = await cli('kube-proxy', '--no_such=1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("'--no-such=1'");
  });
});
