// Loads the connection to the Kubernetes API as kubectl would: KUBECONFIG, ~/.kube/config or the pod's service account.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { parseDocument } from "yaml";

/** Where a pod's service account token, CA and namespace are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A token file (bound service account tokens rotate) is read again when its copy is this old. */
export const TOKEN_FILE_REREAD_MS = 60_000;
/** An exec credential plugin still running after this long is killed. */
export const EXEC_TIMEOUT_MS = 60_000;

const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/** A kubeconfig that cannot be used; the message names the file and the problem, never a credential. */
export class KubeConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeConfigError";
  }
}

/** What to present to the API server on a request. */
export interface Credentials {
  token?: string;
  basic?: { username: string; password: string };
  /** PEM client certificate and its key. */
  cert?: string;
  key?: string;
}

/** The credentials of the selected user; some are re-read (token files) or re-made (exec plugins). */
export interface Authenticator {
  /** The current credentials. Rejects with a KubeConfigError when they cannot be had (plugin failed). */
  credentials(): Promise<Credentials>;
  /**
   * The server refused `used` (HTTP 401): forget them if they came from a token file or an exec
   * plugin, so that the next `credentials()` gets fresh ones.
   */
  invalidate(used: Credentials): void;
}

/** The resolved connection of the current context. */
export interface KubeConfig {
  /** Where it came from, for messages: the kubeconfig file(s) and context, or the service account. */
  source: string;
  /** API server URL, e.g. `https://10.0.0.1:443`. */
  server: string;
  /** Default namespace of the context (or the service account's namespace). */
  namespace?: string;
  /** PEM CA certificates to trust; undefined: Node's default CAs. */
  ca?: string;
  insecureSkipTlsVerify: boolean;
  /** Name to check the server certificate against (and send as SNI) instead of the URL's host. */
  tlsServerName?: string;
  auth: Authenticator;
}

/** Where {@link loadKubeConfig} looks; all default to the real process and machine. */
export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Home directory holding `.kube/config`; default `$HOME` or the account's home. */
  homeDir?: string;
  /** Default {@link SERVICE_ACCOUNT_DIR}. */
  serviceAccountDir?: string;
  /** Clock (ms) for token re-reads and exec credential expiry. */
  now?: () => number;
  /** Context to use instead of the files' current-context (kubectl's --context). */
  context?: string;
}

/**
 * Loads the connection the way client-node's `loadFromDefault` and kubectl do: the files of
 * `KUBECONFIG` (':'-separated, merged: the first file that defines a name wins, `current-context` from
 * the first file that sets it; missing files are skipped), else `~/.kube/config`, else the pod's
 * service account (`KUBERNETES_SERVICE_HOST`/`_PORT`, token and CA under `serviceAccountDir`).
 */
export function loadKubeConfig(options: LoadOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const list = env.KUBECONFIG ?? "";
  if (list !== "") {
    const files = list.split(delimiter).filter((f) => f !== "");
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) throw new KubeConfigError(`none of the files in KUBECONFIG exists: ${files.join(", ")}`);
    return loadKubeConfigFiles(present, options);
  }
  const home = options.homeDir ?? env.HOME ?? homedir();
  const file = join(home, ".kube", "config");
  if (existsSync(file)) return loadKubeConfigFiles([file], options);
  if (env.KUBERNETES_SERVICE_HOST) return loadInCluster(options);
  throw new KubeConfigError(`no kubeconfig: KUBECONFIG is not set, ${file} does not exist, and KUBERNETES_SERVICE_HOST is not set (not in a pod)`);
}

