// The CNI daemon's wire format (encode/decode both ways, truncation, limits, bad magic), and the
// server's handshake on a real unix socket in a temp dir with an in-memory plugin: 'R' then 'G' runs
// it once and answers exit code, stdout and stderr; a request from other namespaces or for an
// unknown plugin is declined with 'D'; a shim that hangs up before 'G' never gets the plugin run.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CniDaemon,
  type CmdArgs,
  DECLINE,
  FrameError,
  GO,
  MAX_FRAME,
  type NsId,
  READY,
  type ShimRequest,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FLANNEL_PLUGIN_INFO,
  sameNamespaces,
  startCniDaemon,
  takeFrame,
} from '../cni/index.js';

const NET: NsId = { dev: 4n, ino: 4026531840n };
const MNT: NsId = { dev: 4n, ino: 4026531841n };
const REQ: ShimRequest = {
  netns: NET,
  mntns: MNT,
  plugin: 'flannel',
  env: [
    ['CNI_COMMAND', 'ADD'],
    ['CNI_CONTAINERID', 'ctr-1'],
    ['CNI_NETNS', '/var/run/netns/pod'],
    ['CNI_IFNAME', 'eth0'],
    ['CNI_PATH', '/opt/cni/bin'],
    ['WEIRD', 'a=b=c'],
    ['EMPTY', ''],
  ],
  stdin: Buffer.from('{"cniVersion":"1.0.0","name":"cbr0","type":"flannel"}'),
};

const body = (frame: Buffer): Buffer => {
  const t = takeFrame(frame);
  if (!t) throw new Error('incomplete frame');
  expect(t.rest.length).toBe(0);
  return t.body;
};

describe('CNI daemon codec', () => {
  it('round-trips a request and a response', () => {
    const got = decodeRequest(body(encodeRequest(REQ)));
    expect(got).toEqual(REQ);
    const resp = { exitCode: 1, stdout: Buffer.from('{"code":7}\n'), stderr: Buffer.from('warn\n') };
    expect(decodeResponse(body(encodeResponse(resp)))).toEqual(resp);
    expect(decodeResponse(body(encodeResponse({ exitCode: -2, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }))).exitCode).toBe(-2);
  });

  it('lays the request out as the C shim writes it', () => {
    const f = encodeRequest({ ...REQ, env: [['A', 'b']], stdin: Buffer.from('x') });
    expect(f.readUInt32LE(0)).toBe(f.length - 4);
    expect(f.toString('latin1', 4, 8)).toBe('FCNI');
    expect(f[8]).toBe(1);
    expect(f.readBigUInt64LE(9)).toBe(NET.dev);
    expect(f.readBigUInt64LE(17)).toBe(NET.ino);
    expect(f.readBigUInt64LE(33)).toBe(MNT.ino);
    expect(f.readUInt32LE(41)).toBe(7);
    expect(f.toString('utf8', 45, 52)).toBe('flannel');
    expect(f.readUInt32LE(52)).toBe(1);
    expect(f.readUInt32LE(56)).toBe(3);
    expect(f.toString('utf8', 60, 63)).toBe('A=b');
    expect(f.readUInt32LE(63)).toBe(1);
    expect(f.toString('utf8', 67)).toBe('x');
  });

  it('waits for a whole frame and leaves what follows it', () => {
    const f = encodeRequest(REQ);
    for (const n of [0, 3, 4, f.length - 1]) expect(takeFrame(f.subarray(0, n))).toBeUndefined();
    const t = takeFrame(Buffer.concat([f, Buffer.from([GO])]));
    expect(t?.rest).toEqual(Buffer.from([GO]));
  });

  it('names what is wrong with a bad frame', () => {
    const f = body(encodeRequest(REQ));
    expect(() => decodeRequest(f.subarray(0, f.length - 3))).toThrow(/truncated frame: stdin needs/);
    expect(() => decodeRequest(Buffer.concat([f, Buffer.from([0])]))).toThrow(/1 unexpected bytes after/);
    const magic = Buffer.from(f);
    magic.write('XXXX', 0, 'latin1');
    expect(() => decodeRequest(magic)).toThrow(FrameError);
    expect(() => decodeRequest(magic)).toThrow(/bad magic "XXXX", want FCNI/);
    const version = Buffer.from(f);
    version[4] = 9;
    expect(() => decodeRequest(version)).toThrow(/protocol version 9, this daemon speaks 1/);
    const huge = Buffer.alloc(4);
    huge.writeUInt32LE(MAX_FRAME + 1);
    expect(() => takeFrame(huge)).toThrow(/over the 16777216-byte limit/);
    expect(() => decodeResponse(Buffer.alloc(6))).toThrow(/truncated frame: stdout length/);
  });

  it('drops environment entries without a name, as getenv never returns them', () => {
    const f = body(encodeRequest({ ...REQ, env: [['', 'novalue'], ['K', 'v']] }));
    expect(decodeRequest(f).env).toEqual([['K', 'v']]);
  });

  it('matches namespaces by device and inode, both of them', () => {
    const own = { netns: NET, mntns: MNT };
    expect(sameNamespaces(REQ, own)).toBe(true);
    expect(sameNamespaces({ netns: { ...NET, ino: 1n }, mntns: MNT }, own)).toBe(false);
    expect(sameNamespaces({ netns: NET, mntns: { ...MNT, dev: 5n } }, own)).toBe(false);
  });
});

