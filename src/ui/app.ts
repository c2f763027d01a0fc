// The database page's HTTP side, the same for both hosts: static files (the bundle built from web/)
// and the JSON API of types.ts, each request made to the Kubernetes API with the caller's identity
// (the host says which). Every answer carries a strict Content-Security-Policy and no-referrer; every
// /api answer is `no-store`; a POST needs the session's CSRF token and a same-origin JSON request.
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import type { ConcurrencyLimits } from "../dataapi/limits.ts";
import type { KubeRequester } from "../kube/rest.ts";
import { errorMessage } from "../runtime/logger.ts";
import * as api from "./api.ts";
import { PageError } from "./api.ts";
import { LOGINS, type ErrorAnswer, type Login, type SessionInfo } from "./types.ts";

/** The caller of one request, as the host established it. */
export interface Caller {
  /** A client of the Kubernetes API that acts as the caller. */
  kube: KubeRequester;
  /** Stable for the caller's session: the CSRF token and the per-user limit are keyed on it. */
  session: string;
}

/** What a host gives the page. */
export interface PageOptions {
  host: SessionInfo["host"];
  /** The caller of `req`, or undefined when it brings no identity (401, and no API call is made). */
  caller(req: IncomingMessage): Caller | undefined;
  /** What a 401 tells the user to do. */
  signIn: string;
  /** The namespace to start in (kubectl wsdb ui -n). */
  namespace?: string;
  /** Signs CSRF tokens; random per process. */
  csrfKey: Buffer;
  /** Folder of the built page (index.html, app.js, app.css). */
  staticDir: string;
  limits: ConcurrencyLimits;
  /** One line per failed request (never a credential). */
  log(message: string, fields: Record<string, unknown>): void;
}

/** Headers of every answer. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
};

/** The built page's files, read once. */
export function loadStatic(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`the database page is not built (${dir}: ${errorMessage(err)}); run "npm run build"`, { cause: err });
  }
  for (const name of names) {
    if (!statSync(join(dir, name)).isFile()) continue;
    files.set(`/${name}`, { body: readFileSync(join(dir, name)), type: TYPES[extname(name)] ?? "application/octet-stream" });
  }
  if (!files.has("/index.html")) throw new Error(`the database page is not built (${dir} has no index.html); run "npm run build"`);
  return files;
}

/** The CSRF token of a session. */
export function csrfToken(key: Buffer, session: string): string {
  return createHmac("sha256", key).update(session).digest("base64url");
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Writes an answer with the security headers. */
export function answer(res: ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  answer(res, status, JSON.stringify(value), "application/json; charset=utf-8", { "cache-control": "no-store", ...headers });
}

async function readBody(req: IncomingMessage, max = 4096): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new PageError(413, "The request is too large.");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new PageError(400, "The request is not JSON.");
  }
}

const LIMIT_VALUES = [20, 50, 100, 200, 500];