/** Loads the service account of the pod this process runs in. */
export function loadInCluster(options: LoadOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "";
  const source = `the in-cluster service account (${dir})`;
  if (host === "" || port === "") {
    throw new KubeConfigError(`cannot use ${source}: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set`);
  }
  const tokenFile = join(dir, "token");
  if (!existsSync(tokenFile)) throw new KubeConfigError(`cannot use ${source}: ${tokenFile} does not exist`);
  const namespaceFile = join(dir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : undefined;
  const caFile = join(dir, "ca.crt");
  return {
    source,
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ...(namespace ? { namespace } : {}),
    ca: readText(caFile, source, "ca.crt"),
    insecureSkipTlsVerify: false,
    auth: new UserAuth({ tokenFile }, options.now ?? Date.now, source, options.env),
  };
}

/** Loads and merges kubeconfig files (kubectl's rules, see {@link loadKubeConfig}) and resolves the current context. */
export function loadKubeConfigFiles(files: string[], options: LoadOptions = {}): KubeConfig {
  const merged = { clusters: new Map<string, Entry>(), users: new Map<string, Entry>(), contexts: new Map<string, Entry>() };
  let current: { name: string; file: string } | undefined;
  for (const file of files) {
    const parsed = parseFile(file);
    for (const section of ["clusters", "users", "contexts"] as const) {
      for (const entry of parsed[section]) if (!merged[section].has(entry.name)) merged[section].set(entry.name, entry);
    }
    if (current === undefined && parsed.currentContext !== undefined) current = { name: parsed.currentContext, file };
  }
  const all = files.length === 1 ? files[0] : `the KUBECONFIG files ${files.join(", ")}`;
  if (options.context !== undefined) current = { name: options.context, file: all ?? "" };
  if (current === undefined) throw new KubeConfigError(`${all}: no current-context is set`);
  const context = merged.contexts.get(current.name);
  if (context === undefined) {
    throw new KubeConfigError(options.context !== undefined ? `context "${current.name}" is not defined in ${all}` : `${current.file}: current-context "${current.name}" is not a context defined in ${all}`);
  }
  const where = `${context.file}: context "${context.name}"`;
  const clusterName = optString(context.body, "cluster", where);
  const userName = optString(context.body, "user", where);
  if (clusterName === undefined) throw new KubeConfigError(`${where} names no cluster`);
  const cluster = merged.clusters.get(clusterName);
  if (cluster === undefined) throw new KubeConfigError(`${where} names cluster "${clusterName}", which is not defined in ${all}`);
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && user === undefined) throw new KubeConfigError(`${where} names user "${userName}", which is not defined in ${all}`);
  const namespace = optString(context.body, "namespace", where);
  const source = `${files.join(", ")} (context "${context.name}")`;
  const tls = clusterTls(cluster);
  const now = options.now ?? Date.now;
  return {
    source,
    server: tls.server,
    ...(namespace ? { namespace } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    insecureSkipTlsVerify: tls.insecureSkipTlsVerify,
    ...(tls.tlsServerName !== undefined ? { tlsServerName: tls.tlsServerName } : {}),
    auth: user === undefined ? new UserAuth({}, now, source, options.env) : userAuth(user, tls, now, options.env),
  };
}

/** A named entry of clusters/users/contexts, with the file that defined it. */
interface Entry {
  name: string;
  body: Record<string, unknown>;
  file: string;
  dir: string;
}

interface ParsedFile {
  clusters: Entry[];
  users: Entry[];
  contexts: Entry[];
  currentContext: string | undefined;
}

function parseFile(file: string): ParsedFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new KubeConfigError(`cannot read kubeconfig ${file}: ${errno(err)}`, { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: false });
  const bad = doc.errors[0];
  if (bad !== undefined) {
    // Only the parser's generic description and the line: the text may hold credentials.
    const line = text.slice(0, bad.pos[0]).split("\n").length;
    throw new KubeConfigError(`${file}: not valid YAML (line ${line}: ${bad.message})`);
  }
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return { clusters: [], users: [], contexts: [], currentContext: undefined };
  if (!isRecord(root)) throw new KubeConfigError(`${file}: not a kubeconfig (expected a mapping with clusters, users and contexts)`);
  const dir = dirname(resolve(file));
  const section = (key: "clusters" | "users" | "contexts", inner: string): Entry[] => {
    const list = root[key];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw new KubeConfigError(`${file}: ${key} is not a list`);
    return list.map((item: unknown, i) => {
      if (!isRecord(item) || typeof item.name !== "string" || item.name === "") throw new KubeConfigError(`${file}: ${key}[${i}] has no name`);
      const body = item[inner] ?? {};
      if (!isRecord(body)) throw new KubeConfigError(`${file}: ${inner} "${item.name}" is not a mapping`);
      return { name: item.name, body, file, dir };
    });
  };
  const currentContext = optString(root, "current-context", file);
  return {
    clusters: section("clusters", "cluster"),
    users: section("users", "user"),
    contexts: section("contexts", "context"),
    currentContext: currentContext === "" ? undefined : currentContext,
  };
}

interface ClusterTls {
  server: string;
  ca: string | undefined;
  insecureSkipTlsVerify: boolean;
  tlsServerName: string | undefined;
  /** What an exec plugin with provideClusterInfo is told (KUBERNETES_EXEC_INFO spec.cluster). */
  execInfo: Record<string, unknown>;
}

