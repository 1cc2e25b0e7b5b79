// Imported first by flanneld's main, before anything that loads a CommonJS package: from here on
// the bundle (dist/bundle/flanneld.cjs), etcd3, gRPC, protobufjs and the rest compile from V8's code
// cache of an earlier start. Straight from core's module, not its index: main.ts loads nothing else
// of ours before the bundle, and each ES module costs a start its resolve, read and link.
import { fileURLToPath } from 'node:url';
import { enableCjsCompileCache } from '../core/compile-cache.js';

/** The bundle `npm run build` writes (scripts/build-bundle.mjs), relative to dist/flanneld/ (and to dist/bundle/, inside it). */
export const BUNDLE = fileURLToPath(new URL('../bundle/flanneld.cjs', import.meta.url));

export const compileCache = enableCjsCompileCache(5_000, [BUNDLE]);
