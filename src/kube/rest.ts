// Lean HTTP(S) calls to the Kubernetes API: JSON requests and watch streams over one keep-alive Agent.
import http from "node:http";
import https from "node:https";
import type { Authenticator, Credentials, KubeConfig } from "./config.ts";
import { KubeApiError, statusError } from "./errors.ts";

/** Query parameters; undefined values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** The HTTP methods the API is called with. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Options of {@link RestClient.request}. */
export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Content-Type of the body; default `application/json` (patches: `application/merge-patch+json`). */
  contentType?: string;
  /** What the call does, the start of an error's message (e.g. "reading Secret ns/name"); default "GET /path". */
  context?: string;
  /** Overrides the client's request timeout. */
  timeoutMs?: number;
  /** More request headers (the benchmark's viewers send Impersonate-User). */
  headers?: Record<string, string>;
}

/** Receives each event of a watch: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object. */
export type WatchEventHandler = (type: string, object: unknown) => void;

/** The calls the operator makes; tests and small ports take just this. */
export interface KubeRequester {
  /**
   * Sends one request and returns the parsed JSON answer (undefined when empty). Throws a
   * KubeApiError: the answer's status code and Status reason, or code 0 when there was no answer.
   */
  request<T>(method: Method, path: string, options?: RequestOptions): Promise<T>;
}

/** A client of one API server. */
export interface RestClient extends KubeRequester {
  /** The API server's URL. */
  readonly server: string;
  /**
   * Opens a watch (`?watch=true` is added to `query`) and resolves once the server answered (or the
   * attempt failed). `onEvent` gets every event; `onDone` is called exactly once: null when the server
   * ended the stream, else the error — a KubeApiError carrying the status code when the server refused
   * the watch (410: the resourceVersion expired), an `AbortError` after the returned controller aborted.
   */
  watch(path: string, query: Query, onEvent: WatchEventHandler, onDone: (err: unknown) => void): Promise<AbortController>;
  /** Closes idle connections; requests in flight fail. */
  close(): void;
}

/** Options of {@link createRestClient}. */
export interface RestOptions {
  /** Time for a request's whole answer, or a watch's response header; default 60 s. */
  timeoutMs?: number;
  userAgent?: string;
}

/** An error answer body is kept up to this size. */
const MAX_ERROR_BODY = 64 * 1024;

/** Creates the client of `config`'s API server: one keep-alive Agent with its TLS settings. */
export function createRestClient(config: KubeConfig, options: RestOptions = {}): RestClient {
  return new Rest(config, options);
}

interface Answer {
  status: number;
  body: string;
}

class Rest implements RestClient {
  readonly server: string;
  readonly #config: KubeConfig;
  readonly #auth: Authenticator;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #secure: boolean;
  #agent: { agent: http.Agent; cert: string | undefined } | undefined;

