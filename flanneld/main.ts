#!/usr/bin/env node
// flanneld's executable. `npm run build` also writes dist/bundle/flanneld.cjs (scripts/build-bundle.mjs):
// cli.ts and every package its start needs in one CommonJS file, compiled from V8's code cache as one
// script, where the ~80 modules tsc wrote each cost Node's ES module loader a resolve, a read and a
// link, and each CommonJS package imported from them a lexing pass. Native addons (netlink's binding
// among them) and etcd3/gRPC (required lazily, by path) stay outside it. Without a bundle, or with
// FLANNEL_TS_BUNDLE=off, the same daemon runs from the modules.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { BUNDLE } from './compile-cache.js';

// V8 grows the young generation (two semi-spaces, up to 16 MiB each) in the bursts of a big lease
// listing or reconcile, and seldom gives it back: a third of a converged daemon's RSS. Kept at its
// first size here, since flags on a shebang line are not portable; growth is read at each
// scavenge, so setting it now works, where --max-semi-space-size is fixed when the heap is made.
// A --max-semi-space-size/--semi-space-growth-factor given in NODE_OPTIONS or on node's command line wins.
const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''];
if (!given.some((a) => a.includes('semi-space'))) setFlagsFromString('--semi-space-growth-factor=1');
// The old generation: after a restart's burst (every lease listed, parsed and programmed at once)
// V8 sized it for the peak and kept it, 20 MiB of garbage-holding pages over the 16 MiB live. With
// this flag, read by the heap's growing at each GC, it grows by smaller steps and is compacted more:
// the restart's RSS came down from 86 to 78 MiB. Set before any of our code compiles: V8's code
// cache is only accepted under the flags it was made with. It costs the idle daemon ~6 MiB (59 → 65).
// --optimize-for-size or --no-optimize-for-size given to node wins.
if (!given.some((a) => a.includes('optimize-for-size'))) setFlagsFromString('--optimize-for-size');

if (process.env.FLANNEL_TS_BUNDLE !== 'off' && existsSync(BUNDLE)) createRequire(import.meta.url)(BUNDLE);
else await import('./cli.js');
