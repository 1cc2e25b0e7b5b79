// Images the labs and the demo make without a registry: a root file system tar, `docker import`ed on each
// node. Every one starts from the busybox rootfs (docker.ts) and appends files to a copy of it:
//
//   flannel-ts:dev     the project's own daemons: /usr/bin/node and the shared libraries `ldd` names,
//                      /opt/flannel-ts/{package.json,dist,node_modules (production only),udp/native/build},
//                      and /usr/local/bin/<bin> for each bin of package.json (`kube-dns`, `flanneld`, …);
//                      the machine's iptables (xtables-nft-multi, its libraries and extensions, the
//                      iptables/ip6tables[-save|-restore] names linked to it) for flanneld's rules.
//                      Kept in .cache/images/, named by a digest of what went in (node, dist/, the lock file),
//                      so it is built once per change of dist/ and reused by every test file and the demo.
//   dbforweb, webwithdb[:tag]   seed 000's images (seed-images.ts).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { busyboxRootfsTar, type Dockerd } from './docker.js';
import { LabError, runCommand } from './exec.js';
import { REPO } from './flannel.js';

/** The project's image, as the shipped manifests name it. */
export const PROJECT_IMAGE = 'flannel-ts:dev';
/** Where the project sits in it. */
export const PROJECT_DIR = '/opt/flannel-ts';
/** Bumped when the image's layout changes, so an old cached tar is not taken for a new one. */
const LAYOUT = 3;
const XTABLES = '/usr/sbin/xtables-nft-multi';
const XTABLES_LIB = '/usr/lib/x86_64-linux-gnu/xtables';
const IPTABLES_NAMES = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'];
const IMAGE_PATH = '/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin';

/** Files to write into an image: path (relative to /) → [text, mode]. */
export type ImageFiles = Readonly<Record<string, readonly [string, number]>>;

/** Members appended from `dir`: `tar -C dir [--transform] members…`, symlinks followed (-h) when `deref`. */
interface Layer {
  readonly dir: string;
  readonly members: readonly string[];
  readonly transform?: string;
  readonly deref?: boolean;
  readonly exclude?: readonly string[];
}

async function tar(args: readonly string[], what: string): Promise<void> {
  const argv = ['tar', '--numeric-owner', '--owner=0', '--group=0', ...args];
  const r = await runCommand(argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new LabError(what, argv.slice(0, 8), r);
}

/** `out` (written atomically): the busybox rootfs, then each layer appended in order. */
async function layeredTar(cacheDir: string, out: string, layers: readonly Layer[]): Promise<void> {
  const tmp = `${out}.${process.pid}.tmp`;
  await copyFile(await busyboxRootfsTar(cacheDir), tmp);
  try {
    for (const l of layers) {
      await tar(['-rf', tmp, '-C', l.dir, ...(l.deref ? ['-h'] : []), ...(l.transform ? [`--transform=${l.transform}`] : []), ...(l.exclude ?? []).map((e) => `--exclude=${e}`), '--', ...l.members], `tar ${out}`);
    }
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** A staging directory holding `files`, for a layer; the caller removes it. */
async function stage(dir: string, files: ImageFiles): Promise<Layer> {
  await rm(dir, { recursive: true, force: true });
  for (const [f, [text, mode]] of Object.entries(files)) {
    await mkdir(path.join(dir, path.dirname(f)), { recursive: true });
    await writeFile(path.join(dir, f), text, { mode });
  }
  await mkdir(dir, { recursive: true });
  // Its entries, not '.': the base already has the root directory, and Docker refuses a layer naming a path twice.
  return { dir, members: (await readdir(dir)).sort() };
}

/** A busybox image with `files` added, as a tar in `dir` (made once per name and dir). */
export async function busyboxImageTar(dir: string, name: string, files: ImageFiles): Promise<string> {
  const base = name.replace(/[^A-Za-z0-9.-]/g, '_');
  const out = path.join(dir, `${base}.tar`);
  if (existsSync(out)) return out;
  await mkdir(dir, { recursive: true });
  const st = path.join(dir, `${base}.d`);
  try {
    await layeredTar(dir, out, [await stage(st, files)]);
  } finally {
    await rm(st, { recursive: true, force: true });
  }
  return out;
}

/** `docker import` of a rootfs tar on one node, with the image config a Dockerfile would give (ENV, CMD). */
export async function importImage(d: Dockerd, file: string, name: string, changes: readonly string[] = ['CMD ["/bin/sh"]']): Promise<void> {
  await d.docker(['import', ...changes.flatMap((c) => ['--change', c]), file, name], { timeoutMs: 180_000 });
}

// ---------------------------------------------------------------- the project's image

/** Pure: the files `ldd` says a binary loads (`libc.so.6 => /lib/…/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`). */
export function lddPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
    else if (/=>\s*not found/.test(line)) throw new RangeError(`ldd: a library is not found: ${line.trim()}`);
  }
  return [...new Set(out)];
}

/** Pure: the top-level package directories of the lock file's production dependencies (type declarations left out). */
export function productionPackages(lock: unknown): string[] {
  const pkgs = (lock as { packages?: Record<string, { dev?: boolean }> }).packages ?? {};
  const top = new Set<string>();
  for (const [k, v] of Object.entries(pkgs)) {
    if (!k.startsWith('node_modules/') || v.dev === true) continue;
    const parts = k.split('/');
    const name = parts[1]!.startsWith('@') ? parts.slice(0, 3).join('/') : parts.slice(0, 2).join('/');
    if (!name.startsWith('node_modules/@types/')) top.add(name);
  }
  return [...top].sort();
}

/** Files under `dir` (relative), skipping `skip` (relative directory names). */
async function walk(dir: string, skip: ReadonlySet<string>, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skip.has(r)) continue;
    if (e.isDirectory()) out.push(...(await walk(dir, skip, r)));
    else out.push(r);
  }
  return out;
}

