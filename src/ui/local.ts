// `kubectl wsdb ui`: the database page on a loopback port for one person, acting with their kubeconfig
// identity (which the page never sees). The URL it prints holds a one-time token; the first visit
// exchanges it for an HttpOnly, SameSite=Strict cookie and drops it from the address bar; every other
// request needs that cookie. The Host header must name the loopback address and port (no DNS rebinding).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { ConcurrencyLimits } from "../dataapi/limits.ts";
import { listen } from "../runtime/http.ts";
import type { KubeRequester } from "../kube/rest.ts";
import { answer, pageHandler } from "./app.ts";
import { staticDir } from "./static-dir.ts";

/** The session cookie's name: one per port (cookies are not kept apart by port, two pages would overwrite each other's). */
const cookieName = (port: number) => `wsdb_session_${port}`;

/** Options of {@link startLocalPage}. */
export interface LocalPageOptions {
  kube: KubeRequester;
  namespace?: string;
  /** 0: any free port. */
  port: number;
  /** Where the page's files are (default: the built ones). */
  staticDir?: string;
  log(message: string, fields: Record<string, unknown>): void;
}

/** A running local page. */
export interface LocalPage {
  /** The URL to open, with its one-time token. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The request's session among `sessions`: any cookie of that name may be it (another page on 127.0.0.1 may set one too). */
function sessionOf(req: IncomingMessage, name: string, sessions: Set<string>): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name && sessions.has(part.slice(at + 1).trim())) return part.slice(at + 1).trim();
  }
  return undefined;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const NOT_SIGNED_IN = "Open the address kubectl wsdb ui printed (it works once); or run kubectl wsdb ui again.";

export async function startLocalPage(options: LocalPageOptions): Promise<LocalPage> {
  let token: string | undefined = randomBytes(24).toString("base64url");
  const sessions = new Set<string>();
  let port = options.port;
  const handler = pageHandler({
    host: "local",
    caller: (req) => {
      const session = sessionOf(req, cookieName(port), sessions);
      return session === undefined ? undefined : { kube: options.kube, session };
    },
    signIn: NOT_SIGNED_IN,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    csrfKey: randomBytes(32),
    staticDir: options.staticDir ?? staticDir(),
    limits: new ConcurrencyLimits({ total: 16, perUser: 8 }),
    log: (message, fields) => options.log(message, fields),
  });
  const server: Server = createServer((req, res) => {
    const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
    if (!hosts.includes(req.headers.host ?? "")) {
      return answer(res, 421, `This page answers only at http://127.0.0.1:${port}/`, "text/plain; charset=utf-8");
    }
    let url: URL;
    try {
      url = new URL(`http://127.0.0.1:${port}${(req.url ?? "/").startsWith("/") ? req.url ?? "/" : "/"}`);
    } catch {
      return answer(res, 400, "Bad request", "text/plain; charset=utf-8");
    }
    const offered = url.searchParams.get("token");
    const known = sessionOf(req, cookieName(port), sessions);
    if (offered !== null && known !== undefined) {
      return answer(res, 303, "", "text/plain; charset=utf-8", { location: "/", "cache-control": "no-store" });
    }
    if (offered !== null) {
      if (token === undefined || !sameToken(offered, token)) {
        return answer(res, 403, `This link was used already. ${NOT_SIGNED_IN}`, "text/plain; charset=utf-8", { "cache-control": "no-store" });
      }
      token = undefined;
      const session = randomBytes(32).toString("base64url");
      sessions.add(session);
      return answer(res, 303, "", "text/plain; charset=utf-8", {
        location: "/",
        "set-cookie": `${cookieName(port)}=${session}; HttpOnly; SameSite=Strict; Path=/`,
        "cache-control": "no-store",
      });
    }
    if (known === undefined) {
      return answer(res, 401, NOT_SIGNED_IN, "text/plain; charset=utf-8", { "cache-control": "no-store" });
    }
    void handler(req, res);
  });
  port = await listen(server, options.port, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
