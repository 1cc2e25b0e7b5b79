// The lab and the project's daemons in it, for the netns tests, the benchmarks and the demo.
export * from './lab.js';
export * from './addr.js';
export * from './names.js';
export * from './flannel.js';
export * from './docker.js';
export * from './kubelet.js';
export * from './proxy.js';
export * from './cni.js';
export * from './seed-images.js';
export * from './images.js';
