// The data API's HTTPS server: the requests kube-apiserver's aggregator forwards for data.workspacedb.io.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { listen } from "../runtime/http.ts";
import type { Logger } from "../runtime/logger.ts";
import { errorMessage } from "../runtime/logger.ts";
import { authenticate, trustedClientCAs, verifiedChain, type AuthenticationConfig, type UserInfo } from "./authn.ts";
import { DATA_GROUP, DATA_VERSION, type Decision, type ResourceAttributes } from "./authz.ts";
import {
  AGGREGATED_DISCOVERY,
  GROUP_VERSION,
  PREVIEW,
  TABLES,
  TABLE_LIST_KIND,
  apiGroup,
  apiGroupDiscoveryList,
  apiGroupList,
  apiResourceList,
  openApiV3Body,
  openApiV3Discovery,
  openApiV3Hash,
} from "./discovery.ts";
import type { ConcurrencyLimits } from "./limits.ts";
import { tableView, wantsTable } from "./printing.ts";
import { DataApiError, statusBody, type ListOptions, type TableSource } from "./types.ts";

/** Default and largest number of rows of a preview. */
export const PREVIEW_DEFAULT_LIMIT = 20;
export const PREVIEW_MAX_LIMIT = 500;

/** The serving certificate and key, PEM. */
export interface ServingCertificate {
  cert: string;
  key: string;
}

/** What the server observes (metrics.ts implements it). */
export interface DataApiObserver {
  request(resource: string, verb: string, code: number): void;
  preview(seconds: number): void;
}

/** Options of {@link startDataApiServer}. */
export interface DataApiServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  certificate: ServingCertificate;
  /** The current authentication settings of the cluster, undefined until first read. */
  authentication: () => AuthenticationConfig | undefined;
  authorize: (user: UserInfo, attributes: ResourceAttributes) => Promise<Decision>;
  tables: TableSource;
  log: Logger;
  observer?: DataApiObserver;
  /** Resource requests in flight, in total and per user; beyond them: 429 with Retry-After. */
  limits?: ConcurrencyLimits;
}

/** A running data API server. */
export interface DataApiServer {
  readonly port: number;
  /** Applies a new serving certificate or new client CAs to new connections. */
  reload(certificate: ServingCertificate): void;
  close(): Promise<void>;
}

interface Route {
  resource: string;
  verb: "get" | "list";
  namespace?: string;
  name?: string;
  subresource?: string;
}

const RESOURCE_PREFIX = `/apis/${GROUP_VERSION}`;

/** Retry-After of a request turned away by the concurrency limits. */
export const RETRY_AFTER_SECONDS = 1;

/** One Warning header value (RFC 7234 form, as kube-apiserver sends them): printable ASCII only. */
function warningHeader(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, "'").slice(0, 500);
  return `299 - "${clean}"`;
}

/** The resource request a path asks for, undefined when it is not one. */
function routeOf(path: string): Route | undefined {
  if (!path.startsWith(`${RESOURCE_PREFIX}/`)) return undefined;
  const parts = path.slice(RESOURCE_PREFIX.length + 1).split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return "\u0000";
    }
  });
  if (parts.length === 1 && parts[0] === TABLES) return { resource: TABLES, verb: "list" };
  if (parts[0] !== "namespaces" || parts[1] === undefined || parts[1] === "" || parts[2] !== TABLES) return undefined;
  const namespace = parts[1];
  if (parts.length === 3) return { resource: TABLES, verb: "list", namespace };
  const name = parts[3];
  if (name === undefined || name === "") return undefined;
  if (parts.length === 4) return { resource: TABLES, verb: "get", namespace, name };
  if (parts.length === 5 && parts[4] === PREVIEW) return { resource: TABLES, verb: "get", namespace, name, subresource: PREVIEW };
  return undefined;
}

function intParam(query: URLSearchParams, key: string): number | undefined {
  const raw = query.get(key);
  if (raw === null || raw === "") return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw new DataApiError(400, "BadRequest", `${key} must be a non-negative integer`);
  return Number(raw);
}

/** `workspace=NAME` (also `workspace==NAME`) and `metadata.namespace=NS`; anything else is refused. */
function fieldSelector(query: URLSearchParams, namespace: string | undefined): { workspace?: string; namespace?: string } {
  const out: { workspace?: string; namespace?: string } = {};
  for (const term of (query.get("fieldSelector") ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "")) {
    const m = /^([a-zA-Z.]+)\s*==?\s*(.*)$/.exec(term);
    if (m === null) throw new DataApiError(400, "BadRequest", `field selector "${term}" is not supported: use workspace=NAME or metadata.namespace=NAMESPACE`);
    const [, field, value] = m as unknown as [string, string, string];
    if (field === "workspace") out.workspace = value;
    else if (field === "metadata.namespace") out.namespace = value;
    else throw new DataApiError(400, "BadRequest", `field label not supported: ${field} (supported: workspace, metadata.namespace)`);
  }
  if (out.namespace !== undefined && namespace !== undefined && out.namespace !== namespace) out.namespace = "\u0000";
  return out;
}

