// A V8 code cache for the CommonJS modules a daemon loads (etcd3, @grpc/grpc-js, protobufjs, pino,
// commander...): Node 22's module.enableCompileCache() does this, Node 20 has no such switch, so
// this module compiles each such file through vm.Script with the bytes V8 produced on an earlier
// start, and saves new ones once start-up is over. Hand-written because no package in the tree does
// it (v8-compile-cache is not installed). Imported first by a daemon's main, for its side effect.
//
// Only files under node_modules are cached, and the ones named (a bundle of our own dist/, which is
// otherwise ESM, never seen by this hook). The cache is a directory of files keyed by path, size
// and mtime, under FLANNEL_TS_COMPILE_CACHE or
// $XDG_CACHE_HOME/flannel-ts or ~/.cache/flannel-ts, per Node and V8 version; any failure (no such
// directory, read-only disk, a rejected cache) just compiles normally.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { Script } from 'node:vm';

interface CjsModule {
  filename: string;
  paths: string[];
  require(id: string): unknown;
  exports: unknown;
  _compile(content: string, filename: string): unknown;
}
interface ModuleStatic {
  prototype: CjsModule;
  wrap(content: string): string;
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _extensions: unknown;
  _cache: unknown;
}

/**
 * 64 bits of FNV-1a (two 32-bit lanes) as hex: a file name for a cache key. Not node:crypto, which
 * costs a start more to load than every key it would hash; the key (path, size, mtime) is not secret.
 */
function cacheKeyHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function cacheDir(): string | undefined {
  const base = process.env.FLANNEL_TS_COMPILE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'flannel-ts');
  if (process.env.FLANNEL_TS_COMPILE_CACHE === 'off') return undefined;
  return path.join(base, `v8-${process.version}-${process.versions.v8}-${process.arch}`);
}

export interface CompileCache {
  hits(): number;
  save(): void;
}

/** Where an installed hook is kept: one per process, however many copies of this module are loaded (a bundle holds one). */
const INSTALLED = Symbol.for('flannel-ts.compile-cache');

/**
 * Installs the hook (once per process; later calls get the installed one); returns how many modules
 * came from the cache, and a function saving the new entries. `alsoCache`: files outside node_modules
 * to cache too (a bundle of our own code).
 */
export function enableCjsCompileCache(saveAfterMs = 5_000, alsoCache: readonly string[] = []): CompileCache | undefined {
  const g = globalThis as { [INSTALLED]?: CompileCache | null };
  if (g[INSTALLED] !== undefined) return g[INSTALLED] ?? undefined;
  const dir = cacheDir();
  g[INSTALLED] = null;
  if (!dir) return undefined;
  const Module = createRequire(import.meta.url)('node:module') as ModuleStatic;
  const original = Module.prototype._compile;
  const pending: { file: string; script: Script }[] = [];
  let hits = 0;

  const keyOf = (filename: string): string | undefined => {
    try {
      const s = statSync(filename);
      return path.join(dir, cacheKeyHash(`${filename}\0${s.size}\0${s.mtimeMs}`));
    } catch {
      return undefined;
    }
  };

  Module.prototype._compile = function compile(this: CjsModule, content: string, filename: string): unknown {
    if (!filename.includes(`${path.sep}node_modules${path.sep}`) && !alsoCache.includes(filename)) return original.call(this, content, filename);
    const file = keyOf(filename);
    if (!file) return original.call(this, content, filename);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    const script = new Script(Module.wrap(content), { filename, ...(cachedData && { cachedData }) });
    if (cachedData && !script.cachedDataRejected) hits++;
    else pending.push({ file, script });
    const fn = script.runInThisContext({ displayErrors: true }) as (...a: unknown[]) => unknown;
    const mod = this;
    const req = Object.assign((id: string) => mod.require(id), {
      resolve: (request: string, options?: unknown) => Module._resolveFilename(request, mod, false, options),
      main: undefined, // as require.main is under an ES module entry point
      extensions: Module._extensions,
      cache: Module._cache,
    });
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };

  const save = (): void => {
    if (pending.length === 0) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const { file, script } of pending.splice(0)) {
        // After start-up, the cache also holds the functions that ran, not only the top level.
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, file);
      }
    } catch {
      // a cache we cannot write costs the next start its speed, nothing else
    }
  };
  setTimeout(save, saveAfterMs).unref();
  process.once('exit', save); // a daemon stopped sooner still leaves its cache for the next start
  return (g[INSTALLED] = { hits: () => hits, save });
}
