// Running a delegate plugin as the spec's delegation protocol says: found by name on CNI_PATH,
// executed with our own environment (CNI_COMMAND set to the verb) and the given config on stdin,
// its stderr going straight to ours. A zero exit gives its stdout; a non-zero exit gives the CNI
// error it printed, passed through unchanged (code, msg, details). Bounded by a timeout.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { isJsonObject } from '../ipam/host-local/index.js';
import { CniError } from './errors.js';
import { CniCode, PluginCode } from './types.js';

export type DelegateVerb = 'ADD' | 'DEL' | 'CHECK';

export interface PluginRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly timedOut: boolean;
}

/** The process edge, injected so the flannel plugin is tested with a fake. */
export interface PluginExec {
  /** The first `<dir>/<plugin>` on the path that is an executable file. */
  find(plugin: string, dirs: readonly string[]): Promise<string | undefined>;
  run(file: string, stdin: string, env: Readonly<Record<string, string | undefined>>, timeoutMs: number): Promise<PluginRun>;
}

export const DEFAULT_DELEGATE_TIMEOUT_MS = 120_000;
const OUTPUT_CAP = 16 * 1024 * 1024;

/**
 * The real process edge. With `onStderr`, a delegate's stderr is handed over instead of going
 * straight to ours: the CNI daemon runs many requests in one process and returns each one's own.
 */
export const spawnExec = (onStderr?: (chunk: Buffer) => void): PluginExec => ({
  async find(plugin, dirs) {
    for (const d of dirs) {
      const file = path.join(d, plugin);
      try {
        await access(file, constants.X_OK);
        return file;
      } catch {
        // next directory
      }
    }
    return undefined;
  },
  run(file, stdin, env, timeoutMs) {
    return new Promise<PluginRun>((resolve, reject) => {
      const clean: Record<string, string> = {};
      for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
      const child = spawn(file, [], { env: clean, stdio: ['pipe', 'pipe', onStderr ? 'pipe' : 'inherit'] });
      if (onStderr) child.stderr?.on('data', onStderr);
      let stdout = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        if (stdout.length < OUTPUT_CAP) stdout += d;
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, timedOut });
      });
      child.stdin?.on('error', () => undefined); // the plugin may exit before reading everything
      child.stdin?.end(stdin);
    });
  },
});

export const realExec: PluginExec = spawnExec();

/** The CNI error a failed plugin printed, or a generic one naming the plugin and its exit status. */
export function delegateError(plugin: string, run: PluginRun, timeoutMs: number): CniError {
  if (run.timedOut) return new CniError(PluginCode.DelegateFailed, `delegate plugin ${plugin} timed out`, `killed after ${timeoutMs} ms`);
  let doc: unknown;
  try {
    doc = JSON.parse(run.stdout);
  } catch {
    doc = undefined;
  }
  if (isJsonObject(doc) && typeof doc.code === 'number' && typeof doc.msg === 'string') {
    return new CniError(doc.code, doc.msg, typeof doc.details === 'string' ? doc.details : '');
  }
  return new CniError(PluginCode.DelegateFailed, `delegate plugin ${plugin} failed with exit status ${run.code}`, run.stdout.trim().slice(0, 2000));
}

/**
 * Runs `plugin` for `verb` with `conf` on stdin; returns its stdout. On ADD the output must be a JSON
 * object (the result); a failure throws the delegate's own CNI error.
 */
export async function delegate(
  exec: PluginExec,
  verb: DelegateVerb,
  plugin: string,
  conf: string,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = DEFAULT_DELEGATE_TIMEOUT_MS,
): Promise<string> {
  if (plugin === '' || plugin.includes('/')) throw new CniError(CniCode.InvalidNetworkConfig, `invalid delegate plugin type ${JSON.stringify(plugin)}`);
  const dirs = (env.CNI_PATH ?? '').split(':').filter((d) => d !== '');
  const file = await exec.find(plugin, dirs);
  if (!file) throw new CniError(PluginCode.DelegateNotFound, `failed to find plugin ${JSON.stringify(plugin)} in path`, JSON.stringify(dirs));
  let run: PluginRun;
  try {
    run = await exec.run(file, conf, { ...env, CNI_COMMAND: verb }, timeoutMs);
  } catch (e) {
    throw new CniError(PluginCode.DelegateFailed, `cannot execute delegate plugin ${file}`, e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (run.code !== 0 || run.timedOut) throw delegateError(plugin, run, timeoutMs);
  if (verb === 'ADD') {
    let doc: unknown;
    try {
      doc = JSON.parse(run.stdout);
    } catch {
      doc = undefined;
    }
    if (!isJsonObject(doc)) throw new CniError(PluginCode.DelegateFailed, `delegate plugin ${plugin} printed no result`, run.stdout.trim().slice(0, 2000));
  }
  return run.stdout;
}
