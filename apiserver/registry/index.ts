// The kinds the apiserver serves (this slice's built-in table; apiserver/kinds replaces it).
export { BUILTIN_KINDS, type KindDef, type SubresourceDef, checkName, supportedFields, fieldsOf, defaultPodSpec, validatePodSpec } from './builtin-kinds.js';
