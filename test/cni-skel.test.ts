// The CNI skeleton in-process: environment validation, version negotiation, decoding errors, result
// conversion for older versions, the error JSON and the own-netns guard.
import { describe, expect, it } from 'vitest';
import { type CmdArgs, CniError, type PluginFuncs, type SkelIo, convertResult, dispatch, invalidIfName, versionAtLeast } from '../cni/index.js';
import { FLANNEL_PLUGIN_INFO as INFO } from '../cni/index.js';

const ADD_ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr-1', CNI_NETNS: '/var/run/netns/pod', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const RESULT = { cniVersion: '1.0.0', ips: [{ address: '10.5.1.2/24', gateway: '10.5.1.1' }, { address: 'fd00::2/64' }], routes: [{ dst: '10.5.0.0/16' }] };

function io(env: Record<string, string | undefined>, stdin = '', ownNetns = false): SkelIo {
  return { env, readStdin: async () => stdin, isOwnNetns: async () => ownNetns };
}

function recorder(): PluginFuncs & { calls: CmdArgs[] } {
  const calls: CmdArgs[] = [];
  return {
    calls,
    add: async (a) => (calls.push(a), { result: RESULT }),
    del: async (a) => void calls.push(a),
    check: async (a) => void calls.push(a),
  };
}

const conf = (v: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', ...v });
const parse = (s: string) => JSON.parse(s) as Record<string, unknown>;

describe('CNI skeleton', () => {
  it('runs ADD with the parsed args and prints the result in the config version', async () => {
    const f = recorder();
    const out = await dispatch(f, INFO, io({ ...ADD_ENV, CNI_ARGS: 'IP=10.5.1.9' }, conf()));
    expect(out.exitCode).toBe(0);
    expect(parse(out.stdout)).toEqual(RESULT);
    expect(f.calls[0]).toMatchObject({ command: 'ADD', containerId: 'ctr-1', netns: '/var/run/netns/pod', ifName: 'eth0', args: 'IP=10.5.1.9', path: '/opt/cni/bin', cniVersion: '1.0.0' });
    expect(f.calls[0]!.stdin).toBe(conf());
  });

  it('prints 0.3.1/0.4.0 results with an IP version on each address', async () => {
    const out = await dispatch(recorder(), INFO, io(ADD_ENV, conf({ cniVersion: '0.3.1' })));
    expect(parse(out.stdout)).toEqual({
      cniVersion: '0.3.1',
      ips: [
        { version: '4', address: '10.5.1.2/24', gateway: '10.5.1.1' },
        { version: '6', address: 'fd00::2/64' },
      ],
      routes: [{ dst: '10.5.0.0/16' }],
    });
    expect(convertResult({ cniVersion: '1.0.0', dns: {} }, '1.0.0')).toEqual({ cniVersion: '1.0.0' });
  });

  it('passes a raw delegate result through unchanged', async () => {
    const f: PluginFuncs = { ...recorder(), add: async () => ({ raw: '{"cniVersion":"1.0.0","interfaces":[]}' }) };
    expect((await dispatch(f, INFO, io(ADD_ENV, conf()))).stdout).toBe('{"cniVersion":"1.0.0","interfaces":[]}');
  });

  it('DEL needs no netns and prints nothing', async () => {
    const f = recorder();
    const { CNI_NETNS: _, ...env } = ADD_ENV;
    const out = await dispatch(f, INFO, io({ ...env, CNI_COMMAND: 'DEL' }, conf()));
    expect(out).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(f.calls[0]!.command).toBe('DEL');
  });

  it('names missing and invalid environment variables (code 4)', async () => {
    const out = await dispatch(recorder(), INFO, io({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0' }, conf()));
    expect(out.exitCode).toBe(1);
    expect(parse(out.stdout)).toEqual({ cniVersion: '1.0.0', code: 4, msg: 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_PATH] missing', details: 'CNI_CONTAINERID,CNI_NETNS,CNI_PATH' });
    expect(parse((await dispatch(recorder(), INFO, io({ ...ADD_ENV, CNI_CONTAINERID: '../x' }, conf()))).stdout)).toMatchObject({ code: 4, msg: 'invalid characters in containerID' });
    expect(parse((await dispatch(recorder(), INFO, io({ ...ADD_ENV, CNI_IFNAME: 'a-very-long-ifname' }, conf()))).stdout)).toMatchObject({ code: 4 });
    expect(parse((await dispatch(recorder(), INFO, io({ ...ADD_ENV, CNI_COMMAND: 'FROB' }, conf()))).stdout)).toMatchObject({ code: 4, msg: 'unknown CNI_COMMAND: FROB' });
    expect(invalidIfName('eth 0')).toMatch(/whitespace/);
    expect(invalidIfName('eth0')).toBeUndefined();
  });

  it('reports bad JSON as a decoding failure (code 6) and a missing name as invalid config (code 7)', async () => {
    const bad = parse((await dispatch(recorder(), INFO, io(ADD_ENV, '{"name": "x",'))).stdout);
    expect(bad.code).toBe(6);
    expect(bad.msg).toBe('error unmarshalling network config');
    expect(String(bad.details)).toMatch(/JSON/);
    expect(parse((await dispatch(recorder(), INFO, io(ADD_ENV, '[1]'))).stdout)).toMatchObject({ code: 6 });
    expect(parse((await dispatch(recorder(), INFO, io(ADD_ENV, '{"cniVersion":"1.0.0"}'))).stdout)).toMatchObject({ code: 7, msg: 'missing network name' });
    expect(parse((await dispatch(recorder(), INFO, io(ADD_ENV, conf({ name: 'a b' })))).stdout)).toMatchObject({ code: 7 });
  });

  it('negotiates versions: unsupported is code 1, CHECK needs 0.4.0, GC and STATUS need 1.1.0', async () => {
    const old = parse((await dispatch(recorder(), INFO, io(ADD_ENV, conf({ cniVersion: '0.2.0' })))).stdout);
    expect(old).toEqual({ cniVersion: '1.0.0', code: 1, msg: 'incompatible CNI versions', details: 'config is "0.2.0", plugin supports ["0.3.0","0.3.1","0.4.0","1.0.0"]' });
    expect(parse((await dispatch(recorder(), INFO, io(ADD_ENV, JSON.stringify({ name: 'n' })))).stdout)).toMatchObject({ code: 1, details: expect.stringContaining('"0.1.0"') });
    expect(parse((await dispatch(recorder(), INFO, io({ ...ADD_ENV, CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '0.3.1' })))).stdout)).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
    expect(parse((await dispatch(recorder(), INFO, io({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf()))).stdout)).toMatchObject({ code: 1, msg: 'config version does not allow GC' });
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
  });

  it('answers VERSION without reading stdin', async () => {
    const out = await dispatch(recorder(), INFO, { env: { CNI_COMMAND: 'VERSION' }, readStdin: () => new Promise(() => undefined), isOwnNetns: async () => false });
    expect(parse(out.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  });

  it('prints what it is when run without CNI_COMMAND', async () => {
    const out = await dispatch(recorder(), INFO, io({}));
    expect(out.exitCode).toBe(0);
    expect(out.stderr).toContain('CNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0');
  });

  it("refuses a CNI_NETNS that is the plugin's own namespace (code 8), unless overridden", async () => {
    const f = recorder();
    expect(parse((await dispatch(f, INFO, io(ADD_ENV, conf(), true))).stdout)).toMatchObject({ code: 8 });
    expect(f.calls).toHaveLength(0);
    expect((await dispatch(f, INFO, io({ ...ADD_ENV, CNI_NETNS_OVERRIDE: '1' }, conf(), true))).exitCode).toBe(0);
  });

  it('prints plugin errors with their code and the config version; unknown errors are 999', async () => {
    const fail = (e: unknown): PluginFuncs => ({ ...recorder(), add: async () => Promise.reject(e) });
    const out = await dispatch(fail(new CniError(11, 'try later', 'subnet.env missing')), INFO, io(ADD_ENV, conf({ cniVersion: '0.4.0' })));
    expect(out.exitCode).toBe(1);
    expect(parse(out.stdout)).toEqual({ cniVersion: '0.4.0', code: 11, msg: 'try later', details: 'subnet.env missing' });
    expect(parse((await dispatch(fail(new Error('boom')), INFO, io(ADD_ENV, conf()))).stdout)).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'boom' });
  });
});
