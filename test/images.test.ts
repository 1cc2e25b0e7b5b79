// The pure parts of the project image's build (test/netns/images.ts): what ldd names, which packages are production ones.
import { describe, expect, it } from 'vitest';
import { lddPaths, productionPackages } from './netns/index.js';

describe('the project image', () => {
  it("takes the libraries ldd resolves and the loader, refusing one it cannot find", () => {
    const text = '\tlinux-vdso.so.1 (0x00007ff7)\n\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007ff7)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007ff7)\n';
    expect(lddPaths(text)).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(() => lddPaths('\tlibfoo.so.1 => not found\n')).toThrow(/libfoo\.so\.1 => not found/);
  });
  it('takes the top-level directories of the non-dev packages of the lock file, without type declarations', () => {
    const lock = {
      packages: {
        '': { name: 'x' },
        'node_modules/pino': {},
        'node_modules/pino/node_modules/sonic-boom': {},
        'node_modules/@grpc/grpc-js': {},
        'node_modules/@grpc/grpc-js/node_modules/@grpc/proto-loader': {},
        'node_modules/@types/node': {},
        'node_modules/vitest': { dev: true },
      },
    };
    expect(productionPackages(lock)).toEqual(['node_modules/@grpc/grpc-js', 'node_modules/pino']);
  });
});
