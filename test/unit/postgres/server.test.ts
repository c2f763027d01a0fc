// Unit tests of the sslmode mapping and of settings parsing (no server needed).
import { expect } from "chai";
import { parseSettings } from "../../../src/postgres/inspect.ts";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import { ServerConnection, sslOption } from "../../../src/postgres/server.ts";

describe("postgres/server sslOption", () => {
  it("maps libpq sslmodes to pg's ssl option", () => {
    expect(sslOption("disable")).to.equal(false);
    expect(sslOption("allow")).to.equal(false);
    expect(sslOption("prefer")).to.deep.equal({ rejectUnauthorized: false });
    expect(sslOption("require")).to.deep.equal({ rejectUnauthorized: false });
    expect(sslOption("verify-full")).to.equal(true);
    expect(sslOption("verify-full", "PEM")).to.deep.equal({ rejectUnauthorized: true, ca: "PEM" });
    const verifyCa = sslOption("verify-ca", "PEM");
    expect(verifyCa).to.include({ rejectUnauthorized: true, ca: "PEM" });
    expect(typeof verifyCa === "object" && verifyCa.checkServerIdentity?.("host", {} as never)).to.equal(undefined);
  });

  it("rejects unknown modes", () => {
    expect(() => sslOption("sometimes")).to.throw(/sslMode/);
  });

  it("makes ServerConnection.open fail with InvalidSpec for an unknown mode, before connecting", async () => {
    const endpoint = { host: "127.0.0.1", port: 1, sslMode: "sometimes", maintenanceDatabase: "postgres", user: "u", password: "Secret-Pass-123" };
    const err = await ServerConnection.open(endpoint).then(() => undefined, (e: unknown) => e as PostgresError);
    expect(err?.kind).to.equal("InvalidSpec");
    expect(err?.message).to.not.include("Secret-Pass-123");
  });
});

describe("postgres/inspect parseSettings", () => {
  it("splits name=value at the first =", () => {
    expect(parseSettings(["statement_timeout=90min", "search_path=a, b", "x=y=z", "bad"])).to.deep.equal({
      statement_timeout: "90min",
      search_path: "a, b",
      x: "y=z",
    });
  });
});