  constructor(config: KubeConfig, options: RestOptions) {
    this.server = config.server.replace(/\/+$/, "");
    this.#config = config;
    this.#auth = config.auth;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#userAgent = options.userAgent ?? "workspacedb-operator";
    this.#secure = new URL(this.server).protocol === "https:";
  }

  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const context = options.context ?? `${method} ${path}`;
    const url = this.#url(path, options.query);
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), "utf8");
    const headers: http.OutgoingHttpHeaders = { ...options.headers, accept: "application/json" };
    if (body !== undefined) {
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = body.length;
    }
    let creds = await this.#credentials(context);
    let answer = await this.#send(method, url, headers, body, creds, options.timeoutMs ?? this.#timeoutMs, context);
    if (answer.status === 401) {
      // Rotated token file, expired exec credential: one retry with fresh credentials, if they differ.
      this.#auth.invalidate(creds);
      const fresh = await this.#credentials(context);
      if (!sameCredentials(fresh, creds)) {
        creds = fresh;
        answer = await this.#send(method, url, headers, body, creds, options.timeoutMs ?? this.#timeoutMs, context);
      }
    }
    if (answer.status < 200 || answer.status > 299) throw statusError(answer.status, answer.body, context);
    if (answer.body.trim() === "") return undefined as T;
    try {
      return JSON.parse(answer.body) as T;
    } catch (err) {
      throw new KubeApiError(`${context}: the answer is not JSON`, answer.status, "InvalidResponse", { cause: err });
    }
  }

  async watch(path: string, query: Query, onEvent: WatchEventHandler, onDone: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    const context = `watching ${path}`;
    // Set once the request is sent; `finish` may run before (aborted while getting credentials).
    const conn: { req?: http.ClientRequest; timer?: NodeJS.Timeout } = {};
    let opened: (c: AbortController) => void = () => undefined;
    const result = new Promise<AbortController>((resolve) => (opened = resolve));
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(conn.timer);
      if (err !== null) conn.req?.destroy(); // a stream that ended cleanly leaves its connection to the Agent
      opened(controller);
      onDone(err);
    };
    controller.signal.addEventListener("abort", () => finish(abortError()), { once: true });

    let creds: Credentials;
    try {
      creds = await this.#credentials(context);
    } catch (err) {
      finish(err);
      return result;
    }
    if (finished) return result; // aborted meanwhile
    const url = this.#url(path, { ...query, watch: true });
    const req = this.#module().request(url, { method: "GET", agent: this.#agentFor(creds), headers: this.#headers({ accept: "application/json" }, creds) });
    conn.req = req;
    conn.timer = setTimeout(() => finish(new KubeApiError(`${context}: no answer within ${this.#timeoutMs} ms`, 0, "Unreachable")), this.#timeoutMs);
    req.on("error", (err) => finish(new KubeApiError(`${context}: ${err.message}`, 0, "Unreachable", { cause: err })));
    req.on("response", (res) => {
      clearTimeout(conn.timer);
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        readBody(res, MAX_ERROR_BODY).then(
          (text) => {
            if (status === 401) this.#auth.invalidate(creds);
            finish(statusError(status, text, context));
          },
          (err: unknown) => finish(new KubeApiError(`${context}: HTTP ${status}`, status, `HTTP${status}`, { cause: err })),
        );
        return;
      }
      opened(controller);
      res.setEncoding("utf8"); // multi-byte characters split across chunks are joined
      let pending = "";
      const line = (text: string): void => {
        if (text.trim() === "") return;
        let event: unknown;
        try {
          event = JSON.parse(text);
        } catch {
          finish(new KubeApiError(`${context}: a watch event is not JSON`, 200, "InvalidResponse"));
          return;
        }
        const { type, object } = (typeof event === "object" && event !== null ? event : {}) as { type?: unknown; object?: unknown };
        try {
          onEvent(typeof type === "string" ? type : "", object);
        } catch (err) {
          finish(err);
        }
      };
      res.on("data", (chunk: string) => {
        pending += chunk;
        let start = 0;
        let newline: number;
        while (!finished && (newline = pending.indexOf("\n", start)) >= 0) {
          line(pending.slice(start, newline));
          start = newline + 1;
        }
        pending = pending.slice(start);
      });
      res.on("end", () => {
        if (!finished) line(pending);
        finish(null);
      });
      res.on("error", (err) => finish(new KubeApiError(`${context}: ${err.message}`, 0, "Unreachable", { cause: err })));
      res.on("close", () => finish(res.complete ? null : new KubeApiError(`${context}: the connection closed mid-stream`, 0, "Unreachable")));
    });
    req.end();
    return result;
  }

  close(): void {
    this.#agent?.agent.destroy();
    this.#agent = undefined;
  }

  #module(): typeof https | typeof http {
    return this.#secure ? https : http;
  }

  #url(path: string, query: Query | undefined): URL {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  async #credentials(context: string): Promise<Credentials> {
    try {
      return await this.#auth.credentials();
    } catch (err) {
      throw new KubeApiError(`${context}: ${err instanceof Error ? err.message : String(err)}`, 0, "NoCredentials", { cause: err });
    }
  }

  #headers(headers: http.OutgoingHttpHeaders, creds: Credentials): http.OutgoingHttpHeaders {
    const all: http.OutgoingHttpHeaders = { ...headers, "user-agent": this.#userAgent };
    if (creds.token !== undefined) all.authorization = `Bearer ${creds.token}`;
    else if (creds.basic !== undefined) all.authorization = `Basic ${Buffer.from(`${creds.basic.username}:${creds.basic.password}`, "utf8").toString("base64")}`;
    return all;
  }

  /** The keep-alive Agent; a new one (the old one closed) when an exec plugin handed out another client certificate. */
  #agentFor(creds: Credentials): http.Agent {
    if (this.#agent !== undefined && this.#agent.cert === creds.cert) return this.#agent.agent;
    this.#agent?.agent.destroy();
    const common = { keepAlive: true, keepAliveMsecs: 30_000, scheduling: "lifo" as const };
    const agent = this.#secure
      ? new https.Agent({
        ...common,
        ...(this.#config.ca !== undefined ? { ca: this.#config.ca } : {}),
        ...(creds.cert !== undefined && creds.key !== undefined ? { cert: creds.cert, key: creds.key } : {}),
        ...(this.#config.tlsServerName !== undefined ? { servername: this.#config.tlsServerName } : {}),
        rejectUnauthorized: !this.#config.insecureSkipTlsVerify,
      })
      : new http.Agent(common);
    this.#agent = { agent, cert: creds.cert };
    return agent;
  }

  #send(method: Method, url: URL, headers: http.OutgoingHttpHeaders, body: Buffer | undefined, creds: Credentials, timeoutMs: number, context: string): Promise<Answer> {
    return new Promise((resolvePromise, rejectPromise) => {
      const { resolve, reject } = letGoOnSettle(resolvePromise, rejectPromise);
      const req = this.#module().request(url, { method, agent: this.#agentFor(creds), headers: this.#headers(headers, creds) });
      const timeout = new Error(`no answer within ${timeoutMs} ms`);
      let timedOut = false;
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        const cause = timedOut ? timeout : err;
        reject(new KubeApiError(`${context}: ${cause instanceof Error ? cause.message : String(cause)}`, 0, "Unreachable", { cause }));
      };
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(timeout);
      }, timeoutMs);
      req.on("error", fail);
      req.on("response", (res) => {
        readBody(res, Infinity).then(
          (text) => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: text });
          },
          (err: unknown) => {
            req.destroy();
            fail(err);
          },
        );
      });
      req.end(body);
    });
  }
}

