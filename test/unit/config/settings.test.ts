// Unit tests of settings loading: precedence of defaults, file, environment and flags; error messages.
import { expect } from "chai";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SettingsError, envName, flagName, labelSelectorProblem, loadSettings } from "../../../src/config/settings.ts";
import { DEFAULT_SETTINGS } from "../../../src/config/schema.ts";
import { formatDuration, parseDuration } from "../../../src/config/duration.ts";

describe("loadSettings", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "wsdb-settings-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeConfig = (text: string, name = "operator.yaml"): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const errorOf = (fn: () => unknown): SettingsError => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(SettingsError);
      return err as SettingsError;
    }
    throw new Error("expected a SettingsError");
  };

  it("returns the defaults when nothing is set", () => {
    expect(loadSettings([], {}, { cwd: dir })).to.deep.equal(DEFAULT_SETTINGS);
  });

  it("the shipped config/operator.yaml holds exactly the defaults", () => {
    expect(loadSettings([], {}, { cwd: process.cwd() })).to.deep.equal(DEFAULT_SETTINGS);
  });

  it("reads config/operator.yaml from the working directory when present", () => {
    mkdirSync(join(dir, "config"));
    writeFileSync(join(dir, "config", "operator.yaml"), "workers: 7\n");
    expect(loadSettings([], {}, { cwd: dir }).workers).to.equal(7);
  });

  it("applies defaults < file < env < flags", () => {
    const file = writeConfig("workers: 2\nlogLevel: debug\nmetricsPort: 9000\npasswordLength: 40\nresyncPeriod: 1m\nleaderElection:\n  leaseDuration: 40s\n");
    const s = loadSettings(["--config", file, "--metrics-port=9100", "--log-level", "warn"], {
      WSDB_WORKERS: "3",
      WSDB_METRICS_PORT: "9050",
      WSDB_LOG_LEVEL: "error",
    });
    expect(s.passwordLength).to.equal(40); // file
    expect(s.workers).to.equal(3); // env over file
    expect(s.metricsPort).to.equal(9100); // flag over env
    expect(s.logLevel).to.equal("warn");
    expect(s.resyncPeriod).to.equal(60_000);
    expect(s.leaderElection.leaseDuration).to.equal(40_000);
    expect(s.leaderElection.renewDeadline).to.equal(10_000); // default kept beside a file value
    expect(s.logFormat).to.equal("json");
  });

  it("takes the file from WSDB_CONFIG, and --config wins over it", () => {
    const a = writeConfig("workers: 5\n", "a.yaml");
    const b = writeConfig("workers: 6\n", "b.yaml");
    expect(loadSettings([], { WSDB_CONFIG: a }).workers).to.equal(5);
    expect(loadSettings(["--config", b], { WSDB_CONFIG: a }).workers).to.equal(6);
  });

  it("maps nested settings to WSDB_* names and flags, with short aliases", () => {
    expect(envName("leaderElection.leaseDuration")).to.equal("WSDB_LEADER_ELECTION_LEASE_DURATION");
    expect(flagName("postgres.maxConnectionsPerServer")).to.equal("--postgres-max-connections-per-server");
    const s = loadSettings(["--postgres-max-connections-per-server", "8", "--backoff-max=10m"], {
      WSDB_LEADER_ELECTION: "false",
      WSDB_NAMESPACE: "ops",
      WSDB_PASSWORD_LENGTH: "64",
      WSDB_POSTGRES_CONNECT_TIMEOUT: "2500ms",
      WSDB_LEADER_ELECTION_IDENTITY: "me",
    }, { cwd: dir });
    expect(s.leaderElection).to.include({ enabled: false, namespace: "ops", identity: "me" });
    expect(s.passwordLength).to.equal(64);
    expect(s.postgres).to.deep.equal({ maxConnectionsPerServer: 8, connectTimeout: 2500, statementTimeout: 15_000, lockTimeout: 5_000, passwordChecksPerMinute: 60 });
    expect(s.backoff.max).to.equal(600_000);
  });

  it("defaults the lease namespace to POD_NAMESPACE, below WSDB_NAMESPACE", () => {
    expect(loadSettings([], { POD_NAMESPACE: "podns" }, { cwd: dir }).leaderElection.namespace).to.equal("podns");
    expect(loadSettings([], { POD_NAMESPACE: "podns", WSDB_NAMESPACE: "x" }, { cwd: dir }).leaderElection.namespace).to.equal("x");
  });

  it("accepts bare boolean flags and explicit values", () => {
    expect(loadSettings(["--leader-election"], { WSDB_LEADER_ELECTION: "false" }, { cwd: dir }).leaderElection.enabled).to.equal(true);
    expect(loadSettings(["--leader-election", "false", "--workers", "2"], {}, { cwd: dir })).to.include({ workers: 2 });
    expect(loadSettings(["--leader-election=false"], {}, { cwd: dir }).leaderElection.enabled).to.equal(false);
  });

  it("ignores WSDB_* variables it does not know (the test ground uses the prefix)", () => {
    expect(() => loadSettings([], { WSDB_KUBECONFIG: "/x", WSDB_PG_ADMIN_URL: "postgres://" }, { cwd: dir })).not.to.throw();
  });

  it("names the setting and its source in errors", () => {
    expect(errorOf(() => loadSettings([], { WSDB_WORKERS: "0" }, { cwd: dir })).message)
      .to.equal('setting "workers" (from WSDB_WORKERS): must be >= 1');
    expect(errorOf(() => loadSettings(["--workers", "many"], {}, { cwd: dir })).message)
      .to.equal('setting "workers" (from --workers): must be integer');
    expect(errorOf(() => loadSettings([], { WSDB_PASSWORD_LENGTH: "8" }, { cwd: dir })).message)
      .to.equal('setting "passwordLength" (from WSDB_PASSWORD_LENGTH): must be >= 16');
    const file = writeConfig("passwordLength: 1000\n");
    expect(errorOf(() => loadSettings(["--config", file], {})).message)
      .to.equal(`setting "passwordLength" (from ${file}): must be <= 256`);
  });

  it("explains durations, enums and unknown keys", () => {
    expect(errorOf(() => loadSettings([], { WSDB_RESYNC_PERIOD: "soon" }, { cwd: dir })).message)
      .to.equal('setting "resyncPeriod" (from WSDB_RESYNC_PERIOD): must be a duration such as "30s", "5m" or "1h"');
    expect(errorOf(() => loadSettings(["--resync-period", "1s"], {}, { cwd: dir })).message)
      .to.equal('setting "resyncPeriod" (from --resync-period): must be >= 10s');
    expect(errorOf(() => loadSettings(["--log-format", "xml"], {}, { cwd: dir })).message)
      .to.equal('setting "logFormat" (from --log-format): must be one of json, text');
    const file = writeConfig("wokers: 3\npostgres: 5\nleaderElection:\n  lease: x\n");
    expect(errorOf(() => loadSettings(["--config", file], {})).problems).to.deep.equal([
      `setting "wokers" (from ${file}): unknown setting`,
      `setting "postgres" (from ${file}): must be an object`,
      `setting "leaderElection.lease" (from ${file}): unknown setting`,
    ]);
  });

  it("reports every problem at once", () => {
    const err = errorOf(() => loadSettings(["--workers", "0"], { WSDB_METRICS_PORT: "70000" }, { cwd: dir }));
    expect(err.problems).to.have.length(2);
  });

  it("checks the leader election timings against each other", () => {
    expect(errorOf(() => loadSettings([], { WSDB_LEADER_ELECTION_RENEW_DEADLINE: "40s" }, { cwd: dir })).problems[0])
      .to.equal('setting "leaderElection.renewDeadline" (from WSDB_LEADER_ELECTION_RENEW_DEADLINE): must be less than leaderElection.leaseDuration (30s)');
    expect(errorOf(() => loadSettings(["--backoff-base", "30s", "--backoff-max", "10s"], {}, { cwd: dir })).message)
      .to.match(/^setting "backoff.base" \(from --backoff-base\): must not exceed backoff.max \(10s\)$/);
  });

  it("keeps every statement of a deposed leader inside the lease (fencing budget)", () => {
    expect(errorOf(() => loadSettings([], { WSDB_POSTGRES_STATEMENT_TIMEOUT: "20s" }, { cwd: dir })).message).to.equal(
      'setting "postgres.statementTimeout" (from WSDB_POSTGRES_STATEMENT_TIMEOUT): leaderElection.renewDeadline (10s) + postgres.statementTimeout must be less than leaderElection.leaseDuration (30s), so that no statement of an old leader can still run when a new one starts',
    );
    expect(loadSettings([], { WSDB_POSTGRES_STATEMENT_TIMEOUT: "20s", WSDB_LEADER_ELECTION: "false" }, { cwd: dir }).postgres.statementTimeout).to.equal(20_000);
    expect(errorOf(() => loadSettings(["--postgres-lock-timeout", "16s"], {}, { cwd: dir })).problems[0])
      .to.equal('setting "postgres.lockTimeout" (from --postgres-lock-timeout): must not exceed postgres.statementTimeout (15s)');
  });

  it("reads watchNamespaces as a list from YAML and as a comma- or space-separated string from env and flags", () => {
    expect(loadSettings([], {}, { cwd: dir }).watchNamespaces).to.deep.equal([]);
    const file = writeConfig("watchNamespaces: [team-a, team-b]\n");
    expect(loadSettings(["--config", file], {}).watchNamespaces).to.deep.equal(["team-a", "team-b"]);
    expect(loadSettings([], { WSDB_WATCH_NAMESPACES: "a,b, c" }, { cwd: dir }).watchNamespaces).to.deep.equal(["a", "b", "c"]);
    expect(loadSettings(["--watch-namespaces", "x y"], {}, { cwd: dir }).watchNamespaces).to.deep.equal(["x", "y"]);
    expect(loadSettings(["--watch-namespaces=solo"], { WSDB_WATCH_NAMESPACES: "a,b" }, { cwd: dir }).watchNamespaces).to.deep.equal(["solo"]);
    // An empty string from the environment overrides the file back to every namespace.
    expect(loadSettings(["--config", file], { WSDB_WATCH_NAMESPACES: "" }).watchNamespaces).to.deep.equal([]);
    expect(loadSettings(["--config", writeConfig("watchNamespaces: a, b\n", "s.yaml")], {}).watchNamespaces).to.deep.equal(["a", "b"]);
  });

  it("refuses watchNamespaces that are not namespace names, or listed twice", () => {
    expect(errorOf(() => loadSettings([], { WSDB_WATCH_NAMESPACES: "ok,Not_A_Namespace" }, { cwd: dir })).message)
      .to.equal('setting "watchNamespaces" (from WSDB_WATCH_NAMESPACES): item 2 ("Not_A_Namespace") is not a namespace name (a lowercase RFC 1123 label of at most 63 characters)');
    expect(errorOf(() => loadSettings(["--watch-namespaces", `a,${"x".repeat(64)}`], {}, { cwd: dir })).message)
      .to.contain('setting "watchNamespaces" (from --watch-namespaces): item 2');
    expect(errorOf(() => loadSettings(["--watch-namespaces", "a,b,a"], {}, { cwd: dir })).message)
      .to.equal('setting "watchNamespaces" (from --watch-namespaces): lists "a" more than once');
    const file = writeConfig("watchNamespaces: {a: 1}\n");
    expect(errorOf(() => loadSettings(["--config", file], {})).message)
      .to.equal(`setting "watchNamespaces" (from ${file}): must be a list of namespace names`);
    const numbers = writeConfig("watchNamespaces: [a, 7]\n", "n.yaml");
    expect(errorOf(() => loadSettings(["--config", numbers], {})).message).to.contain("item 2 (7) is not a namespace name");
  });

  it("takes workspaceSelector as a label selector string, checked loosely", () => {
    expect(loadSettings([], {}, { cwd: dir }).workspaceSelector).to.equal("");
    expect(loadSettings([], { WSDB_WORKSPACE_SELECTOR: "shard=a,team in (x,y),!legacy" }, { cwd: dir }).workspaceSelector)
      .to.equal("shard=a,team in (x,y),!legacy");
    expect(loadSettings(["--workspace-selector", "shard!=b"], {}, { cwd: dir }).workspaceSelector).to.equal("shard!=b");
    expect(errorOf(() => loadSettings(["--workspace-selector", "shard=a,"], {}, { cwd: dir })).message).to.equal(
      'setting "workspaceSelector" (from --workspace-selector): has an empty requirement (number 2 of 2; requirements are separated by commas): a label selector such as "shard=a" or "team in (x,y),!legacy"',
    );
    expect(errorOf(() => loadSettings([], { WSDB_WORKSPACE_SELECTOR: " " }, { cwd: dir })).message).to.contain("is blank");
  });

  it("labelSelectorProblem: empty requirements and unbalanced parentheses only; the API server judges the rest", () => {
    for (const ok of ["", "a", "a=b", "a==b,c!=d", "env in (prod, staging),!legacy", "x notin (a),y", "example.com/shard=1"]) {
      expect(labelSelectorProblem(ok), ok).to.equal(undefined);
    }
    expect(labelSelectorProblem(",a")).to.match(/empty requirement \(number 1 of 2/);
    expect(labelSelectorProblem("a,,b")).to.match(/number 2 of 3/);
    expect(labelSelectorProblem("a in (x,y")).to.match(/"\(" without/);
    expect(labelSelectorProblem("a in x)")).to.match(/"\)" without/);
    expect(labelSelectorProblem("\t")).to.match(/blank/);
  });

  it("rejects unknown flags, missing values, a missing or broken file", () => {
    expect(errorOf(() => loadSettings(["--wrkers", "2"], {}, { cwd: dir })).message).to.equal('unknown flag "--wrkers"');
    expect(errorOf(() => loadSettings(["stray"], {}, { cwd: dir })).message).to.equal('unexpected argument "stray"');
    expect(errorOf(() => loadSettings(["--workers"], {}, { cwd: dir })).message).to.equal("flag --workers: needs a value");
    expect(errorOf(() => loadSettings(["--config", join(dir, "missing.yaml")], {})).message).to.match(/ENOENT/);
    const bad = writeConfig("workers: [1\n");
    expect(errorOf(() => loadSettings(["--config", bad], {})).message).to.match(/^settings file .*operator.yaml: /);
  });
});

describe("durations", () => {
  it("parses Go-style durations and bare milliseconds", () => {
    expect(parseDuration("250ms")).to.equal(250);
    expect(parseDuration("30s")).to.equal(30_000);
    expect(parseDuration("5m")).to.equal(300_000);
    expect(parseDuration("1h30m")).to.equal(5_400_000);
    expect(parseDuration("1.5s")).to.equal(1500);
    expect(parseDuration("1500")).to.equal(1500);
    expect(parseDuration("5 minutes")).to.equal(undefined);
    expect(parseDuration("-1s")).to.equal(undefined);
  });

  it("formats in the largest exact unit", () => {
    expect(formatDuration(300_000)).to.equal("5m");
    expect(formatDuration(1500)).to.equal("1500ms");
    expect(formatDuration(0)).to.equal("0ms");
    expect(formatDuration(3_600_000)).to.equal("1h");
  });
});
