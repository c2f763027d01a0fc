// Calls to the page's JSON API (src/ui/app.ts): same origin, the session cookie, the CSRF token on POST.
import type { ErrorAnswer } from "../../src/ui/types.ts";

/** An answer other than 200, as the page shows it. */
export class ApiError extends Error {
  readonly status: number;
  readonly signIn: string | undefined;
  constructor(status: number, message: string, signIn?: string) {
    super(message);
    this.status = status;
    this.signIn = signIn;
  }
}

let csrf = "";
export function setCsrf(token: string): void {
  csrf = token;
}

async function call<T>(path: string, init: RequestInit, attempt = 0): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "The page's server cannot be reached: is kubectl wsdb ui still running, or is your network down?");
  }
  if (res.status === 429 && attempt < 5) {
    const wait = Number(res.headers.get("retry-after") ?? "1");
    await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 1), 10) * 1000));
    return call<T>(path, init, attempt + 1);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(res.status, res.ok ? "The answer could not be read." : text || `The server answered ${res.status}.`);
  }
  if (!res.ok) {
    const err = body as Partial<ErrorAnswer>;
    throw new ApiError(res.status, typeof err.message === "string" ? err.message : `The server answered ${res.status}.`, typeof err.signIn === "string" ? err.signIn : undefined);
  }
  return body as T;
}

export function get<T>(path: string): Promise<T> {
  return call<T>(path, { method: "GET" });
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body) });
}

/** A path of the API with every part encoded. */
export function apiPath(...parts: string[]): string {
  return `/api/${parts.map(encodeURIComponent).join("/")}`;
}
