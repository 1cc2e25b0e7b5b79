// The CNI plugin skeleton (the Go library's skel): reads and validates the CNI_* environment and the
// network config on stdin, negotiates the version, calls the plugin's add/del/check, and prints the
// result or the error JSON (exit status 1 on error). A plugin is three functions handed to
// pluginMain; it never reads the environment, stdin or stdout itself. `dispatch` is the whole
// protocol with the process injected, so it is unit-tested without spawning anything.
import { stat } from 'node:fs/promises';
import { type JsonObject, isJsonObject } from '../ipam/host-local/index.js';
import { CniError, toCniError } from './errors.js';
import { CniCode, type CniResult } from './types.js';
import { DEFAULT_CONFIG_VERSION, IMPLEMENTED_VERSION, convertResult, versionAtLeast } from './version.js';

export type PluginCommand = 'ADD' | 'DEL' | 'CHECK';

export interface CmdArgs {
  readonly command: PluginCommand;
  readonly containerId: string;
  /** May be empty on DEL. */
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS, `K=V;K2=V2`. */
  readonly args: string;
  /** CNI_PATH, where delegates are looked up. */
  readonly path: string;
  /** The network config exactly as received. */
  readonly stdin: string;
  readonly netconf: JsonObject;
  /** The config's cniVersion, which the plugin supports; results are printed in it. */
  readonly cniVersion: string;
  /** The environment, to pass on to delegates. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A result to print in the config's version, or a delegate's output to pass through verbatim. */
export type AddOutput = { readonly result: CniResult } | { readonly raw: string };

export interface PluginFuncs {
  add(a: CmdArgs): Promise<AddOutput>;
  del(a: CmdArgs): Promise<void>;
  check(a: CmdArgs): Promise<void>;
}

export interface PluginInfo {
  /** Printed, with the supported versions, when the plugin runs without CNI_COMMAND. */
  readonly about: string;
  readonly supportedVersions: readonly string[];
}

export interface SkelIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readStdin(): Promise<string>;
  /** True when `path` is the network namespace this process runs in. */
  isOwnNetns(path: string): Promise<boolean>;
}

export interface SkelOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_IFNAME = 15;

type Command = PluginCommand | 'VERSION' | 'GC' | 'STATUS';
const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};
const isCommand = (c: string): c is Command => Object.hasOwn(REQUIRED, c);