// ------------------------------------------------------------------ the server on a real socket

interface Exchange {
  readonly first: number | undefined;
  readonly response: ReturnType<typeof decodeResponse> | undefined;
}

/** Plays the shim: sends `req`, reads the 1-byte answer, sends 'G' if `go`, reads the response. */
function exchange(socketPath: string, req: ShimRequest, go = true): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let buf: Buffer = Buffer.alloc(0);
    let first: number | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no answer in 5 s'));
    }, 5000);
    s.on('error', reject);
    s.on('connect', () => s.write(encodeRequest(req)));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (first === undefined) {
        first = buf[0];
        buf = buf.subarray(1);
        if (first === READY) {
          if (go) s.write(Buffer.from([GO]));
          else s.end();
        }
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      const t = takeFrame(buf);
      resolve({ first, response: t ? decodeResponse(t.body) : undefined });
    });
  });
}

describe('CNI daemon server', () => {
  let dir: string;
  let daemon: CniDaemon;
  const calls: CmdArgs[] = [];

  beforeEach(async () => {
    calls.length = 0;
    dir = await mkdtemp(path.join(tmpdir(), 'cni-daemon-'));
    daemon = await startCniDaemon({
      socketPath: path.join(dir, 'cni.sock'),
      own: { netns: NET, mntns: MNT },
      isOwnNetns: async () => false,
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined },
      plugins: (name, stderr) =>
        name !== 'flannel'
          ? undefined
          : {
              info: FLANNEL_PLUGIN_INFO,
              funcs: {
                add: async (a) => {
                  calls.push(a);
                  stderr('delegate said hello\n');
                  return { raw: `{"from":"${a.env.WEIRD}"}` };
                },
                del: async (a) => void calls.push(a),
                check: async () => {
                  throw new Error('check broke');
                },
              },
            },
    });
  });

  afterEach(async () => {
    await daemon.close(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the plugin once after go and answers its stdout, stderr and exit code', async () => {
    const r = await exchange(daemon.socketPath, REQ);
    expect(r.first).toBe(READY);
    expect(r.response?.exitCode).toBe(0);
    expect(r.response?.stdout.toString()).toBe('{"from":"a=b=c"}');
    expect(r.response?.stderr.toString()).toBe('delegate said hello\n');
    expect(calls.map((c) => [c.command, c.containerId, c.stdin])).toEqual([['ADD', 'ctr-1', REQ.stdin.toString()]]);
  });

  it('answers a failing plugin with its CNI error and exit 1, as the skeleton prints it', async () => {
    const env = REQ.env.map(([k, v]) => [k, k === 'CNI_COMMAND' ? 'CHECK' : v] as const);
    const r = await exchange(daemon.socketPath, { ...REQ, env });
    expect(r.response?.exitCode).toBe(1);
    expect(JSON.parse(r.response?.stdout.toString() ?? '')).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'check broke' });
  });

  it('declines other namespaces and unknown plugins, and runs nothing without go', async () => {
    expect(await exchange(daemon.socketPath, { ...REQ, netns: { dev: 4n, ino: 1n } })).toEqual({ first: DECLINE, response: undefined });
    expect(await exchange(daemon.socketPath, { ...REQ, mntns: { dev: 4n, ino: 1n } })).toEqual({ first: DECLINE, response: undefined });
    expect(await exchange(daemon.socketPath, { ...REQ, plugin: 'bridge' })).toEqual({ first: DECLINE, response: undefined });
    expect(await exchange(daemon.socketPath, REQ, false)).toEqual({ first: READY, response: undefined });
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([]);
  });

  it('refuses to take over a socket another daemon answers on', async () => {
    await expect(
      startCniDaemon({ socketPath: daemon.socketPath, own: { netns: NET, mntns: MNT }, isOwnNetns: async () => false, log: console as never, plugins: () => undefined }),
    ).rejects.toThrow(/another CNI daemon is listening there/);
  });
});
