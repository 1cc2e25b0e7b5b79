// The OpenAPI documents the apiserver serves, built once from the schema data in definitions.ts.
import { documentHash, openApiV2, openApiV3, openApiV3Root } from './document.js';
import { encodeOpenApiV2 } from './protobuf.js';

export { type Definition, type FieldType, DEFINITIONS, PRIMITIVE_DEFINITIONS } from './definitions.js';
export {
  type OpenApiResource,
  KUBERNETES_VERSION,
  OPENAPI_RESOURCES,
  PATCH_META,
  documentHash,
  openApiV2,
  openApiV3,
  openApiV3GroupVersions,
  openApiV3Root,
} from './document.js';
export { encodeOpenApiV2 } from './protobuf.js';

/** The protobuf media type kubectl 1.20 sends in Accept for /openapi/v2 (newer ones also the dotted spelling). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/**
 * The Content-Type of the answer, whichever was asked: Go's mime parser refuses the '@' (kubectl
 * then fails with "mime: unexpected content after media subtype"), so the real server answers with
 * the dotted spelling too.
 */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const PROTOBUF_TYPES = [OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_CONTENT_TYPE];

export interface ServedDocument {
  readonly contentType: string;
  readonly body: Uint8Array;
  /** A strong ETag, quoted, as the real server sends for caching clients. */
  readonly etag: string;
}

let v2Json: ServedDocument | undefined;
let v2Pb: ServedDocument | undefined;
const v3Docs = new Map<string, ServedDocument>();
let v3RootDoc: ServedDocument | undefined;

const served = (contentType: string, body: Uint8Array): ServedDocument => ({
  contentType,
  body,
  etag: `"${documentHash(Buffer.from(body).toString('latin1'))}"`,
});
const jsonDoc = (v: unknown): ServedDocument => served('application/json', new TextEncoder().encode(JSON.stringify(v)));

/** Whether an Accept header asks for the protobuf form (only when it names it; JSON otherwise). */
export function wantsOpenApiV2Protobuf(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const first = accept
    .split(',')
    .map((a) => a.split(';')[0]!.trim().toLowerCase())
    .find((t) => t === 'application/json' || t === '*/*' || PROTOBUF_TYPES.includes(t));
  return first !== undefined && PROTOBUF_TYPES.includes(first);
}

/** GET /openapi/v2 with this Accept header. */
export function openApiV2Document(accept: string | undefined): ServedDocument {
  if (wantsOpenApiV2Protobuf(accept)) {
    v2Pb ??= served(OPENAPI_V2_PROTOBUF_CONTENT_TYPE, encodeOpenApiV2(openApiV2()));
    return v2Pb;
  }
  v2Json ??= jsonDoc(openApiV2());
  return v2Json;
}

/** GET /openapi/v3. */
export function openApiV3RootDocument(): ServedDocument {
  v3RootDoc ??= jsonDoc(openApiV3Root());
  return v3RootDoc;
}

/** GET /openapi/v3/<groupVersion> (`api/v1`, `apis/apps/v1`); undefined → 404. */
export function openApiV3Document(groupVersion: string): ServedDocument | undefined {
  const cached = v3Docs.get(groupVersion);
  if (cached) return cached;
  const doc = openApiV3(groupVersion);
  if (doc === undefined) return undefined;
  const s = jsonDoc(doc);
  v3Docs.set(groupVersion, s);
  return s;
}
export { definitionOf, duplicateFields, strictDecodingErrors } from './fields.js';