function clusterTls(cluster: Entry): ClusterTls {
  const where = `${cluster.file}: cluster "${cluster.name}"`;
  const b = cluster.body;
  const server = optString(b, "server", where);
  if (server === undefined || server === "") throw new KubeConfigError(`${where} has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`${where}: server "${server}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new KubeConfigError(`${where}: server "${server}" is not an http(s) URL`);
  if (optString(b, "proxy-url", where)) throw new KubeConfigError(`${where} sets proxy-url: HTTP proxies are not supported`);
  const caData = optString(b, "certificate-authority-data", where);
  const caFile = optString(b, "certificate-authority", where);
  const ca = caData ? decodeData(caData, where, "certificate-authority-data")
    : caFile ? readText(resolveIn(cluster.dir, caFile), where, "certificate-authority") : undefined;
  const insecureSkipTlsVerify = optBool(b, "insecure-skip-tls-verify", where) ?? false;
  const tlsServerName = optString(b, "tls-server-name", where) || undefined;
  const execInfo: Record<string, unknown> = { server, "insecure-skip-tls-verify": insecureSkipTlsVerify };
  if (tlsServerName !== undefined) execInfo["tls-server-name"] = tlsServerName;
  if (ca !== undefined) execInfo["certificate-authority-data"] = Buffer.from(ca, "utf8").toString("base64");
  const extensions = b.extensions;
  if (Array.isArray(extensions)) {
    const ext: unknown = extensions.find((e: unknown) => isRecord(e) && e.name === "client.authentication.k8s.io/exec");
    if (isRecord(ext) && ext.extension !== undefined) execInfo.config = ext.extension;
  }
  return { server: server.replace(/\/+$/, ""), ca, insecureSkipTlsVerify, tlsServerName, execInfo };
}

/** The parts of a user entry that make its credentials. */
interface UserParts {
  token?: string;
  tokenFile?: string;
  basic?: { username: string; password: string };
  cert?: string;
  key?: string;
  exec?: ExecConfig;
}

interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** KUBERNETES_EXEC_INFO, JSON. */
  info: string;
  installHint: string | undefined;
}

function userAuth(user: Entry, tls: ClusterTls, now: () => number, env: NodeJS.ProcessEnv | undefined): UserAuth {
  const where = `${user.file}: user "${user.name}"`;
  const b = user.body;
  if (b["auth-provider"] !== undefined) {
    const provider = isRecord(b["auth-provider"]) && typeof b["auth-provider"].name === "string" ? ` (${b["auth-provider"].name})` : "";
    throw new KubeConfigError(`${where} uses auth-provider${provider}, which is not supported: use an exec credential plugin (client.authentication.k8s.io/v1) or a token`);
  }
  const parts: UserParts = {};
  const token = optString(b, "token", where);
  if (token) parts.token = token;
  const tokenFile = optString(b, "tokenFile", where);
  if (tokenFile) parts.tokenFile = resolveIn(user.dir, tokenFile);
  const username = optString(b, "username", where);
  const password = optString(b, "password", where);
  if (username !== undefined || password !== undefined) {
    if (parts.token !== undefined || parts.tokenFile !== undefined) throw new KubeConfigError(`${where} sets both username/password and a token: set one`);
    parts.basic = { username: username ?? "", password: password ?? "" };
  }
  const certData = optString(b, "client-certificate-data", where);
  const certFile = optString(b, "client-certificate", where);
  const keyData = optString(b, "client-key-data", where);
  const keyFile = optString(b, "client-key", where);
  const cert = certData ? decodeData(certData, where, "client-certificate-data")
    : certFile ? readText(resolveIn(user.dir, certFile), where, "client-certificate") : undefined;
  const key = keyData ? decodeData(keyData, where, "client-key-data")
    : keyFile ? readText(resolveIn(user.dir, keyFile), where, "client-key") : undefined;
  if ((cert === undefined) !== (key === undefined)) throw new KubeConfigError(`${where} has a client certificate without its key, or a key without its certificate`);
  if (cert !== undefined && key !== undefined) {
    parts.cert = cert;
    parts.key = key;
  }
  if (b.exec !== undefined && b.exec !== null) parts.exec = execConfig(b.exec, user, tls);
  return new UserAuth(parts, now, where, env);
}

