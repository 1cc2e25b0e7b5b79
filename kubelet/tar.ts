// A minimal ustar writer: enough to hand Docker a root file system for the pause image without a tar
// binary or a registry. Pure.

export type TarEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly type: 'file'; readonly path: string; readonly data: Buffer; readonly mode?: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

function header(path: string, size: number, mode: number, typeflag: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512, 0);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 154);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new RangeError(`tar: path too long: ${path}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const put = (s: string, off: number, len: number): void => {
    h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  };
  const octal = (n: number, off: number, len: number): void => put(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len);
  put(name, 0, 100);
  octal(mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(size, 124, 12);
  octal(0, 136, 12); // mtime: fixed, so the same input gives the same image
  h.fill(0x20, 148, 156); // checksum counted as spaces
  put(typeflag, 156, 1);
  put(linkname, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export function tarball(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.type === 'dir') parts.push(header(e.path.endsWith('/') ? e.path : `${e.path}/`, 0, e.mode ?? 0o755, '5'));
    else if (e.type === 'symlink') parts.push(header(e.path, 0, 0o777, '2', e.target));
    else {
      parts.push(header(e.path, e.data.length, e.mode ?? 0o644, '0'), e.data);
      const pad = (512 - (e.data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
