// The apiserver's errors, each carrying the metav1.Status the real kube-apiserver answers with (same
// code, reason, message wording and details), so kubectl and client libraries print and branch on them
// exactly as they do against a real cluster.
import { FlannelError } from '../core/index.js';
import { errorBody, type FieldError as KindFieldError, invalidStatus } from './kinds/index.js';

export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** metav1.Status, as the apiserver serialises a failure. */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

export class ApiError extends FlannelError {
  readonly code = 'API_STATUS';
  constructor(
    /** The HTTP status code. */
    readonly httpStatus: number,
    /** metav1.StatusReason: NotFound, AlreadyExists, Conflict, Invalid, BadRequest, ... */
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      ...(this.reason && { reason: this.reason }),
      ...(this.details && { details: this.details }),
      code: this.httpStatus,
    };
  }
}

/** `pods` or `deployments.apps`: how the apiserver names a resource in messages. */
export const qualified = (group: string, resource: string): string => (group ? `${resource}.${group}` : resource);

const details = (group: string, resource: string, name: string): StatusDetails => ({ name, ...(group && { group }), kind: resource });

export const notFound = (group: string, resource: string, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(group, resource)} "${name}" not found`, details(group, resource, name));

export const alreadyExists = (group: string, resource: string, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(group, resource)} "${name}" already exists`, details(group, resource, name));

export const conflict = (group: string, resource: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(group, resource)} "${name}": ${why}`, details(group, resource, name));

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const forbidden = (group: string, resource: string, name: string, why: string): ApiError =>
  new ApiError(403, 'Forbidden', `${qualified(group, resource)} "${name}" is forbidden: ${why}`, details(group, resource, name));

export const pathNotFound = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export const methodNotSupported = (group: string, resource: string, verb: string): ApiError =>
  new ApiError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified(group, resource)}"`, { ...(group && { group }), kind: resource });

export const expired = (message: string): ApiError => new ApiError(410, 'Expired', message);

export const tooLarge = (): ApiError => new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');

export const unsupportedMedia = (type: string): ApiError => new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`, { kind: type });

export const internalError = (why: string): ApiError =>
  new ApiError(500, 'InternalError', `Internal error occurred: ${why}`, { causes: [{ message: why }] });

export const unavailable = (why: string): ApiError => new ApiError(503, 'ServiceUnavailable', why);

/**
 * One field error (field.Error): the per-kind strategies' type, with the detail optional for the few the
 * server builds itself (`spec.ports[0].nodePort: Invalid value: ...`).
 */
export type FieldError = Omit<KindFieldError, 'detail'> & { readonly detail?: string };

const asKindError = (e: FieldError): KindFieldError => ({ ...e, detail: e.detail ?? '' });

/** The message part of a field error, without its field: `Invalid value: "Foo": a lowercase RFC 1123 ...`. */
export const fieldErrorBody = (e: FieldError): string => errorBody(asKindError(e));

/** 422 Invalid: `Pod "x" is invalid: spec.containers[0].image: Required value` (several joined as `[a, b]`). */
export function invalid(group: string, kind: string, name: string, errs: readonly FieldError[]): ApiError {
  const status = invalidStatus(group, kind, name, errs.map(asKindError));
  return new ApiError(422, 'Invalid', status.message, status.details);
}
