#!/usr/bin/env node
// kubectl-wsdb: the kubectl plugin for people (`kubectl wsdb tables|preview|credentials|regenerate`),
// acting with the caller's own identity and rights from their kubeconfig.
import { parseArgs } from "node:util";
import { regenerateTokenRecord } from "../api/regenerate.ts";
import {
  ANNOTATION_REGENERATE_BOTH,
  ANNOTATION_REGENERATE_RO,
  ANNOTATION_REGENERATE_RW,
  API_VERSION,
  WORKSPACE_DATABASES,
  type WorkspaceDatabase,
} from "../api/types.ts";
import { secretData, secretName } from "../controllers/secret.ts";
import { DATA_GROUP, DATA_VERSION } from "../dataapi/authz.ts";
import { PREVIEW, TABLES } from "../dataapi/discovery.ts";
import { tableObjectName } from "../dataapi/names.ts";
import { humanBytes } from "../dataapi/printing.ts";
import type { TablePreview, WorkspaceTable } from "../dataapi/types.ts";
import { loadKubeConfig, loadKubeConfigFiles, type KubeConfig } from "../kube/config.ts";
import { KubeApiError } from "../kube/errors.ts";
import { createRestClient, type KubeRequester } from "../kube/rest.ts";
import type { Secret } from "../kube/types.ts";
import { startLocalPage } from "../ui/local.ts";
import { CREDENTIAL_FORMATS, alignedTable, formatCredentials, parseTableRef, printable, psqlTable, type CredentialFormat } from "./format.ts";

/** Where the plugin writes; tests pass their own. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A problem the user can act on: printed as one sentence, exit code 1. */
class UserError extends Error {}

const COMMON = `Options of every command:
  -n, --namespace NS    the workspace's namespace (default: the context's)
      --context NAME    the kubeconfig context to use
      --kubeconfig FILE the kubeconfig file to use
  -h, --help            this help`;

const HELP: Record<string, string> = {
  main: `kubectl wsdb — browse workspace databases, read credentials, regenerate passwords.

Commands:
  tables [NAME]                    tables of the namespace's workspace databases (of NAME only)
  preview NAME SCHEMA.TABLE        the first rows of a table
  credentials NAME                 connection parameters of a workspace database
  regenerate NAME --read-write|--read-only|--all [--wait]
                                   a new password (the old one stops working)
  ui [--port N]                    the database page in your browser, on this machine

Run "kubectl wsdb COMMAND --help" for a command's options. Every command acts with your own identity:
what your role in the namespace allows (viewer: tables and previews; editor: also credentials; admin:
also regenerate).

${COMMON}`,
  tables: `kubectl wsdb tables [NAME] — the tables, views, materialized views, partitioned and foreign tables of
the Ready workspace databases of the namespace (of the WorkspaceDatabase NAME only), with their type,
number of rows (~: an estimate) and size.

${COMMON}`,
  preview: `kubectl wsdb preview NAME SCHEMA.TABLE [--limit N] [--continue TOKEN] — rows of a table of the
WorkspaceDatabase NAME, read with its read-only login. TABLE alone means public.TABLE; quote names with
dots: '"my.schema"."my table"'. Long values are cut.

  --limit N         rows to show (default 20, at most 500)
  --continue TOKEN  the next page (the token the previous page printed)
  -o json           the answer as JSON

${COMMON}`,
  credentials: `kubectl wsdb credentials NAME [--read-only] [-o env|uri|jdbc|superset] [--external] — the
connection parameters of the WorkspaceDatabase NAME (its read/write login, or with --read-only its
read-only login), as your role allows (editors and admins).

  --read-only   the read-only login (for BI tools)
  -o FORMAT     env (PG* variables, default), uri (postgresql://), jdbc, superset (SQLAlchemy URI)
  --external    the server's external address, for tools outside the cluster

${COMMON}`,
  regenerate: `kubectl wsdb regenerate NAME --read-write|--read-only|--all [--wait] — gives a login of the
WorkspaceDatabase NAME a new password (admins). Its old password stops working and its sessions end;
the Secret gets the new one.

  --read-write  the read/write login
  --read-only   the read-only login
  --all         both
  --wait        wait until the operator has done it (up to --timeout, default 120 s)
  --timeout S   seconds to wait

${COMMON}`,
};