function execConfig(raw: unknown, user: Entry, tls: ClusterTls): ExecConfig {
  const where = `${user.file}: user "${user.name}": exec`;
  if (!isRecord(raw)) throw new KubeConfigError(`${where} is not a mapping`);
  const apiVersion = optString(raw, "apiVersion", where) ?? "";
  if (!EXEC_API_VERSIONS.includes(apiVersion)) {
    throw new KubeConfigError(`${where}: apiVersion "${apiVersion}" is not supported (use ${EXEC_API_VERSIONS.join(" or ")})`);
  }
  let command = optString(raw, "command", where) ?? "";
  if (command === "") throw new KubeConfigError(`${where} has no command`);
  // As kubectl: a command with a path separator but not absolute is relative to the kubeconfig's folder.
  if (!isAbsolute(command) && command.includes(sep)) command = resolve(user.dir, command);
  const args = raw.args ?? [];
  if (!Array.isArray(args) || !args.every((a): a is string => typeof a === "string")) throw new KubeConfigError(`${where}: args is not a list of strings`);
  const env: Record<string, string> = {};
  const rawEnv = raw.env ?? [];
  if (!Array.isArray(rawEnv)) throw new KubeConfigError(`${where}: env is not a list`);
  for (const e of rawEnv) {
    if (!isRecord(e) || typeof e.name !== "string" || typeof e.value !== "string") throw new KubeConfigError(`${where}: env entries need a name and a string value`);
    env[e.name] = e.value;
  }
  const interactiveMode = optString(raw, "interactiveMode", where);
  if (interactiveMode === "Always") throw new KubeConfigError(`${where}: interactiveMode Always needs a terminal, which the operator does not have`);
  const provideClusterInfo = optBool(raw, "provideClusterInfo", where) ?? false;
  const spec: Record<string, unknown> = { interactive: false };
  if (provideClusterInfo) spec.cluster = tls.execInfo;
  return {
    apiVersion,
    command,
    args,
    env,
    info: JSON.stringify({ apiVersion, kind: "ExecCredential", spec }),
    installHint: optString(raw, "installHint", where),
  };
}

/**
 * The credentials of one user: static ones from the kubeconfig, a token file re-read at most every
 * {@link TOKEN_FILE_REREAD_MS} (and after a 401), and an exec plugin's output, kept until its
 * `expirationTimestamp` (or a 401).
 */
class UserAuth implements Authenticator {
  readonly #parts: UserParts;
  readonly #now: () => number;
  readonly #where: string;
  readonly #env: NodeJS.ProcessEnv | undefined;
  #fileToken: { token: string; readAt: number } | undefined;
  #exec: { creds: Credentials; expiresAt: number } | undefined;
  #running: Promise<Credentials> | undefined;

  constructor(parts: UserParts, now: () => number, where: string, env: NodeJS.ProcessEnv | undefined) {
    this.#parts = parts;
    this.#now = now;
    this.#where = where;
    this.#env = env;
  }

