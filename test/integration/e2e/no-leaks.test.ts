// End to end: no password the operator ever generated or applied shows up anywhere but in its Secret —
// not in PostgreSQL's statement log (only SCRAM verifiers go there), the operator's log, Events or status.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  GROUP,
  VERSION,
  annotateWorkspace,
  asSuperuser,
  canLogin,
  clients,
  createWorkspace,
  deleteSecret,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  patchSecretData,
  readSecret,
  setupServer,
  unique,
  waitReady,
} from "../support/fixtures.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";

const SCRAM = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/;

describe("no password leaks (end to end)", function () {
  this.timeout(240_000);
  let operator: OperatorProcess;
  const ns1 = unique("ws-leak");
  const ns2 = unique("ws-leak");
  const objects: [string, string][] = [[ns1, "alpha"], [ns1, "beta"], [ns2, "gamma"]];
  /** Every password that ever appeared in one of the Secrets. */
  const seen = new Set<string>();
  /** Every login role of the objects above. */
  const roles = new Set<string>();
  /** How often each role's password was set after its creation (regeneration, repair). */
  const changed = new Map<string, number>();

  async function collect(): Promise<void> {
    for (const [ns, name] of objects) {
      for (const suffix of ["rw", "ro"]) {
        const secret = await readSecret(ns, `${name}-${suffix}`);
        if (!secret) continue;
        for (const key of ["password", "PGPASSWORD", "WORKSPACE_DATABASE_PASSWORD"]) {
          if (secret[key]) seen.add(secret[key]);
        }
        if (secret.username) roles.add(secret.username);
      }
    }
  }

  function bump(role: string): void {
    changed.set(role, (changed.get(role) ?? 0) + 1);
  }

  async function waitToken(ns: string, name: string, keys: ("readWrite" | "readOnly")[], token: string): Promise<void> {
    await eventually(`${ns}/${name} handled ${token}`, async () => {
      const obj = await getWorkspace(ns, name);
      return keys.every((k) => obj?.status?.credentials?.[k]?.regenerateToken === token) ? true : undefined;
    }, 30_000);
  }

  async function secretLogsIn(ns: string, secretName: string, not?: string): Promise<Record<string, string>> {
    return eventually(`${ns}/${secretName} logging in`, async () => {
      const s = await readSecret(ns, secretName);
      if (!s || s.password === not) return undefined;
      return (await canLogin(s.uri!)) ? s : undefined;
    }, 20_000);
  }

  before(async function () {
    this.timeout(240_000);
    await setupServer("main");
    await ensureNamespace(ns1);
    await ensureNamespace(ns2);
    operator = startOperator();

    await createWorkspace(ns1, "alpha");
    await createWorkspace(ns1, "beta", {}, { "workspacedb.io/regenerate-rw": "at-creation" });
    await createWorkspace(ns2, "gamma", { deletionPolicy: "Delete" });
    for (const [ns, name] of objects) await waitReady(ns, name);
    await collect();
    const role = async (ns: string, name: string, key: "readWrite" | "readOnly") =>
      (await getWorkspace(ns, name))!.status!.credentials![key]!.username;

    // Regeneration through each annotation.
    await annotateWorkspace(ns1, "alpha", { "workspacedb.io/regenerate-ro": "r1" });
    await annotateWorkspace(ns1, "beta", { "workspacedb.io/regenerate-rw": "r2" });
    await annotateWorkspace(ns2, "gamma", { "workspacedb.io/regenerate": "r3" });
    await waitToken(ns1, "alpha", ["readOnly"], "r1");
    await waitToken(ns1, "beta", ["readWrite"], "r2");
    await waitToken(ns2, "gamma", ["readWrite", "readOnly"], "r3");
    bump(await role(ns1, "alpha", "readOnly"));
    bump(await role(ns1, "beta", "readWrite"));
    bump(await role(ns2, "gamma", "readWrite"));
    bump(await role(ns2, "gamma", "readOnly"));
    await collect();

    // A password edited into a Secret by hand.
    const edited = `Hand${randomBytes(24).toString("hex").replace(/[01]/g, "x")}`;
    seen.add(edited);
    await patchSecretData(ns1, "alpha-rw", { password: edited });
    await eventually("hand-edited password applied", async () => {
      const s = await readSecret(ns1, "alpha-rw");
      return s?.PGPASSWORD === edited && (await canLogin(s.uri!)) ? true : undefined;
    }, 20_000);
    bump(await role(ns1, "alpha", "readWrite"));
    await collect();

    // A deleted Secret, re-created with a new password.
    const betaRo = (await readSecret(ns1, "beta-ro"))!;
    await deleteSecret(ns1, "beta-ro");
    await secretLogsIn(ns1, "beta-ro", betaRo.password);
    bump(betaRo.username!);
    await collect();

    // A role password changed behind the operator's back (as a verifier: the test leaks nothing either).
    const gammaRo = (await readSecret(ns2, "gamma-ro"))!;
    await asSuperuser("postgres", (c) => c.query(`ALTER ROLE "${gammaRo.username}" PASSWORD '${scramSha256Verifier(randomBytes(16).toString("hex"))}'`));
    await eventually("role password reset", async () => ((await canLogin(gammaRo.uri!)) ? true : undefined), 20_000);
    await collect();

    // Deleted with Retain and applied again (new passwords); deleted with Delete.
    await deleteWorkspace(ns1, "alpha");
    await eventually("alpha gone", async () => ((await getWorkspace(ns1, "alpha")) === undefined ? true : undefined));
    await createWorkspace(ns1, "alpha");
    await waitReady(ns1, "alpha");
    await secretLogsIn(ns1, "alpha-rw");
    await secretLogsIn(ns1, "alpha-ro");
    await collect();
    await deleteWorkspace(ns2, "gamma");
    await eventually("gamma gone", async () => ((await getWorkspace(ns2, "gamma")) === undefined ? true : undefined));
    // Let a resync or two run over what is left, so their logging is covered too.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    await collect();
  });
  after(async () => {
    await operator?.stop();
  });

  function leaked(text: string): string[] {
    const found: string[] = [];
    for (const pw of seen) {
      for (const form of [pw, encodeURIComponent(pw), Buffer.from(pw, "utf8").toString("base64")]) {
        if (text.includes(form)) found.push(form === pw ? "<a password>" : "<an encoded password>");
      }
    }
    return found;
  }

  it("collected the passwords of every login along the way", () => {
    // 3 objects × 2 logins at creation, 4 regenerations, 1 hand edit, 1 re-created Secret, 2 after re-apply.
    expect(seen.size).to.be.at.least(14);
    expect(roles.size).to.equal(6);
  });

  it("PostgreSQL's statement log shows SCRAM verifiers, never a password", function () {
    const logFile = getGround().postgres.logFile;
    if (logFile === undefined) this.skip();
    const log = readFileSync(logFile, "utf8");
    for (const role of roles) expect(log, `the log covers ${role}`).to.contain(`"${role}"`);
    expect(leaked(log)).to.deep.equal([]);
    expect(log).to.contain("SCRAM-SHA-256$");

    // Every statement that gave one of these roles a password gave it a verifier.
    const perRole = new Map<string, number>();
    for (const m of log.matchAll(/(CREATE|ALTER) ROLE "([^"]+)" WITH (?:LOGIN )?PASSWORD '([^']*)'/g)) {
      const [, verb, role, value] = m;
      if (!roles.has(role!)) continue;
      expect(value, `${verb} ROLE ${role}`).to.match(SCRAM);
      if (verb === "ALTER") perRole.set(role!, (perRole.get(role!) ?? 0) + 1);
    }
    for (const [role, times] of changed) {
      expect(perRole.get(role) ?? 0, `ALTER ROLE "${role}" … PASSWORD 'SCRAM-SHA-256$…' statements`).to.be.at.least(times);
    }
    // Nothing else carried a password either: no other PASSWORD clause names these roles.
    for (const m of log.matchAll(/ROLE "([^"]+)"[^\n]*PASSWORD\s+'([^']*)'/g)) {
      if (roles.has(m[1]!)) expect(m[2], `password clause for ${m[1]}`).to.match(SCRAM);
    }
  });

  it("the operator's log holds no password", () => {
    const log = operator.log();
    expect(log.length).to.be.greaterThan(0);
    expect(log).to.contain(ns1);
    expect(leaked(log)).to.deep.equal([]);
  });

  it("the operator's /metrics hold no password", async () => {
    const port = await operator.httpPort();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).to.contain("workspacedb_");
    expect(leaked(text)).to.deep.equal([]);
  });

  it("no Event in the namespaces holds a password", async () => {
    const { core } = clients();
    let count = 0;
    for (const ns of [ns1, ns2]) {
      const events = await core.listNamespacedEvent({ namespace: ns });
      count += events.items.length;
      expect(leaked(JSON.stringify(events.items)), `Events in ${ns}`).to.deep.equal([]);
    }
    expect(count).to.be.greaterThan(0);
  });

  it("no WorkspaceDatabase or DatabaseServer (status or otherwise) holds a password", async () => {
    const { custom } = clients();
    for (const ns of [ns1, ns2]) {
      const list: unknown = await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: "workspacedatabases" });
      expect(leaked(JSON.stringify(list)), `WorkspaceDatabases in ${ns}`).to.deep.equal([]);
    }
    const servers: unknown = await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers" });
    expect(leaked(JSON.stringify(servers)), "DatabaseServers").to.deep.equal([]);
    const alpha = await getWorkspace(ns1, "alpha");
    expect(alpha?.status?.credentials?.readWrite?.username).to.be.a("string");
  });
});
