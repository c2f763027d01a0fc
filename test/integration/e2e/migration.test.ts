// End to end: workspaces provisioned by version 0.1 (roles without markers) stay Ready through the upgrade,
// with no password changed and no session ended, and their roles get marked (Event Migrated).
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import type pg from "pg";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { createWorkspace, ensureNamespace, eventually, getWorkspace, listEvents, openSession, readSecret, setupServer, unique, waitEvent, waitReady } from "../support/fixtures.ts";
import { roleSnapshots } from "../support/targets.ts";

/** The last commit of version 0.1: the operator before tenant isolation (it marked databases only). */
const V01_COMMIT = "124f8d40a54108d09cef8d0ccc4244546293ab47";

/** Extracts 0.1's source next to the repository's node_modules and returns the path of its main.ts. */
function checkoutV01(root: string): { script: string; config: string } {
  try {
    execFileSync("git", ["-C", REPO_ROOT, "cat-file", "-e", `${V01_COMMIT}^{commit}`], { stdio: "ignore" });
  } catch {
    throw new Error(`commit ${V01_COMMIT} (version 0.1) is not in this clone's history; the migration test needs a full clone (git fetch --unshallow)`);
  }
  const dir = join(root, "operator-0.1");
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["-C", REPO_ROOT, "archive", "--format=tar", V01_COMMIT, "src", "config", "package.json"]);
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));
  return { script: join(dir, "src", "main.ts"), config: join(dir, "config", "operator.yaml") };
}

async function alive(session: pg.Client): Promise<boolean> {
  return session.query("SELECT 1").then(() => true, () => false);
}

describe("migration from 0.1 (end to end)", function () {
  this.timeout(300_000);
  const ns = unique("ws-mig");
  let operator: OperatorProcess | undefined;
  const sessions: pg.Client[] = [];

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
  });

  after(async () => {
    for (const s of sessions) await s.end().catch(() => undefined);
    await operator?.stop();
  });

  it("keeps every workspace Ready, changes no password, ends no session, and marks the roles", async () => {
    const v01 = checkoutV01(getGround().root);
    const old = startOperator({ WSDB_CONFIG: v01.config, WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${ns}` }, "operator-0.1", v01.script);
    const objects = ["plain", "withext"];
    try {
      await createWorkspace(ns, "plain");
      await createWorkspace(ns, "withext", { extensions: ["pgcrypto"] });
      for (const name of objects) await waitReady(ns, name, 90_000);
    } finally {
      expect(await old.stop(), "0.1 exits cleanly").to.equal(0);
    }

    const secrets: Record<string, Record<string, string>> = {};
    const roles: string[] = [];
    for (const name of objects) {
      for (const suffix of ["rw", "ro"]) {
        const secret = (await readSecret(ns, `${name}-${suffix}`))!;
        secrets[`${name}-${suffix}`] = secret;
        roles.push(secret.username!);
        sessions.push(await openSession(secret.uri!));
      }
    }
    const before = await roleSnapshots(getGround().postgres, roles);
    for (const role of roles) expect(before[role]?.comment, `0.1 left ${role} unmarked`).to.equal(null);
    const generations = Object.fromEntries(await Promise.all(objects.map(async (n) => [n, (await getWorkspace(ns, n))!.metadata.generation] as const)));

    operator = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${ns}` }, "operator-upgraded");
    for (const name of objects) {
      expect((await waitEvent(ns, name, "Migrated", 60_000)).message).to.contain("no password changed");
    }
    const marked = await eventually("roles marked", async () => {
      const now = await roleSnapshots(getGround().postgres, roles);
      return roles.every((r) => now[r]?.comment?.startsWith("workspacedb.io/v2 owner=")) ? now : undefined;
    }, 60_000);
    for (const name of objects) {
      const obj = await waitReady(ns, name, 60_000);
      expect(obj.metadata.generation).to.equal(generations[name]);
      expect(marked[obj.status!.database!]?.comment).to.equal(`workspacedb.io/v2 owner=${ns}/${name} part=read-write`);
      expect(marked[`${obj.status!.database!}_ro`]?.comment).to.equal(`workspacedb.io/v2 owner=${ns}/${name} part=read-only`);
    }
    // No password changed, in PostgreSQL or in the Secrets, and no session ended.
    for (const role of roles) expect(marked[role]?.rolpassword, role).to.equal(before[role]?.rolpassword);
    for (const [key, secret] of Object.entries(secrets)) expect((await readSecret(ns, key))?.password, key).to.equal(secret.password);
    for (const s of sessions) expect(await alive(s)).to.equal(true);
    for (const name of objects) {
      const reasons = (await listEvents(ns, name)).map((e) => e.reason);
      expect(reasons, name).to.not.include.members(["PasswordReset", "PasswordRegenerated"]);
    }
    // 0.1 created extensions in schema public: left there, and said so.
    const note = await eventually("the Ready message reports pgcrypto in public", async () => {
      const message = (await waitReady(ns, "withext")).status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
      return message.includes("pgcrypto (in schema public)") ? message : undefined;
    }, 30_000);
    expect(note).to.contain("ALTER EXTENSION");
  });
});
