// End to end: regenerating a password through an annotation — once per new value, Secret first,
// old password refused, old sessions ended (unless told not to), an Event that names the login.
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type pg from "pg";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  annotateWorkspace,
  canLogin,
  createWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  listEvents,
  openSession,
  readSecret,
  setupServer,
  unique,
  waitReady,
  withLogin,
  withPassword,
} from "../support/fixtures.ts";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";

/** Longer than one resync of the test operator (10 s), so a pass that would change something has run. */
const MORE_THAN_ONE_RESYNC_MS = 13_000;

type Which = "rw" | "ro";
const STATUS_KEY = { rw: "readWrite", ro: "readOnly" } as const;
const LABEL = { rw: /read\/write|read-write/, ro: /read-only/ } as const;

interface Snapshot {
  obj: WorkspaceDatabase;
  secrets: Record<Which, Record<string, string>>;
}

async function snapshot(ns: string, name: string): Promise<Snapshot> {
  const obj = await waitReady(ns, name);
  const rw = await readSecret(ns, `${name}-rw`);
  const ro = await readSecret(ns, `${name}-ro`);
  expect(rw, "rw Secret").to.not.equal(undefined);
  expect(ro, "ro Secret").to.not.equal(undefined);
  return { obj, secrets: { rw: rw!, ro: ro! } };
}

async function regeneratedEvents(ns: string, name: string): Promise<{ id: string; reason: string; message: string }[]> {
  return (await listEvents(ns, name)).filter((e) => e.reason === "PasswordRegenerated");
}

/** True while the session still answers a query. */
async function alive(session: pg.Client): Promise<boolean> {
  try {
    await session.query("SELECT 1");
    return true;
  } catch {
    return false;
  }
}

