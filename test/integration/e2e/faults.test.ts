// End to end: regeneration with the connection limit full or an extension failing, a server that asks for a
// cleartext or MD5 password (nothing is sent), and hand-set Unicode passwords that libpq (psql) accepts.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect } from "chai";
import type pg from "pg";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  annotateWorkspace,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  getDatabaseServer,
  ensureNamespace,
  eventually,
  listEvents,
  loginFailure,
  openSession,
  patchSecretData,
  readSecret,
  setupServer,
  unique,
  waitEvent,
  waitGone,
  waitReady,
  waitReason,
} from "../support/fixtures.ts";
import { RecordingProxy } from "../support/proxy.ts";
import { registerServer } from "../support/targets.ts";

const run = promisify(execFile);
const PSQL = "/usr/bin/psql";

describe("faults (end to end)", function () {
  this.timeout(240_000);
  let operator: OperatorProcess;
  const ns = unique("ws-fault");

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${ns}` }, "faults");
  });

  after(async () => {
    // Leave nothing failing behind for later tests that count writes in steady state.
    for (const name of ["full", "badext", "unicode"]) await deleteWorkspace(ns, name);
    for (const name of ["full", "badext", "unicode"]) await waitGone(ns, name, 60_000).catch(() => undefined);
    await operator?.stop();
  });

  it("refuses the old password within 5 s after regeneration while the old password fills the connection limit", async () => {
    await createWorkspace(ns, "full", { connectionLimit: 3 });
    await waitReady(ns, "full");
    const old = (await readSecret(ns, "full-rw"))!;
    const sessions: pg.Client[] = [];
    try {
      for (let i = 0; i < 3; i++) sessions.push(await openSession(old.uri!));
      expect(await loginFailure(old.uri!), "the limit is full").to.equal("53300");
      const started = Date.now();
      await annotateWorkspace(ns, "full", { "workspacedb.io/regenerate-rw": "leaked-1" });
      const code = await eventually("the old password refused", async () => {
        const failure = await loginFailure(old.uri!);
        return failure === "28P01" ? failure : undefined;
      }, 5_000, 100);
      const took = Date.now() - started;
      process.stderr.write(`      old password refused ${took} ms after the annotation, with the limit full\n`);
      expect(code).to.equal("28P01");
      expect(took).to.be.below(5_000);
    } finally {
      for (const s of sessions) await s.end().catch(() => undefined);
    }
    const fresh = await eventually("the new Secret", async () => {
      const s = await readSecret(ns, "full-rw");
      return s?.password !== old.password ? s : undefined;
    });
    expect(await eventually("the new password logs in", async () => ((await loginFailure(fresh.uri!)) === undefined ? true : undefined))).to.equal(true);
  });

  it("regenerates even while an extension keeps failing the rest of the pass", async () => {
    await createWorkspace(ns, "badext", { extensions: ["no_such_extension"] });
    await waitReason(ns, "badext", "InvalidSpec", 60_000);
    const old = await eventually("the Secret", () => readSecret(ns, "badext-ro"));
    expect(await loginFailure(old.uri!)).to.equal(undefined);
    await annotateWorkspace(ns, "badext", { "workspacedb.io/regenerate-ro": "leaked-1" });
    await eventually("the old password refused", async () => ((await loginFailure(old.uri!)) === "28P01" ? true : undefined), 10_000, 100);
    const fresh = (await readSecret(ns, "badext-ro"))!;
    expect(fresh.password).to.not.equal(old.password);
    expect(await loginFailure(fresh.uri!)).to.equal(undefined);
    expect((await waitEvent(ns, "badext", "PasswordRegenerated")).message).to.contain("read-only");
  });

  describe("a server that asks for a cleartext or MD5 password", () => {
    let proxy: RecordingProxy;
    let hbaFile: string;
    let original = "";
    const server = `hba-${ns}`;

    before(async function () {
      const p = getGround().postgres;
      if (p.hbaFile === undefined) this.skip();
      hbaFile = p.hbaFile;
      original = readFileSync(hbaFile, "utf8");
      proxy = new RecordingProxy(p.host, p.port);
      await proxy.listen();
      await registerServer(server, p, { port: proxy.port });
    });

    after(async () => {
      if (hbaFile !== undefined && original !== "") {
        writeFileSync(hbaFile, original);
        await getGround().postgres.reload();
      }
      // Deleted while its server (the proxy) is still there.
      await deleteWorkspace(ns, "hba-password");
      await waitGone(ns, "hba-password", 60_000).catch(() => undefined);
      await deleteDatabaseServer(server);
      await eventually("the proxy's DatabaseServer is gone", async () => ((await getDatabaseServer(server)) === undefined ? true : undefined), 30_000).catch(() => undefined);
      await proxy?.close();
    });

    // (pg_hba's md5 method still uses SCRAM for a SCRAM verifier, so only a fake server can ask for MD5: see the unit tests.)
    for (const method of ["password"] as const) {
      it(`gets no password when pg_hba asks for ${method}: InsecureAuthentication, and Ready again once it asks for SCRAM`, async () => {
        const name = `hba-${method}`;
        await createWorkspace(ns, name, { serverRef: { name: server } });
        await waitReady(ns, name);
        const rw = (await readSecret(ns, `${name}-rw`))!;
        const before = proxy.connections.length;
        writeFileSync(hbaFile, `host all "${rw.username}" 127.0.0.1/32 ${method}\n${original}`);
        await getGround().postgres.reload();

        await annotateWorkspace(ns, name, { "example.org/poke": "1" });
        const obj = await waitReason(ns, name, "InsecureAuthentication", 60_000);
        const message = obj.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
        expect(message).to.contain("cleartext");
        expect(message).to.contain("scram-sha-256");
        const probes = proxy.messagesOf(rw.username!, before);
        expect(proxy.connections.length).to.be.above(before);
        expect(probes.length, "the operator tried to log in as the read/write login").to.be.above(0);
        for (const types of probes) expect(types, "no PasswordMessage ('p') on any connection of the login").to.not.include("p");
        expect(proxy.everything(before).includes(Buffer.from(rw.password!, "utf8")), "the password never crossed the wire").to.equal(false);

        writeFileSync(hbaFile, original);
        await getGround().postgres.reload();
        await annotateWorkspace(ns, name, { "example.org/poke": "2" });
        await waitReady(ns, name, 60_000);
      });
    }
  });

  it("gives hand-set Unicode passwords the verifier libpq computes: psql logs in, and nothing flaps", async function () {
    if (!existsSync(PSQL)) this.skip();
    await createWorkspace(ns, "unicode");
    await waitReady(ns, "unicode");
    const vectors = {
      emoji: "Fiesta-🎉-Pässwort-1",
      "no-break space": "correct\u00A0horse\u00A0battery",
      ligature: "ﬁnance-ﬂow-Ⅸ-2026",
      "right-to-left + Latin": "שלום-salaam-مرحبا-1",
    };
    let resets = 0;
    for (const [what, password] of Object.entries(vectors)) {
      await patchSecretData(ns, "unicode-rw", { password });
      resets++;
      await eventually(`PasswordReset for the ${what} password`, async () => {
        const n = (await listEvents(ns, "unicode")).filter((e) => e.reason === "PasswordReset").length;
        return n >= resets ? n : undefined;
      }, 60_000);
      const secret = (await readSecret(ns, "unicode-rw"))!;
      const { host, port } = getGround().postgres;
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
      const { stdout } = await run(PSQL, ["-X", "-A", "-t", "-w", "-h", host, "-p", String(port), "-d", secret.database!, "-U", secret.username!, "-c", "select 1"], {
        env: { ...env, PGPASSWORD: password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "10" },
        timeout: 30_000,
      });
      expect(stdout.trim(), what).to.equal("1");
    }
    // One more resync: the operator's own SCRAM check accepts what it set (a wrong SASLprep would reset every pass).
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    expect((await listEvents(ns, "unicode")).filter((e) => e.reason === "PasswordReset")).to.have.length(resets);
  });
});
