// The metav1.Status documents of the streaming protocols: the exec result on the error stream (v4 and
// later as JSON, older versions as bare text) and the body of a refused upgrade.

export type ExecResult = { exitCode: number } | { error: string };

export interface StatusCause { reason?: string; message?: string; field?: string }
export interface Status {
  kind?: 'Status';
  apiVersion?: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: StatusCause[] };
  code?: number;
}

/** The Status the kubelet writes for a finished command (its field order, as Go marshals it). */
export function execResultStatus(result: ExecResult): Status {
  if ('error' in result) {
    return {
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${result.error}`,
      reason: 'InternalError',
      details: { causes: [{ message: result.error }] },
      code: 500,
    };
  }
  if (result.exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${result.exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
  };
}

/**
 * What goes on the error stream: v4 and v5 carry the Status as JSON; v1 to v3 carry only a failure's
 * message as text (a success writes nothing), which older clients print as the error.
 */
export function errorStreamPayload(result: ExecResult, jsonStatus: boolean): Buffer {
  const status = execResultStatus(result);
  if (jsonStatus) return Buffer.from(JSON.stringify(status));
  return Buffer.from(status.status === 'Success' ? '' : status.message ?? '');
}

const REASONS: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError' };

/** A full Status object, as the body of an HTTP error response. */
export function failureStatus(code: number, message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code };
}