const DIST_SKIP = new Set(['test']);

/**
 * What the image holds, named: a digest of the node binary (path, size, mtime) and of the contents of dist/, the
 * native addons and the lock file (contents, not mtimes: a rebuild that changes nothing, or another checkout's
 * build of a shared addon, keeps the cached tar).
 */
async function projectDigest(node: string, nativeFiles: readonly string[]): Promise<string> {
  const h = createHash('sha256').update(`layout ${LAYOUT}\n`);
  const s = await stat(node);
  h.update(`${node} ${s.size} ${s.mtimeMs}\n`);
  const dist = path.join(REPO, 'dist');
  const files = [...(await walk(dist, DIST_SKIP)).sort().map((f) => path.join(dist, f)), ...nativeFiles, path.join(REPO, 'package-lock.json'), path.join(REPO, 'package.json')];
  for (const f of files) h.update(`${path.relative(REPO, f)}\n`).update(await readFile(f));
  return h.digest('hex').slice(0, 16);
}

export interface ProjectImageTar {
  readonly file: string;
  /** False when a tar of the same digest was there already. */
  readonly built: boolean;
  readonly ms: number;
  readonly bytes: number;
}

let building: Promise<ProjectImageTar> | undefined;

/**
 * The project image's rootfs tar, from dist/ as built now (`npm run build` first), in `cacheDir` (default
 * <repo>/.cache/images). Older tars there are removed.
 */
export function projectImageTar(cacheDir = path.join(REPO, '.cache', 'images')): Promise<ProjectImageTar> {
  building ??= buildProjectImageTar(cacheDir).catch((e: unknown) => {
    building = undefined;
    throw e;
  });
  return building;
}