/** The request handler of the page. */
export function pageHandler(options: PageOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const files = loadStatic(options.staticDir);
  return async (req, res) => {
    let url: URL;
    try {
      url = new URL(`http://page.invalid${(req.url ?? "/").startsWith("/") ? req.url ?? "/" : "/"}`);
    } catch {
      return answer(res, 400, "Bad request", "text/plain; charset=utf-8");
    }
    const path = url.pathname;
    if (!path.startsWith("/api/")) {
      if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, "Method not allowed", "text/plain; charset=utf-8", { allow: "GET, HEAD" });
      const file = files.get(path === "/" ? "/index.html" : path);
      if (file === undefined) return answer(res, 404, "Not found", "text/plain; charset=utf-8");
      // The document itself is never kept (nor put back by the back button with a revealed password).
      return answer(res, 200, file.body, file.type, { "cache-control": file.type.startsWith("text/html") ? "no-store" : "no-cache" });
    }
    const caller = options.caller(req);
    if (caller === undefined) return json(res, 401, { message: "You are not signed in.", signIn: options.signIn } satisfies ErrorAnswer);
    const slot = options.limits.acquire(caller.session);
    if (typeof slot === "string") return json(res, 429, { message: "Too many requests at once: try again in a moment." } satisfies ErrorAnswer, { "retry-after": "1" });
    try {
      const body = await route(req, url, caller);
      json(res, 200, body);
    } catch (err) {
      if (err instanceof PageError) {
        if (err.status >= 500) options.log("database page request failed", { path, status: err.status, error: err.message });
        return json(res, err.status, { message: err.message } satisfies ErrorAnswer, err.status === 429 ? { "retry-after": "1" } : {});
      }
      options.log("database page request failed", { path, error: errorMessage(err) });
      return json(res, 500, { message: "Something went wrong on the page's server; try again." } satisfies ErrorAnswer);
    } finally {
      slot();
    }
  };

  async function route(req: IncomingMessage, url: URL, caller: Caller): Promise<unknown> {
    const parts = url.pathname.slice("/api/".length).split("/").map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new PageError(400, "The address is not valid.");
      }
    });
    const { kube } = caller;
    if (req.method === "POST") {
      checkPost(req, caller);
      // namespaces/NS/workspaces/WS/regenerate
      if (parts.length === 5 && parts[0] === "namespaces" && parts[2] === "workspaces" && parts[4] === "regenerate") {
        const body = await readBody(req);
        const login = (body as { login?: unknown } | null)?.login;
        if (typeof login !== "string" || !LOGINS.includes(login as Login)) throw new PageError(400, `Say which login: "read-only" or "read-write".`);
        return api.regenerate(kube, parts[1]!, parts[3]!, login as Login);
      }
      throw new PageError(404, "No such page action.");
    }
    if (req.method !== "GET") throw new PageError(405, "Method not allowed.");
    if (parts.length === 1 && parts[0] === "session") {
      return { host: options.host, ...(options.namespace === undefined ? {} : { namespace: options.namespace }), csrf: csrfToken(options.csrfKey, caller.session), ...await whoAmI(kube) } satisfies SessionInfo;
    }
    if (parts[0] !== "namespaces") throw new PageError(404, "No such page.");
    if (parts.length === 1) return api.namespaces(kube);
    const ns = parts[1]!;
    if (parts[2] === "workspaces") {
      if (parts.length === 3) return api.workspaces(kube, ns);
      const ws = parts[3]!;
      if (parts.length === 4) return api.workspace(kube, ns, ws);
      if (parts.length === 5 && parts[4] === "tables") return api.tables(kube, ns, ws);
      if (parts.length === 6 && parts[4] === "credentials" && LOGINS.includes(parts[5] as Login)) {
        return api.credentials(kube, ns, ws, parts[5] as Login, url.searchParams.get("reveal") === "1");
      }
    }
    if (parts[2] === "tables" && parts[3] !== undefined && api.checkTableName(parts[3]) !== "") {
      if (parts.length === 4) return api.table(kube, ns, parts[3]);
      if (parts.length === 5 && parts[4] === "rows") {
        const limit = Number(url.searchParams.get("limit") ?? "50");
        if (!LIMIT_VALUES.includes(limit)) throw new PageError(400, `Rows per page: one of ${LIMIT_VALUES.join(", ")}.`);
        const token = url.searchParams.get("continue");
        return api.rows(kube, ns, parts[3], limit, token === null || token === "" ? undefined : token);
      }
    }
    throw new PageError(404, "No such page.");
  }

  /** A POST comes from the page itself: its CSRF token, JSON, and (when the browser says) the same origin. */
  function checkPost(req: IncomingMessage, caller: Caller): void {
    const token = req.headers["x-csrf-token"];
    if (typeof token !== "string" || !sameToken(token, csrfToken(options.csrfKey, caller.session))) throw new PageError(403, "This action must come from the page itself (reload the page and try again).");
    if (!(req.headers["content-type"] ?? "").startsWith("application/json")) throw new PageError(415, "The request must be JSON.");
    const site = req.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin") throw new PageError(403, "This action must come from the page itself.");
  }
}

async function whoAmI(kube: KubeRequester): Promise<{ user?: string }> {
  const user = await api.whoAmI(kube);
  return user === undefined ? {} : { user };
}
