// writeFileAtomic on a real file system (a temp dir): the content and mode of the result, replacement,
// concurrent writers, and no temp file left behind on success or on failure.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../common/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flannel-fs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates the directory and the file with the mode (less the umask), leaving nothing else', async () => {
    const file = path.join(dir, 'run', 'flannel', 'subnet.env');
    await writeFileAtomic(file, 'FLANNEL_SUBNET=10.5.72.1/24\n', 0o600);
    expect(await readFile(file, 'utf8')).toBe('FLANNEL_SUBNET=10.5.72.1/24\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600 & ~process.umask());
    expect(await readdir(path.dirname(file))).toEqual(['subnet.env']);
  });

  it('replaces an existing file whole', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, 'old content that is longer than the new one\n');
    await writeFileAtomic(file, 'new\n');
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['f']);
  });

  it('concurrent writers in one process do not share a temp file: the result is one of them, whole', async () => {
    const file = path.join(dir, 'f');
    const bodies = Array.from({ length: 16 }, (_, i) => `${String(i).repeat(4096)}\n`);
    await Promise.all(bodies.map((b) => writeFileAtomic(file, b)));
    expect(bodies).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['f']);
  });

  it('a failed rename leaves the target as it was and no temp file', async () => {
    const target = path.join(dir, 'is-a-dir');
    await mkdir(path.join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'x')).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) });
    expect((await readdir(dir)).sort()).toEqual(['is-a-dir']);
    expect((await stat(target)).isDirectory()).toBe(true);
  });
});