function forbidden(user: UserInfo, route: Route, reason: string): DataApiError {
  const what = route.subresource === undefined ? route.resource : `${route.resource}/${route.subresource}`;
  const where = route.namespace === undefined ? "at the cluster scope" : `in the namespace "${route.namespace}"`;
  const subject = route.name === undefined ? `${route.resource}.${DATA_GROUP}` : `${route.resource}.${DATA_GROUP} "${route.name}"`;
  return new DataApiError(403, "Forbidden",
    `${subject} is forbidden: User "${user.name}" cannot ${route.verb} resource "${what}" in API group "${DATA_GROUP}" ${where}${reason === "" ? "" : `: ${reason}`}`,
    { group: DATA_GROUP, kind: route.resource, ...(route.name === undefined ? {} : { name: route.name }) });
}

/**
 * Starts the data API on `host:port` with TLS, asking for (not requiring) a client certificate of the
 * cluster's requestheader or client CA. Health paths answer anyone; everything else needs an
 * authenticated caller (401); resource requests are authorized by `authorize` (403).
 */
export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const { log } = options;
  let certificate = options.certificate;
  let cas: string[] = [];
  const secureOptions = () => ({ cert: certificate.cert, key: certificate.key, ...(cas.length > 0 ? { ca: cas } : {}) });
  const currentCAs = () => {
    const config = options.authentication();
    return config === undefined ? [] : trustedClientCAs(config);
  };
  cas = currentCAs();
  const server: Server = createServer({ ...secureOptions(), requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" }, (req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error("data API request failed", { error: errorMessage(err) });
      if (!res.headersSent) send(res, 500, statusBody(new DataApiError(500, "InternalError", "internal error")));
      else res.destroy();
    });
  });
  // New client CAs (a rotated front-proxy CA) apply to new connections; each request checks the current ones.
  const applyCAs = () => {
    const next = currentCAs();
    if (next.join("\n") === cas.join("\n")) return;
    const previous = cas;
    cas = next;
    try {
      server.setSecureContext(secureOptions());
    } catch (err) {
      cas = previous;
      log.warn("could not use the cluster's new client CAs; keeping the current ones", { error: errorMessage(err) });
    }
  };
  const caTimer = setInterval(applyCAs, 5_000);
  caTimer.unref();

  function send(res: ServerResponse, code: number, body: unknown, contentType = "application/json"): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(code, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://data-api.invalid");
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return send(res, 200, "ok", "text/plain");
    const route = routeOf(path);
    const resource = route?.resource ?? "discovery";
    const finish = (code: number, body: unknown, contentType?: string) => {
      options.observer?.request(resource, route?.subresource ?? route?.verb ?? "get", code);
      send(res, code, body, contentType);
    };
    // The slot is held until the work is done, not until the caller hangs up: a query goes on after that.
    let release: (() => void) | undefined;
    try {
      if (req.method !== "GET" && req.method !== "HEAD") throw new DataApiError(405, "MethodNotAllowed", `the data API is read-only: ${req.method ?? ""} is not supported`);
      const config = options.authentication();
      const socket = req.socket as TLSSocket;
      const authn = config === undefined
        ? { ok: false as const, reason: "the cluster's authentication settings were not read yet" }
        : authenticate(verifiedChain(socket.authorized, socket.getPeerCertificate(true)), req.headersDistinct, config);
      if (!authn.ok) {
        log.debug("unauthenticated data API request", { path, reason: authn.reason });
        throw new DataApiError(401, "Unauthorized", "Unauthorized");
      }
      const user = authn.user;
      if (route === undefined) return discovery(path, req, url, finish);
      const slot = options.limits?.acquire(user.name);
      if (typeof slot === "string") {
        res.setHeader("Retry-After", String(RETRY_AFTER_SECONDS));
        throw new DataApiError(429, "TooManyRequests", slot === "user"
          ? `too many data API requests of user "${user.name}" at once; try again in ${RETRY_AFTER_SECONDS} s`
          : `the data API is answering as many requests as it may at once; try again in ${RETRY_AFTER_SECONDS} s`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS });
      }
      release = slot;
      if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
        throw new DataApiError(405, "MethodNotAllowed", "workspacetables cannot be watched");
      }
      const attributes: ResourceAttributes = {
        verb: route.verb,
        resource: route.resource,
        ...(route.subresource === undefined ? {} : { subresource: route.subresource }),
        ...(route.namespace === undefined ? {} : { namespace: route.namespace }),
        ...(route.name === undefined ? {} : { name: route.name }),
      };
      let decision: Decision;
      try {
        decision = await options.authorize(user, attributes);
      } catch (err) {
        log.warn("could not authorize a data API request", { error: errorMessage(err) });
        throw new DataApiError(503, "ServiceUnavailable", "could not ask the API server whether this request is allowed; try again");
      }
      if (!decision.allowed) throw forbidden(user, route, decision.reason);
      const table = wantsTable(req.headers.accept ?? "");
      const includeObject = url.searchParams.get("includeObject") ?? "Metadata";
      if (route.verb === "list") {
        const selected = fieldSelector(url.searchParams, route.namespace);
        const listOptions: ListOptions = {};
        const limit = intParam(url.searchParams, "limit");
        if (limit !== undefined && limit > 0) listOptions.limit = limit;
        const token = url.searchParams.get("continue");
        if (token !== null && token !== "") listOptions.continue = token;
        if (selected.workspace !== undefined) listOptions.workspace = selected.workspace;
        const labelSelector = url.searchParams.get("labelSelector") ?? "";
        const page = labelSelector.trim() !== "" || selected.namespace === "\u0000"
          ? { items: [] }
          : await options.tables.list(route.namespace ?? selected.namespace, listOptions);
        const metadata = { resourceVersion: "", ...(page.continue === undefined ? {} : { continue: page.continue }) };
        const warnings = "warnings" in page ? (page.warnings ?? []) : [];
        if (warnings.length > 0) res.setHeader("Warning", warnings.slice(0, 10).map(warningHeader));
        if (table) return finish(200, tableView(page.items, metadata, includeObject));
        return finish(200, { kind: TABLE_LIST_KIND, apiVersion: GROUP_VERSION, metadata, items: page.items });
      }
      const namespace = route.namespace ?? "";
      const name = route.name ?? "";
      if (route.subresource === PREVIEW) {
        const started = performance.now();
        const limit = Math.min(intParam(url.searchParams, "limit") ?? PREVIEW_DEFAULT_LIMIT, PREVIEW_MAX_LIMIT) || PREVIEW_DEFAULT_LIMIT;
        const token = url.searchParams.get("continue");
        const preview = await options.tables.preview(namespace, name, { limit, ...(token === null || token === "" ? {} : { continue: token }) });
        options.observer?.preview((performance.now() - started) / 1000);
        log.info("preview", { user: user.name, namespace, table: name, rows: preview.rows.length, truncated: preview.truncated });
        return finish(200, preview);
      }
      const item = await options.tables.get(namespace, name);
      if (table) return finish(200, tableView([item], { resourceVersion: "" }, includeObject));
      return finish(200, item);
    } catch (err) {
      if (err instanceof DataApiError) return finish(err.code, statusBody(err));
      throw err;
    } finally {
      release?.();
    }
  }

  function discovery(path: string, req: IncomingMessage, url: URL, finish: (code: number, body: unknown, contentType?: string) => void): void {
    const accept = req.headers.accept ?? "";
    switch (path) {
      case "/apis":
        if (accept.includes("as=APIGroupDiscoveryList") && accept.includes("g=apidiscovery.k8s.io") && accept.includes("v=v2")) {
          return finish(200, apiGroupDiscoveryList, AGGREGATED_DISCOVERY);
        }
        return finish(200, apiGroupList);
      case `/apis/${DATA_GROUP}`:
        return finish(200, apiGroup);
      case RESOURCE_PREFIX:
        return finish(200, apiResourceList);
      case "/openapi/v3":
        return finish(200, openApiV3Discovery);
      case `/openapi/v3/apis/${DATA_GROUP}/${DATA_VERSION}`:
        void url;
        return finish(200, openApiV3Body());
      default:
        throw new DataApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
    }
  }

  const port = await listen(server, options.port, options.host);
  log.info("serving the data API", { port, hash: openApiV3Hash.slice(0, 12) });
  return {
    port,
    reload(next) {
      // Throws (and keeps the current context) when the pair does not match.
      const previous = { certificate, cas };
      certificate = next;
      cas = currentCAs();
      try {
        server.setSecureContext(secureOptions());
      } catch (err) {
        ({ certificate, cas } = previous);
        throw err;
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(caTimer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