HELP.ui = `kubectl wsdb ui [--port N] — serves the database page on 127.0.0.1 (port N, default any free one)
for you alone, and prints the address to open (it holds a one-time sign-in token). The page shows the
namespace's workspace databases, their tables and rows, and — as your role allows — their credentials
and a "Regenerate password" button; it acts with your kubeconfig identity, which it never shows the
browser. Runs until Ctrl-C.

  --port N      the loopback port (default: any free one)

${COMMON}`;

function forbidden(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 403;
}

function notFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

interface Context {
  kube: KubeRequester;
  namespace: string;
  io: Io;
}

const tablesPath = (namespace: string) => `/apis/${DATA_GROUP}/${DATA_VERSION}/namespaces/${encodeURIComponent(namespace)}/${TABLES}`;
const workspacePath = (namespace: string, name: string) => `/apis/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/${WORKSPACE_DATABASES}/${encodeURIComponent(name)}`;

async function dataApi<T>(ctx: Context, path: string, query: Record<string, string | number | undefined>): Promise<T> {
  try {
    return await ctx.kube.request<T>("GET", path, { query, context: "the data API" });
  } catch (err) {
    if (forbidden(err)) throw new UserError(`your role in namespace ${ctx.namespace} does not allow browsing tables`);
    if (err instanceof KubeApiError && (err.code === 503 || (err.code === 404 && /could not find the requested resource/.test(err.message)))) {
      throw new UserError(`the data API is not available in this cluster (${err.message}); is the operator running with its APIService?`);
    }
    throw err;
  }
}

async function tables(ctx: Context, name: string | undefined): Promise<void> {
  const items: WorkspaceTable[] = [];
  let token: string | undefined;
  do {
    const page = await dataApi<{ items: WorkspaceTable[]; metadata?: { continue?: string } }>(ctx, tablesPath(ctx.namespace), {
      limit: 500,
      continue: token,
      fieldSelector: name === undefined ? undefined : `workspace=${name}`,
    });
    items.push(...page.items);
    token = page.metadata?.continue || undefined;
  } while (token !== undefined);
  if (items.length === 0) {
    ctx.io.out(name === undefined ? `No tables in the Ready workspace databases of namespace ${ctx.namespace}.` : `No tables in workspace database ${name} (namespace ${ctx.namespace}), or it is not Ready.`);
    return;
  }
  const rows = items.map((t) => [t.workspace, `${t.schema}.${t.table}`, t.type, t.rows === undefined ? "" : `${t.rowsExact ? "" : "~"}${t.rows}`, humanBytes(t.sizeBytes)]);
  ctx.io.out(alignedTable(["WORKSPACE", "TABLE", "TYPE", "ROWS", "SIZE"], rows, [false, false, false, true, true]));
}

async function preview(ctx: Context, name: string, ref: string, options: { limit: number; continue?: string; json: boolean }): Promise<void> {
  const parsed = parseTableRef(ref);
  if (parsed === undefined) throw new UserError(`"${ref}" is not SCHEMA.TABLE (quote names with dots: '"my.schema"."my table"')`);
  const object = tableObjectName({ workspace: name, ...parsed });
  let answer: TablePreview;
  try {
    answer = await dataApi<TablePreview>(ctx, `${tablesPath(ctx.namespace)}/${encodeURIComponent(object)}/${PREVIEW}`, { limit: options.limit, continue: options.continue });
  } catch (err) {
    if (notFound(err)) throw new UserError(`no table ${parsed.schema}.${parsed.table} in workspace database ${name} (namespace ${ctx.namespace}), or the database is not Ready`);
    if (err instanceof KubeApiError && err.code === 410) throw new UserError(`${err.message.replace(/^.*?: /, "")}`);
    throw err;
  }
  if (options.json) {
    ctx.io.out(JSON.stringify(answer, null, 2));
    return;
  }
  ctx.io.out(psqlTable(answer.columns, answer.rows));
  if (answer.truncated) ctx.io.out("(long values were cut, or the answer reached its size limit)");
  if (answer.metadata.continue !== undefined) ctx.io.out(`More rows: kubectl wsdb preview ${name} ${ref} -n ${ctx.namespace} --limit ${options.limit} --continue ${answer.metadata.continue}`);
}

