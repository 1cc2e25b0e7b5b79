// Imported first by flanneld's main, before anything that loads a CommonJS package: from here on
// etcd3, gRPC, protobufjs and the rest compile from V8's code cache of an earlier start.
import { enableCjsCompileCache } from '../core/index.js';

export const compileCache = enableCjsCompileCache();
