const t0 = performance.now();
if (process.argv[2] === 'on') { const { enableCjsCompileCache } = await import('./dist/core/compile-cache.js'); globalThis.cc = enableCjsCompileCache(0); }
await import('./dist/common/index.js');
console.log(process.argv[2], 'common', (performance.now() - t0).toFixed(0), 'hits', globalThis.cc?.hits(), 'since start', performance.now().toFixed(0));
if (globalThis.cc) globalThis.cc.save();