async function credentials(ctx: Context, name: string, options: { readOnly: boolean; format: CredentialFormat; external: boolean }): Promise<void> {
  const secret = secretName(name, options.readOnly ? "read-only" : "read-write");
  let found: Secret;
  try {
    found = await ctx.kube.request<Secret>("GET", `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/secrets/${encodeURIComponent(secret)}`, { context: `reading Secret ${secret}` });
  } catch (err) {
    if (forbidden(err)) throw new UserError(`your role in namespace ${ctx.namespace} does not allow reading credentials`);
    if (notFound(err)) throw new UserError(`no credentials for workspace database ${name} in namespace ${ctx.namespace} (Secret ${secret} does not exist: is the WorkspaceDatabase there and Ready?)`);
    throw err;
  }
  const keys = secretData(found);
  if (options.external && keys["external-host"] === undefined) throw new UserError(`the DatabaseServer of ${name} has no externalHost: only the in-cluster address is known`);
  ctx.io.out(formatCredentials(keys, options.format, options.external));
}

async function regenerate(ctx: Context, name: string, options: { which: "read-write" | "read-only" | "all"; wait: boolean; timeoutMs: number }): Promise<void> {
  const annotation = options.which === "read-write" ? ANNOTATION_REGENERATE_RW : options.which === "read-only" ? ANNOTATION_REGENERATE_RO : ANNOTATION_REGENERATE_BOTH;
  const token = `kubectl-wsdb-${new Date().toISOString()}`;
  try {
    await ctx.kube.request("PATCH", workspacePath(ctx.namespace, name), {
      body: { metadata: { annotations: { [annotation]: token } } },
      contentType: "application/merge-patch+json",
      context: `annotating WorkspaceDatabase ${name}`,
    });
  } catch (err) {
    if (forbidden(err)) throw new UserError(`your role in namespace ${ctx.namespace} does not allow regenerating passwords`);
    if (notFound(err)) throw new UserError(`no WorkspaceDatabase ${name} in namespace ${ctx.namespace}`);
    if (err instanceof KubeApiError && err.code === 422) throw new UserError(`the cluster refused the regeneration: ${err.message}`);
    throw err;
  }
  const logins = options.which === "all" ? ["read-write", "read-only"] as const : [options.which];
  ctx.io.out(`Requested a new ${logins.join(" and ")} password for ${ctx.namespace}/${name} (${annotation}=${token}).`);
  if (!options.wait) return;
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const ws = await ctx.kube.request<WorkspaceDatabase>("GET", workspacePath(ctx.namespace, name), { context: `reading WorkspaceDatabase ${name}` });
    const creds = ws.status?.credentials;
    // Status records a long value as its digest; the plugin's own values are short, but compare the same way.
    const done = logins.every((l) => (l === "read-write" ? creds?.readWrite : creds?.readOnly)?.regenerateToken === regenerateTokenRecord(token));
    if (done) {
      for (const l of logins) {
        const at = (l === "read-write" ? creds?.readWrite : creds?.readOnly)?.passwordChangedAt ?? "";
        ctx.io.out(`The ${l} password was regenerated at ${at}: the old one no longer works, and its sessions were ended.`);
      }
      return;
    }
    if (Date.now() > deadline) {
      const ready = ws.status?.conditions?.find((c) => c.type === "Ready");
      throw new UserError(`not done after ${Math.round(options.timeoutMs / 1000)} s${ready === undefined ? "" : ` (Ready=${ready.status}, ${ready.reason}: ${ready.message})`}; the operator will keep trying`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Serves the page until SIGINT or SIGTERM; resolves with the exit code. */
async function ui(ctx: Context, namespace: string | undefined, port: number, closeClient: () => void): Promise<number> {
  let page: Awaited<ReturnType<typeof startLocalPage>>;
  try {
    page = await startLocalPage({
      kube: ctx.kube,
      ...(namespace === undefined ? {} : { namespace }),
      port,
      log: (message, fields) => ctx.io.err(`${message}: ${printable(JSON.stringify(fields))}`),
    });
  } catch (err) {
    ctx.io.err(`error: ${printable((err as Error).message)}`);
    closeClient();
    return 1;
  }
  ctx.io.out(`The database page${namespace === undefined ? "" : ` of namespace ${namespace}`}, for you alone, acting with your kubeconfig identity:\n\n  ${page.url}\n\nOpen it in your browser (the link works once). Ctrl-C stops it.`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await page.close();
  closeClient();
  return 0;
}

function loadConfig(kubeconfig: string | undefined, context: string | undefined): KubeConfig {
  const options = context === undefined ? {} : { context };
  return kubeconfig === undefined ? loadKubeConfig(options) : loadKubeConfigFiles([kubeconfig], options);
}

/** Runs the plugin with `argv` (without node and the script); resolves with the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`error: ${(err as Error).message}\nRun "kubectl wsdb --help".`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command === undefined || values.help === true) {
    io.out(HELP[command ?? "main"] ?? HELP.main!);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  if (HELP[command] === undefined || command === "main") {
    io.err(`error: unknown command "${command}"\nRun "kubectl wsdb --help".`);
    return 2;
  }
  const usage = (message: string) => {
    io.err(`error: ${message}\n\n${HELP[command]!}`);
    return 2;
  };
  let config: KubeConfig;
  try {
    config = loadConfig(values.kubeconfig, values.context);
  } catch (err) {
    io.err(`error: ${(err as Error).message}`);
    return 1;
  }
  const kube = createRestClient(config, { userAgent: "kubectl-wsdb" });
  const ctx: Context = { kube, namespace: values.namespace ?? config.namespace ?? "default", io };
  if (command === "ui") {
    if (rest.length > 0) return usage("ui takes no NAME");
    const port = Number(values.port ?? "0");
    if (!Number.isInteger(port) || port < 0 || port > 65535) return usage("--port must be a port number");
    return ui(ctx, values.namespace ?? config.namespace, port, kube.close.bind(kube));
  }
  try {
    switch (command) {
      case "tables":
        if (rest.length > 1) return usage("tables takes at most one NAME");
        await tables(ctx, rest[0]);
        break;
      case "preview": {
        if (rest.length !== 2) return usage("preview needs NAME and SCHEMA.TABLE");
        const limit = values.limit === undefined ? 20 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) return usage("--limit must be a whole number from 1 to 500");
        await preview(ctx, rest[0]!, rest[1]!, { limit, ...(values.continue === undefined ? {} : { continue: values.continue }), json: values.output === "json" });
        break;
      }
      case "credentials": {
        if (rest.length !== 1) return usage("credentials needs NAME");
        const format = (values.output ?? "env") as CredentialFormat;
        if (!CREDENTIAL_FORMATS.includes(format)) return usage(`-o must be one of ${CREDENTIAL_FORMATS.join(", ")}`);
        await credentials(ctx, rest[0]!, { readOnly: values["read-only"] === true, format, external: values.external === true });
        break;
      }
      case "regenerate": {
        if (rest.length !== 1) return usage("regenerate needs NAME");
        const chosen = [values["read-write"] === true ? "read-write" : undefined, values["read-only"] === true ? "read-only" : undefined, values.all === true ? "all" : undefined]
          .filter((v): v is "read-write" | "read-only" | "all" => v !== undefined);
        if (chosen.length !== 1) return usage("say which password: exactly one of --read-write, --read-only, --all");
        const timeout = Number(values.timeout ?? "120");
        if (!Number.isFinite(timeout) || timeout <= 0) return usage("--timeout must be a number of seconds");
        await regenerate(ctx, rest[0]!, { which: chosen[0]!, wait: values.wait === true, timeoutMs: timeout * 1000 });
        break;
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof UserError) io.err(`error: ${printable(err.message)}`);
    else if (err instanceof KubeApiError && err.code === 401) io.err(`error: the cluster did not accept your credentials (${config.source})`);
    else io.err(`error: ${printable((err as Error).message)}`);
    return 1;
  } finally {
    kube.close();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      namespace: { type: "string", short: "n" },
      context: { type: "string" },
      kubeconfig: { type: "string" },
      help: { type: "boolean", short: "h" },
      limit: { type: "string" },
      continue: { type: "string" },
      output: { type: "string", short: "o" },
      "read-only": { type: "boolean" },
      "read-write": { type: "boolean" },
      all: { type: "boolean" },
      external: { type: "boolean" },
      wait: { type: "boolean" },
      timeout: { type: "string" },
      port: { type: "string" },
    },
  });
}

const invokedDirectly = process.argv[1] !== undefined && /kubectl-wsdb(\.[jt]s)?$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await run(process.argv.slice(2), { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) });
  process.exitCode = code;
}
