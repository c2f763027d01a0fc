// The database page in the cluster: a Deployment of its own (no ServiceAccount token: it holds no
// credential) serving HTTPS behind the platform's authentication (an OIDC ingress, oauth2-proxy). Each
// request's bearer token — `Authorization: Bearer …`, or oauth2-proxy's `X-Forwarded-Access-Token` —
// is forwarded to the API server as it is, as Headlamp and the Kubernetes Dashboard do; a request
// without one makes no API call and the page says how to sign in.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage } from "node:http";
import { ConcurrencyLimits, type ConcurrencyLimitOptions } from "../dataapi/limits.ts";
import type { ServingCertificate } from "../dataapi/server.ts";
import type { KubeConfig } from "../kube/config.ts";
import { createRestClient, type KubeRequester, type RestClient } from "../kube/rest.ts";
import { listen } from "../runtime/http.ts";
import { pageHandler, type Caller } from "./app.ts";
import { staticDir } from "./static-dir.ts";

/** Options of {@link startClusterPage}. */
export interface ClusterPageOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  certificate: ServingCertificate;
  /** The API server: its URL and the CA that signed its certificate (the namespace's kube-root-ca.crt). */
  apiServer: { url: string; ca?: string };
  /** What the page says to someone who comes without a token. */
  signIn: string;
  limits: ConcurrencyLimitOptions;
  staticDir?: string;
  log(message: string, fields: Record<string, unknown>): void;
}

/** A running in-cluster page. */
export interface ClusterPage {
  port: number;
  reload(certificate: ServingCertificate): void;
  close(): Promise<void>;
}

/** RFC 6750's token characters; anything else is not a bearer token. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The bearer token of a request, if it brings one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === "string") {
    const m = /^Bearer +(\S+)$/i.exec(header.trim());
    return m !== null && TOKEN.test(m[1]!) ? m[1] : undefined;
  }
  const forwarded = req.headers["x-forwarded-access-token"];
  return typeof forwarded === "string" && TOKEN.test(forwarded.trim()) ? forwarded.trim() : undefined;
}

/** The CSRF key every replica shares: derived from the serving key they all mount. */
function csrfKeyOf(certificate: ServingCertificate): Buffer {
  return createHash("sha256").update("workspacedb-page-csrf\0").update(certificate.key).digest();
}

export async function startClusterPage(options: ClusterPageOptions): Promise<ClusterPage> {
  // One client without credentials of its own: each request carries the caller's token.
  const config: KubeConfig = {
    source: "the page's callers' bearer tokens",
    server: options.apiServer.url,
    ...(options.apiServer.ca === undefined ? {} : { ca: options.apiServer.ca }),
    insecureSkipTlsVerify: false,
    auth: { credentials: () => Promise.resolve({}), invalidate: () => undefined },
  };
  const client: RestClient = createRestClient(config, { userAgent: "workspacedb-page", timeoutMs: 30_000 });
  const caller = (req: IncomingMessage): Caller | undefined => {
    const token = bearerToken(req);
    if (token === undefined) return undefined;
    const kube: KubeRequester = {
      request: (method, path, requestOptions = {}) =>
        client.request(method, path, { ...requestOptions, headers: { ...requestOptions.headers, authorization: `Bearer ${token}` } }),
    };
    return { kube, session: createHash("sha256").update(token).digest("base64url") };
  };
  const certificate = options.certificate;
  const handler = pageHandler({
    host: "cluster",
    caller,
    signIn: options.signIn,
    csrfKey: csrfKeyOf(certificate),
    staticDir: options.staticDir ?? staticDir(),
    limits: new ConcurrencyLimits(options.limits),
    log: (message, fields) => options.log(message, fields),
  });
  const server: Server = createServer({ cert: certificate.cert, key: certificate.key, minVersion: "TLSv1.2" }, (req, res) => {
    // The kubelet's probes: no token, no API call.
    if (req.url === "/healthz" || req.url === "/readyz") {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" });
      res.end("ok");
      return;
    }
    void handler(req, res);
  });
  const port = await listen(server, options.port, options.host);
  return {
    port,
    reload(next) {
      // The CSRF key stays the one of the start: a page open before the renewal keeps working.
      server.setSecureContext({ cert: next.cert, key: next.key });
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      client.close();
    }),
  };
}