/** Why an interface name is unusable (the kernel's rules), or undefined. */
export function invalidIfName(name: string): string | undefined {
  if (name.length === 0) return 'interface name is empty';
  if (name.length > MAX_IFNAME) return `interface name is too long (at most ${MAX_IFNAME} characters)`;
  if (name === '.' || name === '..') return 'interface name is . or ..';
  if (/[/:\s]/.test(name)) return 'interface name contains / or : or whitespace characters';
  return undefined;
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 4)}\n`;

/** Runs one plugin invocation: never throws; every failure becomes the error JSON and exit 1. */
export async function dispatch(funcs: PluginFuncs, info: PluginInfo, io: SkelIo): Promise<SkelOutcome> {
  let version = IMPLEMENTED_VERSION; // the version errors are reported in, once the config's is known good
  try {
    const env = io.env;
    const cmd = env.CNI_COMMAND ?? '';
    if (cmd === '') {
      return { stdout: '', stderr: `${info.about}\nCNI protocol versions supported: ${info.supportedVersions.join(', ')}\n`, exitCode: 0 };
    }
    if (!isCommand(cmd)) throw new CniError(CniCode.InvalidEnv, `unknown CNI_COMMAND: ${cmd}`, 'CNI_COMMAND');
    const missing = REQUIRED[cmd].filter((k) => !env[k]);
    if (missing.length > 0) throw new CniError(CniCode.InvalidEnv, `required env variables [${missing.join(',')}] missing`, missing.join(','));
    if (REQUIRED[cmd].includes('CNI_CONTAINERID') && !NAME_RE.test(env.CNI_CONTAINERID ?? '')) {
      throw new CniError(CniCode.InvalidEnv, 'invalid characters in containerID', `CNI_CONTAINERID=${env.CNI_CONTAINERID}`);
    }
    if (REQUIRED[cmd].includes('CNI_IFNAME')) {
      const why = invalidIfName(env.CNI_IFNAME ?? '');
      if (why) throw new CniError(CniCode.InvalidEnv, why, `CNI_IFNAME=${env.CNI_IFNAME}`);
    }
    if (cmd === 'VERSION') {
      // stdin is not read, as the Go skeleton does not: a VERSION probe from a terminal must not hang.
      return { stdout: json({ cniVersion: IMPLEMENTED_VERSION, supportedVersions: info.supportedVersions }), stderr: '', exitCode: 0 };
    }

    const stdin = await io.readStdin().catch((e: unknown) => {
      throw new CniError(CniCode.IoFailure, 'error reading from stdin', e instanceof Error ? e.message : String(e));
    });
    let doc: unknown;
    try {
      doc = JSON.parse(stdin);
    } catch (e) {
      throw new CniError(CniCode.DecodingFailure, 'error unmarshalling network config', e instanceof Error ? e.message : String(e));
    }
    if (!isJsonObject(doc)) throw new CniError(CniCode.DecodingFailure, 'error unmarshalling network config', 'the network config must be a JSON object');
    const name = doc.name;
    if (name === undefined || name === null || name === '') throw new CniError(CniCode.InvalidNetworkConfig, 'missing network name');
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new CniError(CniCode.InvalidNetworkConfig, 'invalid characters found in network name', String(name));
    const rawVersion = doc.cniVersion;
    if (rawVersion !== undefined && rawVersion !== null && typeof rawVersion !== 'string') {
      throw new CniError(CniCode.DecodingFailure, 'cniVersion must be a string', JSON.stringify(rawVersion));
    }
    const configVersion = rawVersion || DEFAULT_CONFIG_VERSION;
    const incompatible = (msg: string) =>
      new CniError(CniCode.IncompatibleVersion, msg, `config is ${JSON.stringify(configVersion)}, plugin supports ${JSON.stringify(info.supportedVersions)}`);
    if (cmd === 'GC' || cmd === 'STATUS') {
      if (!versionAtLeast(configVersion, '1.1.0')) throw incompatible(`config version does not allow ${cmd}`);
      throw incompatible(`plugin version does not allow ${cmd}`);
    }
    if (cmd === 'CHECK' && !versionAtLeast(configVersion, '0.4.0')) throw incompatible('config version does not allow CHECK');
    if (!info.supportedVersions.includes(configVersion)) throw incompatible('incompatible CNI versions');
    version = configVersion;

    const netns = env.CNI_NETNS ?? '';
    const override = (env.CNI_NETNS_OVERRIDE ?? '').toUpperCase();
    if (netns !== '' && override !== 'TRUE' && override !== '1' && (await io.isOwnNetns(netns))) {
      throw new CniError(CniCode.InvalidNetns, "plugin's netns and netns from CNI_NETNS should not be the same", netns);
    }

    const a: CmdArgs = {
      command: cmd,
      containerId: env.CNI_CONTAINERID ?? '',
      netns,
      ifName: env.CNI_IFNAME ?? '',
      args: env.CNI_ARGS ?? '',
      path: env.CNI_PATH ?? '',
      stdin,
      netconf: doc,
      cniVersion: configVersion,
      env,
    };
    if (cmd === 'ADD') {
      const out = await funcs.add(a);
      return { stdout: 'raw' in out ? out.raw : json(convertResult(out.result, configVersion)), stderr: '', exitCode: 0 };
    }
    await (cmd === 'DEL' ? funcs.del(a) : funcs.check(a));
    return { stdout: '', stderr: '', exitCode: 0 };
  } catch (e) {
    return { stdout: json(toCniError(e).toJson(version)), stderr: '', exitCode: 1 };
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** True when `path` is the network namespace this process runs in. */
export async function sameNetns(path: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([stat(path), stat('/proc/self/ns/net')]);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // a missing namespace is the plugin's business (DEL treats it as gone)
  }
}

export const processIo = (): SkelIo => ({ env: process.env, readStdin: () => readAll(process.stdin), isOwnNetns: sameNetns });

/** The plugin's main: runs dispatch against this process and sets its exit status. */
export async function pluginMain(funcs: PluginFuncs, info: PluginInfo, io: SkelIo = processIo()): Promise<void> {
  const out = await dispatch(funcs, info, io);
  if (out.stderr) process.stderr.write(out.stderr);
  if (out.stdout) process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}