  async credentials(): Promise<Credentials> {
    const p = this.#parts;
    const creds: Credentials = {};
    if (p.cert !== undefined && p.key !== undefined) {
      creds.cert = p.cert;
      creds.key = p.key;
    }
    if (p.basic !== undefined) creds.basic = p.basic;
    if (p.token !== undefined) creds.token = p.token;
    if (p.tokenFile !== undefined) creds.token = this.#readTokenFile(p.tokenFile, p.token);
    if (p.exec !== undefined) Object.assign(creds, await this.#execCredentials(p.exec));
    return creds;
  }

  invalidate(used: Credentials): void {
    if (this.#fileToken !== undefined && used.token === this.#fileToken.token) this.#fileToken.readAt = -Infinity;
    const cached = this.#exec?.creds;
    if (cached !== undefined && cached.token === used.token && cached.cert === used.cert) this.#exec = undefined;
  }

  #readTokenFile(file: string, fallback: string | undefined): string {
    const cached = this.#fileToken;
    if (cached !== undefined && this.#now() - cached.readAt < TOKEN_FILE_REREAD_MS) return cached.token;
    let token = "";
    let problem = "it is empty";
    try {
      token = readFileSync(file, "utf8").trim();
    } catch (err) {
      problem = errno(err);
    }
    if (token !== "") {
      this.#fileToken = { token, readAt: this.#now() };
      return token;
    }
    // A token being rotated may be missing for a moment: keep using the last one read.
    if (cached !== undefined) return cached.token;
    if (fallback !== undefined) return fallback;
    throw new KubeConfigError(`${this.#where}: cannot read the token file ${file}: ${problem}`);
  }

  async #execCredentials(exec: ExecConfig): Promise<Credentials> {
    const cached = this.#exec;
    if (cached !== undefined && this.#now() < cached.expiresAt) return cached.creds;
    this.#running ??= runExec(exec, this.#where, this.#env ?? process.env).then(
      ({ creds, expiresAt }) => {
        this.#exec = { creds, expiresAt: expiresAt ?? Infinity };
        this.#running = undefined;
        return creds;
      },
      (err: unknown) => {
        this.#running = undefined;
        throw err;
      },
    );
    return this.#running;
  }
}

/** Runs an exec credential plugin and reads its ExecCredential. */
function runExec(exec: ExecConfig, where: string, baseEnv: NodeJS.ProcessEnv): Promise<{ creds: Credentials; expiresAt: number | undefined }> {
  const what = `${where}: exec plugin ${exec.command}`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(exec.command, exec.args, {
      env: { ...baseEnv, ...exec.env, KUBERNETES_EXEC_INFO: exec.info },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), EXEC_TIMEOUT_MS);
    let spawnError: Error | undefined;
    child.on("error", (err) => (spawnError = err));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (spawnError !== undefined) {
        const hint = exec.installHint ? ` (${exec.installHint.trim()})` : "";
        reject(new KubeConfigError(`${what} could not be run: ${errno(spawnError)}${hint}`, { cause: spawnError }));
        return;
      }
      if (code !== 0) {
        // Its stderr explains (e.g. "not logged in"); stdout, which would hold a credential, is never shown.
        const detail = stderr.trim().split("\n").slice(0, 5).join(" ").slice(0, 500);
        reject(new KubeConfigError(`${what} failed (${signal ?? `exit code ${code}`})${detail ? `: ${detail}` : ""}`));
        return;
      }
      try {
        resolvePromise(parseExecCredential(stdout, exec.apiVersion, what));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function parseExecCredential(stdout: string, apiVersion: string, what: string): { creds: Credentials; expiresAt: number | undefined } {
  let out: unknown;
  try {
    out = JSON.parse(stdout);
  } catch {
    throw new KubeConfigError(`${what} did not print an ExecCredential (not JSON)`);
  }
  if (!isRecord(out) || out.kind !== "ExecCredential") throw new KubeConfigError(`${what} did not print an ExecCredential`);
  if (out.apiVersion !== apiVersion) throw new KubeConfigError(`${what} answered apiVersion "${String(out.apiVersion)}", expected "${apiVersion}"`);
  const status = out.status;
  if (!isRecord(status)) throw new KubeConfigError(`${what}: the ExecCredential has no status`);
  const creds: Credentials = {};
  if (typeof status.token === "string" && status.token !== "") creds.token = status.token;
  const cert = status.clientCertificateData;
  const key = status.clientKeyData;
  if (typeof cert === "string" && cert !== "" && typeof key === "string" && key !== "") {
    creds.cert = cert;
    creds.key = key;
  } else if (cert !== undefined || key !== undefined) {
    throw new KubeConfigError(`${what}: the ExecCredential needs both clientCertificateData and clientKeyData`);
  }
  if (creds.token === undefined && creds.cert === undefined) throw new KubeConfigError(`${what}: the ExecCredential has neither a token nor a client certificate`);
  let expiresAt: number | undefined;
  if (status.expirationTimestamp !== undefined) {
    expiresAt = typeof status.expirationTimestamp === "string" ? Date.parse(status.expirationTimestamp) : NaN;
    if (Number.isNaN(expiresAt)) throw new KubeConfigError(`${what}: expirationTimestamp is not an RFC 3339 time`);
  }
  return { creds, expiresAt };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new KubeConfigError(`${where}: ${key} is not a string`);
  return v;
}

function optBool(obj: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new KubeConfigError(`${where}: ${key} is not true or false`);
  return v;
}

function decodeData(data: string, where: string, key: string): string {
  const compact = data.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new KubeConfigError(`${where}: ${key} is not base64`);
  return Buffer.from(compact, "base64").toString("utf8");
}

function resolveIn(dir: string, file: string): string {
  return isAbsolute(file) ? file : resolve(dir, file);
}

function readText(file: string, where: string, key: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new KubeConfigError(`${where}: cannot read ${key} ${file}: ${errno(err)}`, { cause: err });
  }
}

/** The errno code of a failed file operation (ENOENT, EACCES, …), or its message. */
function errno(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? err.message : String(err);
}
