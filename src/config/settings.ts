// Loads the settings: defaults < YAML file < WSDB_* environment variables < flags, validated by JSON Schema.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv } from "ajv";
import type { ErrorObject } from "ajv";
import { parse as parseYaml } from "yaml";
import { formatDuration, parseDuration } from "./duration.ts";
import { DEFAULT_SETTINGS, settingLeaves, settingsSchema } from "./schema.ts";
import type { SettingLeaf, Settings } from "./schema.ts";

export type { Settings } from "./schema.ts";

/** The default settings file, relative to the working directory; read only if it exists. */
export const DEFAULT_CONFIG_PATH = "config/operator.yaml";

/**
 * A setting that cannot be used. `message` names the setting and where its value came from, e.g.
 * `setting "workers" (from WSDB_WORKERS): must be >= 1`; several problems are joined by newlines.
 */
export class SettingsError extends Error {
  /** One line per problem. */
  readonly problems: string[];
  constructor(problems: string[], options?: ErrorOptions) {
    super(problems.join("\n"), options);
    this.name = "SettingsError";
    this.problems = problems;
  }
}

interface Value {
  value: unknown;
  source: string;
}

const leaves = settingLeaves();
const leafByPath = new Map(leaves.map((l) => [l.path, l]));

/** Environment variable of a setting: WSDB_ + upper snake case ("leaderElection.leaseDuration" → WSDB_LEADER_ELECTION_LEASE_DURATION). */
export function envName(path: string): string {
  return "WSDB_" + path.replace(/\./g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Flag of a setting: kebab case ("leaderElection.leaseDuration" → --leader-election-lease-duration). */
export function flagName(path: string): string {
  return "--" + path.replace(/\./g, "-").replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** Short names besides the generated ones. */
const ENV_ALIASES: Record<string, string> = {
  WSDB_LEADER_ELECTION: "leaderElection.enabled",
  WSDB_NAMESPACE: "leaderElection.namespace",
};
const FLAG_ALIASES: Record<string, string> = {
  "--leader-election": "leaderElection.enabled",
  "--namespace": "leaderElection.namespace",
};

/**
 * Loads the settings from, in increasing priority: defaults (the lease namespace defaults to
 * POD_NAMESPACE), the YAML file (`--config PATH`, else WSDB_CONFIG, else `config/operator.yaml` if it
 * exists), `WSDB_*` environment variables, and flags (`--workers 8`, `--log-level=debug`, bare
 * `--leader-election` means true). `argv` excludes node and the script (`process.argv.slice(2)`).
 * Durations ("30s", "5m") become milliseconds. Unknown WSDB_* variables are ignored (other tools
 * use the prefix); unknown flags and unknown file keys are errors. Throws {@link SettingsError}.
 */
export function loadSettings(argv: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Settings {
  const cwd = opts.cwd ?? process.cwd();
  const merged = new Map<string, Value>();
  const problems: string[] = [];
  const set = (path: string, value: unknown, source: string): void => {
    const leaf = leafByPath.get(path);
    merged.set(path, { value: leaf ? coerce(leaf, value) : value, source });
  };

  flatten(DEFAULT_SETTINGS, "", (path, value) => set(path, value, "default"));
  if (env.POD_NAMESPACE) set("leaderElection.namespace", env.POD_NAMESPACE, "POD_NAMESPACE");

  const flags = parseFlags(argv, problems);
  const configFlag = flags.find((f) => f.path === "config");
  const configPath = configFlag?.value ?? env.WSDB_CONFIG ?? undefined;
  const file = configPath !== undefined ? resolve(cwd, configPath) : resolve(cwd, DEFAULT_CONFIG_PATH);
  if (configPath !== undefined || existsSync(file)) {
    const source = configPath ?? DEFAULT_CONFIG_PATH;
    for (const { path, value } of readFile(file, source, problems)) {
      if (leafByPath.has(path)) set(path, value, source);
      else problems.push(unknownSetting(path, source));
    }
  }

  for (const leaf of leaves) {
    const name = envName(leaf.path);
    const value = env[name];
    if (value !== undefined) set(leaf.path, value, name);
  }
  for (const [name, path] of Object.entries(ENV_ALIASES)) {
    const value = env[name];
    if (value !== undefined && env[envName(path)] === undefined) set(path, value, name);
  }
  for (const f of flags) if (f.path !== "config") set(f.path, f.value, f.flag);

  if (problems.length > 0) throw new SettingsError(problems);
  const settings = unflatten(merged);
  validate(settings, merged, problems);
  if (problems.length === 0) crossCheck(settings, merged, problems);
  if (problems.length > 0) throw new SettingsError(problems);
  return settings as unknown as Settings;
}

function unknownSetting(path: string, source: string): string {
  const isObject = leaves.some((l) => l.path.startsWith(path + "."));
  return `setting "${path}" (from ${source}): ${isObject ? "must be an object" : "unknown setting"}`;
}

function readFile(file: string, source: string, problems: string[]): Array<{ path: string; value: unknown }> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    problems.push(`settings file ${source}: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  }
  if (doc === null || doc === undefined) return [];
  if (!isPlainObject(doc)) {
    problems.push(`settings file ${source}: must be a mapping of settings`);
    return [];
  }
  const out: Array<{ path: string; value: unknown }> = [];
  flatten(doc, "", (path, value) => out.push({ path, value }));
  return out;
}

interface Flag {
  flag: string;
  path: string;
  value: string;
}

function parseFlags(argv: string[], problems: string[]): Flag[] {
  const byFlag = new Map<string, string>(leaves.map((l) => [flagName(l.path), l.path]));
  for (const [flag, path] of Object.entries(FLAG_ALIASES)) byFlag.set(flag, path);
  byFlag.set("--config", "config");
  const out: Flag[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const path = byFlag.get(flag);
    if (!arg.startsWith("--") || path === undefined) {
      problems.push(arg.startsWith("--") ? `unknown flag "${flag}"` : `unexpected argument "${arg}"`);
      if (arg.startsWith("--") && eq < 0 && argv[i + 1]?.startsWith("--") === false) i++; // its value
      continue;
    }
    const isBool = leafByPath.get(path)?.schema.type === "boolean";
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (isBool) value = argv[i + 1] === "true" || argv[i + 1] === "false" ? argv[++i] : "true";
    else value = argv[++i];
    if (value === undefined) problems.push(`flag ${flag}: needs a value`);
    else out.push({ flag, path, value });
  }
  return out;
}

/**
 * Converts strings (env, flags) and duration strings (anywhere) to the leaf's type; a list given as
 * one string ("a,b", "a b") becomes its comma- or space-separated items ("" is the empty list).
 * Leaves anything else for the schema to reject.
 */
function coerce(leaf: SettingLeaf, value: unknown): unknown {
  if (leaf.schema["x-duration"] === true) return typeof value === "string" ? parseDuration(value) ?? value : value;
  if (typeof value !== "string") return value;
  if (leaf.schema.type === "array") return value.split(/[\s,]+/).filter((item) => item !== "");
  const text = value.trim();
  if (leaf.schema.type === "integer") return /^-?\d+$/.test(text) ? Number(text) : value;
  if (leaf.schema.type === "boolean") {
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
  }
  return value;
}

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addKeyword({ keyword: "x-duration", schemaType: "boolean" });
const validateSchema = ajv.compile(settingsSchema);

function validate(settings: Record<string, unknown>, merged: Map<string, Value>, problems: string[]): void {
  if (validateSchema(settings)) return;
  for (const e of validateSchema.errors ?? []) problems.push(describe(e, merged));
}

function describe(e: ErrorObject, merged: Map<string, Value>): string {
  const segments = e.instancePath.slice(1).split("/");
  let path = segments.join(".");
  // An item of a list ("watchNamespaces/1"): named after its setting.
  let item: number | undefined;
  const last = segments[segments.length - 1] ?? "";
  if (!leafByPath.has(path) && /^\d+$/.test(last) && leafByPath.has(segments.slice(0, -1).join("."))) {
    item = Number(last);
    path = segments.slice(0, -1).join(".");
  }
  const leaf = leafByPath.get(path);
  const entry = merged.get(path);
  const source = entry?.source ?? "default";
  const isDuration = leaf?.schema["x-duration"] === true;
  let why = e.message ?? "is invalid";
  const params = e.params as { limit?: unknown; comparison?: unknown; allowedValues?: unknown; i?: unknown };
  if (e.keyword === "enum") why = `must be one of ${(params.allowedValues as unknown[]).join(", ")}`;
  else if (isDuration && e.keyword === "type") why = `must be a duration such as "30s", "5m" or "1h"`;
  else if (isDuration && typeof params.limit === "number") why = `must be ${String(params.comparison)} ${formatDuration(params.limit)}`;
  else if (path === "watchNamespaces" && item !== undefined) {
    const value = Array.isArray(entry?.value) ? (entry.value as unknown[])[item] : undefined;
    why = `item ${item + 1} (${JSON.stringify(value)}) is not a namespace name (a lowercase RFC 1123 label of at most 63 characters)`;
  } else if (path === "watchNamespaces" && e.keyword === "uniqueItems") {
    const value = Array.isArray(entry?.value) && typeof params.i === "number" ? (entry.value as unknown[])[params.i] : undefined;
    why = `lists ${JSON.stringify(value)} more than once`;
  } else if (path === "watchNamespaces" && e.keyword === "type") why = "must be a list of namespace names";
  return `setting "${path}" (from ${source}): ${why}`;
}

/**
 * Why a label selector cannot be right, or undefined when it may be: a loose check at load (no empty
 * requirement between commas, balanced parentheses). The API server parses it for real and refuses
 * anything else (the operator then exits naming it).
 */
export function labelSelectorProblem(selector: string): string | undefined {
  if (selector === "") return undefined;
  const requirements: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")" && --depth < 0) return `has a ")" without its "("`;
    if (ch === "," && depth === 0) {
      requirements.push(current);
      current = "";
    } else current += ch;
  }
  requirements.push(current);
  if (depth > 0) return `has a "(" without its ")"`;
  if (requirements.length === 1 && current.trim() === "") return "is blank (leave it empty to select every WorkspaceDatabase)";
  const empty = requirements.findIndex((r) => r.trim() === "");
  if (empty >= 0) return `has an empty requirement (number ${empty + 1} of ${requirements.length}; requirements are separated by commas)`;
  return undefined;
}

function crossCheck(s: Record<string, unknown>, merged: Map<string, Value>, problems: string[]): void {
  const le = s.leaderElection as Settings["leaderElection"];
  const bo = s.backoff as Settings["backoff"];
  const need = (ok: boolean, path: string, why: string): void => {
    if (!ok) problems.push(`setting "${path}" (from ${merged.get(path)?.source ?? "default"}): ${why}`);
  };
  need(le.renewDeadline < le.leaseDuration, "leaderElection.renewDeadline", `must be less than leaderElection.leaseDuration (${formatDuration(le.leaseDuration)})`);
  need(le.retryPeriod < le.renewDeadline, "leaderElection.retryPeriod", `must be less than leaderElection.renewDeadline (${formatDuration(le.renewDeadline)})`);
  need(bo.base <= bo.max, "backoff.base", `must not exceed backoff.max (${formatDuration(bo.max)})`);
  const pg = s.postgres as Settings["postgres"];
  need(pg.lockTimeout <= pg.statementTimeout, "postgres.lockTimeout", `must not exceed postgres.statementTimeout (${formatDuration(pg.statementTimeout)})`);
  const selectorProblem = labelSelectorProblem(s.workspaceSelector as string);
  need(selectorProblem === undefined, "workspaceSelector", `${selectorProblem ?? ""}: a label selector such as "shard=a" or "team in (x,y),!legacy"`);
  // Leader fencing: a statement started just before the fence closes must be over before another replica may lead.
  if (le.enabled) {
    need(
      le.renewDeadline + pg.statementTimeout < le.leaseDuration,
      "postgres.statementTimeout",
      `leaderElection.renewDeadline (${formatDuration(le.renewDeadline)}) + postgres.statementTimeout must be less than leaderElection.leaseDuration (${formatDuration(le.leaseDuration)}), so that no statement of an old leader can still run when a new one starts`,
    );
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function flatten(obj: Record<string, unknown> | Settings, prefix: string, emit: (path: string, value: unknown) => void): void {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix + key;
    if (isPlainObject(value) && !leafByPath.has(path)) flatten(value, path + ".", emit);
    else emit(path, value);
  }
}

function unflatten(merged: Map<string, Value>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, { value }] of merged) {
    const parts = path.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      node = isPlainObject(next) ? next : (node[part] = {});
    }
    node[parts[parts.length - 1] ?? ""] = value;
  }
  return root;
}
