// Kubernetes API errors, normalised where they enter: status code, reason and message.

/** An error answered by the Kubernetes API server (or the failure to reach it). */
export class KubeApiError extends Error {
  /** HTTP status code; 0 when the server could not be reached. */
  readonly code: number;
  /** The Status object's `reason` (e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Invalid`). */
  readonly reason: string;

  constructor(message: string, code: number, reason: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
  }
}

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

function parseBody(body: string): StatusBody {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return { message: body.trim().slice(0, 300) || undefined };
  }
}

/**
 * The KubeApiError of an answer with HTTP status `code` and body `body` (a meta/v1 Status as JSON, or
 * whatever a proxy in between sent): message `${context}: ${Status.message}`, reason `Status.reason`.
 */
export function statusError(code: number, body: string, context: string): KubeApiError {
  const status = parseBody(body);
  const reason = typeof status.reason === "string" && status.reason !== "" ? status.reason : `HTTP${code}`;
  const detail = typeof status.message === "string" && status.message !== "" ? status.message : `HTTP ${code}`;
  return new KubeApiError(`${context}: ${detail}`, code, reason);
}

/**
 * A KubeApiError as is; anything else (a connection refused, reset or timed out) as a KubeApiError
 * with code 0 and reason `Unreachable`, carrying `context` (what we were doing).
 */
export function toKubeError(err: unknown, context: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new KubeApiError(`${context}: ${detail}`, 0, "Unreachable", { cause: err });
}

/** True for a 404 answer. */
export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

/** True for a 409 answer (resourceVersion conflict or AlreadyExists). */
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409;
}