async function buildProjectImageTar(cacheDir: string): Promise<ProjectImageTar> {
  const t0 = Date.now();
  const node = process.execPath;
  if (!existsSync(path.join(REPO, 'dist', 'dns', 'main.js'))) throw new LabError('project image', ['npm', 'run', 'build'], undefined, { cause: new Error('dist/ is not built') });
  const nativeDir = path.join(REPO, 'udp', 'native', 'build', 'Release');
  const native = existsSync(nativeDir) ? (await readdir(nativeDir)).filter((f) => f.endsWith('.node')).map((f) => path.join(nativeDir, f)) : [];
  await mkdir(cacheDir, { recursive: true });
  const out = path.join(cacheDir, `flannel-ts-${await projectDigest(node, native)}.tar`);
  if (existsSync(out)) return { file: out, built: false, ms: Date.now() - t0, bytes: (await stat(out)).size };
  for (const f of await readdir(cacheDir)) if (/^flannel-ts-[0-9a-f]{16}\.tar/.test(f)) await rm(path.join(cacheDir, f), { force: true });

  const xtables = existsSync(XTABLES) ? XTABLES : undefined;
  const libs: string[] = [];
  for (const bin of [node, ...(xtables ? [xtables] : [])]) {
    const ldd = await runCommand(['ldd', bin]);
    if (ldd.code !== 0) throw new LabError('ldd', ['ldd', bin], ldd);
    for (const l of lddPaths(ldd.stdout)) if (!libs.includes(l)) libs.push(l);
  }
  const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  const modules = productionPackages(JSON.parse(await readFile(path.join(REPO, 'package-lock.json'), 'utf8'))).filter((m) => existsSync(path.join(REPO, m)));
  const wrappers: Record<string, readonly [string, number]> = {};
  for (const [bin, main] of Object.entries(pkg.bin ?? {})) wrappers[`usr/local/bin/${bin}`] = [`#!/bin/sh\nexec /usr/bin/node ${PROJECT_DIR}/${main} "$@"\n`, 0o755];
  // xtables-nft-multi runs the command its first argument names when called by its own name.
  if (xtables) for (const n of IPTABLES_NAMES) wrappers[`usr/sbin/${n}`] = [`#!/bin/sh\nexec /usr/sbin/xtables-nft-multi ${n} "$@"\n`, 0o755];
  const st = `${out}.d`;
  const rel = (p: string): string => p.replace(/^\/+/, '');
  const app = `s,^,${rel(PROJECT_DIR)}/,`;
  try {
    await layeredTar(cacheDir, out, [
      // The libraries at the paths the loader looks in (symlinks followed: /lib may be one to /usr/lib).
      { dir: '/', members: libs.map(rel), deref: true },
      { dir: path.dirname(node), members: [path.basename(node)], deref: true, transform: 's,^.*$,usr/bin/node,' },
      // The extensions are dlopen()ed (ldd does not name them): the whole directory.
      ...(xtables ? [{ dir: '/', members: [rel(xtables), ...(existsSync(XTABLES_LIB) ? [rel(XTABLES_LIB)] : [])], deref: true }] : []),
      { dir: REPO, members: ['package.json', 'dist'], transform: app, exclude: ['dist/test'] },
      // node_modules is a symlink in a worktree: -h follows it and every link below it.
      ...(modules.length ? [{ dir: REPO, members: modules, transform: app, deref: true, exclude: ['.bin'] }] : []),
      ...(native.length ? [{ dir: REPO, members: native.map((f) => path.relative(REPO, f)), transform: app, deref: true }] : []),
      await stage(st, wrappers),
    ]);
  } finally {
    await rm(st, { recursive: true, force: true });
  }
  return { file: out, built: true, ms: Date.now() - t0, bytes: (await stat(out)).size };
}

export interface ProjectImageTimings {
  readonly tar: ProjectImageTar;
  /** `docker import` per node, in the order given. */
  readonly importMs: readonly number[];
}

/** PROJECT_IMAGE on every node: the tar built (or taken from the cache), then imported on each, in parallel. */
export async function importProjectImage(daemons: readonly Dockerd[]): Promise<ProjectImageTimings> {
  const t = await projectImageTar();
  const importMs = await Promise.all(
    daemons.map(async (d) => {
      const t0 = Date.now();
      await importImage(d, t.file, PROJECT_IMAGE, [`ENV PATH=${IMAGE_PATH}`, `WORKDIR ${PROJECT_DIR}`, 'CMD ["/bin/sh"]']);
      return Date.now() - t0;
    }),
  );
  return { tar: t, importMs };
}
