#!/usr/bin/env node
// flanneld's executable. `npm run build` also writes dist/bundle/flanneld.cjs (scripts/build-bundle.mjs):
// cli.ts and every package its start needs in one CommonJS file, compiled from V8's code cache as one
// script, where the ~80 modules tsc wrote each cost Node's ES module loader a resolve, a read and a
// link, and each CommonJS package imported from them a lexing pass. Native addons, netlink and
// etcd3/gRPC (required lazily, by path) stay outside it. Without a bundle, or with
// FLANNEL_TS_BUNDLE=off, the same daemon runs from the modules.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BUNDLE } from './compile-cache.js';

if (process.env.FLANNEL_TS_BUNDLE !== 'off' && existsSync(BUNDLE)) createRequire(import.meta.url)(BUNDLE);
else await import('./cli.js');