/**
 * Resolving functions that drop the promise once it settled. Node keeps a keep-alive socket's last
 * request and response alive until the socket serves another one, and with them their listeners and
 * everything those reach: through a listener holding `resolve`, the promise and its answer — the whole
 * text of a LIST of thousands of Secrets, for as long as the socket stays idle.
 */
function letGoOnSettle<T>(resolve: (value: T) => void, reject: (err: unknown) => void): { resolve: (value: T) => void; reject: (err: unknown) => void } {
  let pending: { resolve: (value: T) => void; reject: (err: unknown) => void } | undefined = { resolve, reject };
  return {
    resolve: (value) => {
      const settle = pending;
      pending = undefined;
      settle?.resolve(value);
    },
    reject: (err) => {
      const settle = pending;
      pending = undefined;
      settle?.reject(err);
    },
  };
}

/** Reads a response body as text, keeping at most `limit` bytes (and nothing once read: see letGoOnSettle). */
function readBody(res: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolvePromise, rejectPromise) => {
    const { resolve, reject } = letGoOnSettle(resolvePromise, rejectPromise);
    let chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
    });
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      chunks = [];
      resolve(text);
    });
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(new Error("the connection closed before the answer was complete"));
    });
  });
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.token === b.token && a.cert === b.cert && a.basic?.username === b.basic?.username && a.basic?.password === b.basic?.password;
}

function abortError(): Error {
  const err = new Error("the watch was aborted");
  err.name = "AbortError";
  return err;
}