describe("password rotation (end to end)", function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  const ns = unique("ws-rot");
  const sessions: pg.Client[] = [];

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
    await createWorkspace(ns, "rot");
    await createWorkspace(ns, "keep", { rotation: { terminateSessions: false } });
    for (const name of ["rot", "keep"]) {
      await waitReady(ns, name);
      const rw = await readSecret(ns, `${name}-rw`);
      await withLogin(rw!.uri!, async (c) => {
        await c.query("CREATE TABLE facts (id int primary key)");
        await c.query("INSERT INTO facts VALUES (1), (2), (3)");
      });
    }
  });
  after(async () => {
    for (const s of sessions) await s.end().catch(() => undefined);
    await operator?.stop();
  });

  async function session(uri: string): Promise<pg.Client> {
    const s = await openSession(uri);
    sessions.push(s);
    expect(await alive(s), "a fresh session answers").to.equal(true);
    return s;
  }

  /**
   * Sets `annotation` to a new value on "rot" and checks that exactly the logins in `rotated` got a
   * new password, with everything the contract promises; then that the same value changes nothing.
   */
  async function regenerates(annotation: string, rotated: Which[]): Promise<void> {
    const name = "rot";
    const kept: Which[] = (["rw", "ro"] as const).filter((w) => !rotated.includes(w));
    const before = await snapshot(ns, name);
    const eventsBefore = await regeneratedEvents(ns, name);
    const oldSessions = new Map<Which, pg.Client>();
    for (const w of ["rw", "ro"] as const) oldSessions.set(w, await session(before.secrets[w].uri!));
    // passwordChangedAt has a resolution of one second: make sure the new one can differ.
    await sleep(1_100);

    const token = `t-${Date.now()}`;
    await annotateWorkspace(ns, name, { [annotation]: token });
    const after = await eventually(`${annotation} handled`, async () => {
      const obj = await getWorkspace(ns, name);
      return rotated.every((w) => obj?.status?.credentials?.[STATUS_KEY[w]]?.regenerateToken === token) ? obj : undefined;
    }, 30_000);

    for (const w of rotated) {
      const secret = (await readSecret(ns, `${name}-${w}`))!;
      const old = before.secrets[w].password!;
      expect(secret.password, `${w} password`).to.not.equal(old);
      expect(secret.password, `${w} password length`).to.have.length(32);
      expect(secret.PGPASSWORD, `${w} PGPASSWORD`).to.equal(secret.password);
      expect(secret.uri, `${w} uri`).to.contain(`:${secret.password}@`);
      expect(await canLogin(secret.uri!), `${w} new password logs in`).to.equal(true);
      expect(await canLogin(withPassword(secret.uri!, old)), `${w} old password refused`).to.equal(false);
      expect(await alive(oldSessions.get(w)!), `${w} session opened with the old password`).to.equal(false);
      const statusBefore = before.obj.status?.credentials?.[STATUS_KEY[w]];
      const statusAfter = after.status?.credentials?.[STATUS_KEY[w]];
      expect(statusAfter?.passwordChangedAt, `${w} passwordChangedAt`).to.be.a("string");
      expect(statusAfter?.passwordChangedAt, `${w} passwordChangedAt moved`).to.not.equal(statusBefore?.passwordChangedAt);
      expect(Date.parse(statusAfter!.passwordChangedAt!)).to.be.greaterThan(Date.parse(statusBefore!.passwordChangedAt!));
    }
    for (const w of kept) {
      const secret = (await readSecret(ns, `${name}-${w}`))!;
      expect(secret, `${w} Secret untouched`).to.deep.equal(before.secrets[w]);
      expect(await canLogin(secret.uri!), `${w} still logs in`).to.equal(true);
      expect(await alive(oldSessions.get(w)!), `${w} session untouched`).to.equal(true);
      expect(after.status?.credentials?.[STATUS_KEY[w]], `${w} status untouched`).to.deep.equal(before.obj.status?.credentials?.[STATUS_KEY[w]]);
    }

    // One Event per regenerated login, naming it, with neither the old nor the new password.
    const events = await eventually("PasswordRegenerated events", async () => {
      const all = await regeneratedEvents(ns, name);
      return all.length >= eventsBefore.length + rotated.length ? all : undefined;
    }, 10_000);
    const fresh = events.filter((e) => !eventsBefore.some((b) => b.id === e.id));
    expect(events).to.have.length(eventsBefore.length + rotated.length);
    for (const w of rotated) {
      expect(fresh.some((e) => LABEL[w].test(e.message)), `an Event names the ${w} login: ${JSON.stringify(fresh)}`).to.equal(true);
    }
    const secretsNow = { rw: (await readSecret(ns, `${name}-rw`))!, ro: (await readSecret(ns, `${name}-ro`))! };
    for (const e of await listEvents(ns, name)) {
      for (const w of ["rw", "ro"] as const) {
        expect(e.message, "Event message").to.not.contain(secretsNow[w].password!);
        expect(e.message, "Event message").to.not.contain(before.secrets[w].password!);
      }
    }

    // The same value again, plus an unrelated annotation change (which does trigger a pass): nothing moves.
    await annotateWorkspace(ns, name, { [annotation]: token, "example.org/touched": token });
    await sleep(MORE_THAN_ONE_RESYNC_MS);
    const later = await snapshot(ns, name);
    expect(later.secrets, "Secrets after re-applying the same value").to.deep.equal(secretsNow);
    expect(later.obj.status?.credentials, "status credentials after re-applying").to.deep.equal(after.status?.credentials);
    expect(await regeneratedEvents(ns, name), "no further PasswordRegenerated").to.have.length(events.length);
    for (const w of ["rw", "ro"] as const) expect(await canLogin(later.secrets[w].uri!), `${w} logs in`).to.equal(true);
  }

  it("regenerate-ro: new read-only password, old one refused, its sessions ended, read/write untouched", async () => {
    await regenerates("workspacedb.io/regenerate-ro", ["ro"]);
  });

  it("regenerate-rw: new read/write password, old one refused, its sessions ended, read-only untouched", async () => {
    await regenerates("workspacedb.io/regenerate-rw", ["rw"]);
  });

  it("regenerate: both passwords at once", async () => {
    await regenerates("workspacedb.io/regenerate", ["rw", "ro"]);
  });

  it("a value removed and set again is not new: nothing is regenerated", async () => {
    const before = await snapshot(ns, "rot");
    const token = before.obj.metadata.annotations?.["workspacedb.io/regenerate-ro"];
    expect(token).to.be.a("string");
    await annotateWorkspace(ns, "rot", { "workspacedb.io/regenerate-ro": null });
    await sleep(2_000);
    await annotateWorkspace(ns, "rot", { "workspacedb.io/regenerate-ro": token! });
    await sleep(MORE_THAN_ONE_RESYNC_MS);
    const after = await snapshot(ns, "rot");
    expect(after.secrets).to.deep.equal(before.secrets);
    expect(after.obj.status?.credentials).to.deep.equal(before.obj.status?.credentials);
  });

  it("a value is remembered while its annotation is absent, even across another regeneration", async () => {
    const start = await snapshot(ns, "rot");
    const token = start.obj.metadata.annotations?.["workspacedb.io/regenerate-ro"];
    expect(token).to.be.a("string");
    await annotateWorkspace(ns, "rot", { "workspacedb.io/regenerate-ro": null });
    await sleep(1_100);
    const both = `both-${Date.now()}`;
    await annotateWorkspace(ns, "rot", { "workspacedb.io/regenerate": both });
    await eventually("regenerate handled", async () => {
      const obj = await getWorkspace(ns, "rot");
      const c = obj?.status?.credentials;
      return c?.readOnly?.regenerateToken === both && c.readWrite?.regenerateToken === both ? obj : undefined;
    }, 30_000);
    const before = await snapshot(ns, "rot");
    expect(before.secrets.ro.password).to.not.equal(start.secrets.ro.password);
    await annotateWorkspace(ns, "rot", { "workspacedb.io/regenerate-ro": token! });
    await sleep(MORE_THAN_ONE_RESYNC_MS);
    const after = await snapshot(ns, "rot");
    expect(after.secrets, "Secrets after restoring an old value").to.deep.equal(before.secrets);
    expect(after.obj.status?.credentials).to.deep.equal(before.obj.status?.credentials);
  });

  it("two regenerations within the same second are both complete: sessions ended, two Events", async () => {
    const name = "rot";
    // passwordChangedAt has a resolution of one second: two regenerations in one second must still
    // each end the sessions of the password they replace. Timing decides whether a try lands in one
    // second, so try a few times; every try checks the full contract.
    let hits = 0;
    for (let attempt = 0; attempt < 6 && hits === 0; attempt++) {
      const eventsBefore = await regeneratedEvents(ns, name);
      await sleep(1_000 - (Date.now() % 1_000) + 10);
      const first = `fast-a-${Date.now()}`;
      await annotateWorkspace(ns, name, { "workspacedb.io/regenerate-ro": first });
      const afterFirst = await eventually("first value handled", async () => {
        const obj = await getWorkspace(ns, name);
        return obj?.status?.credentials?.readOnly?.regenerateToken === first ? obj : undefined;
      }, 20_000, 10);
      const secretA = (await readSecret(ns, `${name}-ro`))!;
      const sessionA = await session(secretA.uri!);
      const second = `fast-b-${Date.now()}`;
      await annotateWorkspace(ns, name, { "workspacedb.io/regenerate-ro": second });
      const afterSecond = await eventually("second value handled", async () => {
        const obj = await getWorkspace(ns, name);
        return obj?.status?.credentials?.readOnly?.regenerateToken === second ? obj : undefined;
      }, 20_000, 10);
      const secretB = (await readSecret(ns, `${name}-ro`))!;
      expect(secretB.password).to.not.equal(secretA.password);
      expect(await canLogin(secretB.uri!), "newest password").to.equal(true);
      expect(await canLogin(secretA.uri!), "password of the first regeneration").to.equal(false);
      expect(await alive(sessionA), "session opened with the first regeneration's password").to.equal(false);
      const events = await eventually("two more PasswordRegenerated events", async () => {
        const all = await regeneratedEvents(ns, name);
        return all.length >= eventsBefore.length + 2 ? all : undefined;
      }, 10_000);
      expect(events).to.have.length(eventsBefore.length + 2);
      const changedAt = (o: WorkspaceDatabase) => o.status?.credentials?.readOnly?.passwordChangedAt;
      if (changedAt(afterFirst) === changedAt(afterSecond)) hits++;
    }
    if (hits === 0) console.log("      (note: no try landed both regenerations in one second)");
  });

  it("spec.rotation.terminateSessions: false keeps old sessions, but the old password cannot log in anew", async () => {
    const before = await snapshot(ns, "keep");
    const old = before.secrets.ro.password!;
    const oldSession = await session(before.secrets.ro.uri!);
    await sleep(1_100);
    const token = `k-${Date.now()}`;
    await annotateWorkspace(ns, "keep", { "workspacedb.io/regenerate-ro": token });
    await eventually("regenerate-ro handled", async () => {
      const obj = await getWorkspace(ns, "keep");
      return obj?.status?.credentials?.readOnly?.regenerateToken === token ? obj : undefined;
    }, 30_000);
    const ro = (await readSecret(ns, "keep-ro"))!;
    expect(ro.password).to.not.equal(old);
    expect(await canLogin(ro.uri!), "new password logs in").to.equal(true);
    expect(await canLogin(withPassword(ro.uri!, old)), "old password refused").to.equal(false);
    expect(await alive(oldSession), "old session kept").to.equal(true);
    const n = await oldSession.query<{ n: string }>("SELECT count(*) AS n FROM facts");
    expect(n.rows[0]?.n).to.equal("3");
    const events = await eventually("PasswordRegenerated event", async () => {
      const all = await regeneratedEvents(ns, "keep");
      return all.length > 0 ? all : undefined;
    }, 10_000);
    for (const e of events) {
      expect(e.message).to.match(LABEL.ro);
      expect(e.message).to.not.contain(ro.password!);
      expect(e.message).to.not.contain(old);
    }
  });
});
