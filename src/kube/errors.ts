// Kubernetes API errors, normalised where they enter: status code, reason and message.
import { ApiException } from "@kubernetes/client-node";

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

function parseBody(body: unknown): StatusBody {
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === "object" && parsed !== null ? (parsed) : {};
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return typeof body === "object" && body !== null ? (body) : {};
}

/**
 * Converts whatever a client-node call threw into a KubeApiError carrying `context`
 * (what we were doing), the status code and reason. Bodies of codes the OpenAPI spec does not
 * declare (404, 409, 422) arrive as raw text and are parsed here.
 */
export function toKubeError(err: unknown, context: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = parseBody(err.body);
    const reason = typeof status.reason === "string" ? status.reason : `HTTP${err.code}`;
    const detail = typeof status.message === "string" ? status.message : `HTTP ${err.code}`;
    return new KubeApiError(`${context}: ${detail}`, err.code, reason, { cause: err });
  }
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
