// scripts/install into a temp tree, both unit styles, as a new user would run it: the installed units
// pass `systemd-analyze verify`, the commands run, flanneld-start builds flanneld's command line from
// the sysconfig file, mk-docker-opts.sh takes flannel's flags, and --uninstall removes what it put.
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CommandResult, runCommandResult } from '../harness/index.js';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');

interface Tree {
  readonly root: string;
  readonly bindir: string;
  readonly libexecdir: string;
  readonly unitdir: string;
  readonly sysconfdir: string;
}

async function install(t: Tree, ...extra: string[]): Promise<string> {
  const args = ['scripts/install', '--bindir', t.bindir, '--libexecdir', t.libexecdir, '--unitdir', t.unitdir, '--sysconfdir', t.sysconfdir, '--no-reload', ...extra];
  return (await run('bash', args, { cwd: REPO, timeout: 30_000 })).stdout;
}

const sh = (cmd: string, args: string[], env: Record<string, string> = {}): Promise<CommandResult> => runCommandResult(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env } });

const exists = (p: string) => access(p).then(() => true, () => false);

let base: string;
const tree = (name: string): Tree => {
  const root = path.join(base, name);
  return { root, bindir: path.join(root, 'bin'), libexecdir: path.join(root, 'libexec'), unitdir: path.join(root, 'systemd'), sysconfdir: path.join(root, 'etc') };
};

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), `flinst${process.pid}-`));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('scripts/install', () => {
  it('installs the default style: commands, a Type=notify unit that verifies, the drop-in, /etc/default/flanneld', async () => {
    const t = tree('default');
    await install(t);
    const unit = await readFile(path.join(t.unitdir, 'flanneld.service'), 'utf8');
    expect(unit).toContain('Type=notify');
    expect(unit).toContain(`ExecStart=${t.bindir}/flanneld\n`);
    expect(unit).toContain(`EnvironmentFile=-${t.sysconfdir}/default/flanneld`);
    expect(unit).not.toMatch(/@[A-Z]+@|ExecStartPost/);
    const dropin = await readFile(path.join(t.unitdir, 'docker.service.d/flannel.conf'), 'utf8');
    expect(dropin).toContain(`ExecStartPre=${t.bindir}/flanneld docker-opts`);
    const v = await sh('systemd-analyze', ['verify', path.join(t.unitdir, 'flanneld.service')]);
    expect(v).toMatchObject({ code: 0, stderr: '' });
    for (const b of ['flanneld', 'kubelet', 'kube-proxy']) expect((await sh(path.join(t.bindir, b), ['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await sh(path.join(t.bindir, 'kubectl-rolling_update'), ['--help'])).stdout).toContain('kubectl rolling-update OLD_CONTROLLER_NAME');
    expect(await readFile(path.join(t.sysconfdir, 'default/flanneld'), 'utf8')).toContain('FLANNELD_ETCD_ENDPOINTS=');
    // A second install keeps the operator's settings.
    await writeFile(path.join(t.sysconfdir, 'default/flanneld'), 'FLANNELD_IFACE=eth9\n');
    expect(await install(t)).toContain('kept');
    expect(await readFile(path.join(t.sysconfdir, 'default/flanneld'), 'utf8')).toBe('FLANNELD_IFACE=eth9\n');
  });

  it('installs the sysconfig style: flanneld-start builds the command line from /etc/sysconfig/flanneld', async () => {
    const t = tree('sysconfig');
    await install(t, '--style', 'sysconfig');
    const unitFile = path.join(t.unitdir, 'flanneld.service');
    const unit = await readFile(unitFile, 'utf8');
    expect(unit).toContain(`ExecStart=${t.bindir}/flanneld-start $FLANNEL_OPTIONS`);
    expect(unit).toContain(`ExecStartPost=${t.libexecdir}/flannel/mk-docker-opts.sh -k DOCKER_NETWORK_OPTIONS -d /run/flannel/docker`);
    expect(await sh('systemd-analyze', ['verify', unitFile])).toMatchObject({ code: 0, stderr: '' });

    // The seed's file; an unknown flag in FLANNEL_OPTIONS shows that they reach flanneld, Go-style.
    const conf = path.join(t.sysconfdir, 'sysconfig/flanneld');
    await writeFile(conf, 'FLANNEL_ETCD="http://127.0.0.1:1"  \nFLANNEL_ETCD_KEY="/coreos.com/network"  \nFLANNEL_OPTIONS="-iface=eth0 -ifcae=eth0"\n');
    const r = await sh(path.join(t.bindir, 'flanneld-start'), []);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('flag provided but not defined: -ifcae');
    // As systemd runs it: the variables in the environment, $FLANNEL_OPTIONS as arguments.
    const viaUnit = await sh(path.join(t.bindir, 'flanneld-start'), ['-iface=eth0', '-version'], { FLANNEL_ETCD: 'http://127.0.0.1:1', FLANNEL_ETCD_KEY: '/coreos.com/network' });
    expect(viaUnit).toMatchObject({ code: 0 });
  });

  it("installs mk-docker-opts.sh with flannel's flags and defaults", async () => {
    const t = tree('sysconfig');
    const env = path.join(t.root, 'subnet.env');
    await writeFile(env, 'FLANNEL_NETWORK=10.20.0.0/16\nFLANNEL_SUBNET=10.20.21.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const mk = path.join(t.libexecdir, 'flannel/mk-docker-opts.sh');
    const out = path.join(t.root, 'docker_opts.env');
    expect((await sh(mk, ['-f', env, '-d', out, '-c'])).code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('DOCKER_OPTS=" --bip=10.20.21.1/24 --ip-masq=true --mtu=1450"\n');
    expect((await sh(mk, ['-f', env, '-d', out, '-i', '-m'])).code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('DOCKER_OPT_BIP="--bip=10.20.21.1/24"\nDOCKER_OPT_MTU="--mtu=1450"\n');
    expect((await sh(mk, ['-f', env, '-d', out, '-k', 'DOCKER_NETWORK_OPTIONS'])).code).toBe(0);
    expect(await readFile(out, 'utf8')).toContain('DOCKER_NETWORK_OPTIONS=" --bip=10.20.21.1/24 --ip-masq=true --mtu=1450"');
    expect((await sh(mk, ['-x'])).code).not.toBe(0);
  });

  it('--uninstall removes the commands, units and helpers and keeps the settings', async () => {
    const t = tree('sysconfig');
    await install(t, '--uninstall');
    for (const p of ['bin/flanneld', 'bin/kubelet', 'bin/kube-proxy', 'bin/kubectl-rolling_update', 'bin/flanneld-start', 'libexec/flannel/mk-docker-opts.sh', 'systemd/flanneld.service', 'systemd/docker.service.d/flannel.conf']) {
      expect(await exists(path.join(t.root, p)), p).toBe(false);
    }
    expect(await exists(path.join(t.sysconfdir, 'sysconfig/flanneld'))).toBe(true);
  });
});
