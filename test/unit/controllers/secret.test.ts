// The desired credentials Secret: every key of the contract, URL encoding, external keys, ownership.
import { expect } from "chai";
import { compactSecret, credentialKeys, desiredSecret, jdbcUri, metadataTrimmed, oversizedPassword, postgresUri, secretDiffers, secretName, secretValue } from "../../../src/controllers/secret.ts";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";

const owner: WorkspaceDatabase = {
  apiVersion: "workspacedb.io/v1alpha1",
  kind: "WorkspaceDatabase",
  metadata: { name: "malaria", namespace: "workspace-malaria", uid: "uid-1" },
  spec: {},
};
const endpoint = { host: "pg.db.svc", port: 5432, sslMode: "require" };

describe("credentials Secret", () => {
  it("names the Secrets <name>-rw and <name>-ro", () => {
    expect(secretName("malaria", "read-write")).to.equal("malaria-rw");
    expect(secretName("malaria", "read-only")).to.equal("malaria-ro");
  });

  it("has every key of the contract with consistent values", () => {
    const keys = credentialKeys({ endpoint, database: "malaria", username: "malaria_ro", password: "pw" });
    expect(keys).to.deep.equal({
      host: "pg.db.svc",
      port: "5432",
      database: "malaria",
      username: "malaria_ro",
      password: "pw",
      sslmode: "require",
      uri: "postgresql://malaria_ro:pw@pg.db.svc:5432/malaria?sslmode=require",
      "jdbc-uri": "jdbc:postgresql://pg.db.svc:5432/malaria?sslmode=require&user=malaria_ro&password=pw",
      PGHOST: "pg.db.svc",
      PGPORT: "5432",
      PGDATABASE: "malaria",
      PGUSER: "malaria_ro",
      PGPASSWORD: "pw",
      PGSSLMODE: "require",
      DATABASE_URL: "postgresql://malaria_ro:pw@pg.db.svc:5432/malaria?sslmode=require",
      WORKSPACE_DATABASE_HOST: "pg.db.svc",
      WORKSPACE_DATABASE_PORT: "5432",
      WORKSPACE_DATABASE_DB_NAME: "malaria",
      WORKSPACE_DATABASE_USERNAME: "malaria_ro",
      WORKSPACE_DATABASE_PASSWORD: "pw",
      WORKSPACE_DATABASE_URL: "postgresql://malaria_ro:pw@pg.db.svc:5432/malaria?sslmode=require",
    });
  });

  it("adds the external keys only when the server has an external host", () => {
    const keys = credentialKeys({ endpoint: { ...endpoint, externalHost: "db.example.org", externalPort: 15432 }, database: "d", username: "u", password: "p" });
    expect(keys["external-host"]).to.equal("db.example.org");
    expect(keys["external-port"]).to.equal("15432");
    expect(keys["external-uri"]).to.equal("postgresql://u:p@db.example.org:15432/d?sslmode=require");
    expect(keys["external-jdbc-uri"]).to.equal("jdbc:postgresql://db.example.org:15432/d?sslmode=require&user=u&password=p");
    const defaulted = credentialKeys({ endpoint: { ...endpoint, externalHost: "db.example.org" }, database: "d", username: "u", password: "p" });
    expect(defaulted["external-port"]).to.equal("5432");
  });

  it("carries the server's CA as ca.crt only when its DatabaseServer has one", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    expect(credentialKeys({ endpoint: { ...endpoint, ca }, database: "d", username: "u", password: "p" })["ca.crt"]).to.equal(ca);
    expect(credentialKeys({ endpoint, database: "d", username: "u", password: "p" })).to.not.have.property("ca.crt");
  });

  it("percent-encodes user and password in URIs and brackets IPv6 hosts", () => {
    expect(postgresUri("::1", 5432, "d", "u@x", "p:/?#@%", "disable")).to.equal("postgresql://u%40x:p%3A%2F%3F%23%40%25@[::1]:5432/d?sslmode=disable");
    expect(jdbcUri("10.0.0.1", 5432, "d", "u", "a&b=c", "disable")).to.equal("jdbc:postgresql://10.0.0.1:5432/d?sslmode=disable&user=u&password=a%26b%3Dc");
  });

  it("is controlled by its WorkspaceDatabase, labelled, and keeps labels others added", () => {
    const input = { owner, access: "read-only" as const, endpoint, database: "malaria", username: "malaria_ro", password: "pw", passwordChangedAt: "2026-11-28T10:00:00Z", handled: { own: "t1" } };
    const existing = desiredSecret(input);
    existing.metadata!.labels!.team = "a";
    existing.metadata!.resourceVersion = "42";
    const next = desiredSecret(input, existing);
    expect(next.metadata?.labels).to.deep.equal({
      team: "a",
      "app.kubernetes.io/managed-by": "workspacedb-operator",
      "workspacedb.io/database": "malaria",
      "workspacedb.io/access": "read-only",
    });
    expect(next.metadata?.resourceVersion).to.equal("42");
    expect(next.metadata?.ownerReferences).to.deep.equal([
      { apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", name: "malaria", uid: "uid-1", controller: true, blockOwnerDeletion: true },
    ]);
    expect(next.metadata?.annotations?.["workspacedb.io/regenerate-handled"]).to.equal("t1");
    expect(secretValue(next, "password")).to.equal("pw");
    expect(secretDiffers(existing, next)).to.equal(false);
  });

  it("differs when a derived key was edited, or the password changed", () => {
    const input = { owner, access: "read-write" as const, endpoint, database: "malaria", username: "malaria", password: "pw", passwordChangedAt: "t", handled: {} };
    const desired = desiredSecret(input);
    const edited = structuredClone(desired);
    edited.data!.uri = Buffer.from("postgresql://evil").toString("base64");
    expect(secretDiffers(edited, desired)).to.equal(true);
    expect(secretDiffers(desired, desiredSecret({ ...input, password: "other" }))).to.equal(true);
    const extra = structuredClone(desired);
    extra.data!.EXTRA = "eA==";
    expect(secretDiffers(extra, desired)).to.equal(true);
  });

  describe("compacted for the cache", () => {
    const input = { owner, access: "read-write" as const, endpoint, database: "malaria", username: "malaria", password: "pw", passwordChangedAt: "t", handled: {} };
    const desired = desiredSecret(input);

    it("keeps the password, the user name and the metadata, and folds the other keys into a digest", () => {
      const cached = compactSecret(desired);
      expect(Object.keys(cached.data ?? {}).sort()).to.deep.equal(["#digest", "password", "username"]);
      expect(secretValue(cached, "password")).to.equal("pw");
      expect(secretValue(cached, "username")).to.equal("malaria");
      expect(cached.metadata).to.deep.equal(desired.metadata);
      expect(JSON.stringify(cached).length).to.be.below(JSON.stringify(desired).length / 2);
      expect(compactSecret(cached)).to.equal(cached);
    });

    it("differs exactly when the full Secret would", () => {
      const cached = compactSecret(desired);
      expect(secretDiffers(cached, desired)).to.equal(false);
      expect(secretDiffers(cached, desiredSecret({ ...input, password: "other" }))).to.equal(true);
      expect(secretDiffers(cached, desiredSecret({ ...input, endpoint: { ...endpoint, port: 5433 } }))).to.equal(true);
      expect(secretDiffers(cached, desiredSecret({ ...input, username: "someone" }))).to.equal(true);
      for (const edit of [
        (d: Record<string, string>) => (d.uri = Buffer.from("postgresql://evil").toString("base64")),
        (d: Record<string, string>) => (d.EXTRA = "eA=="),
        (d: Record<string, string>) => delete d.PGHOST,
        // the same bytes moved between two keys
        (d: Record<string, string>) => ([d.PGHOST, d.host] = [`${d.PGHOST}`, `${d.host}x`]),
      ]) {
        const edited = structuredClone(desired);
        edit(edited.data!);
        expect(secretDiffers(compactSecret(edited), desired)).to.equal(true);
      }
    });
  });

  it("does not cache a password too long to apply, only its length", () => {
    const secret = { metadata: { name: "a-rw" }, data: { password: Buffer.from("p".repeat(700_000)).toString("base64"), uri: "dXJp" } };
    expect(oversizedPassword(secret)).to.equal(700_000);
    const cached = compactSecret(secret);
    expect(cached.data?.password).to.equal(undefined);
    expect(JSON.stringify(cached).length).to.be.below(300);
    expect(oversizedPassword(cached)).to.equal(700_000);
    expect(oversizedPassword({ data: { password: Buffer.from("p".repeat(256)).toString("base64") } })).to.equal(undefined);
    expect(oversizedPassword({ data: { password: Buffer.from("é".repeat(129)).toString("base64") } })).to.equal(258);
  });

  it("caches a bounded Secret whatever someone wrote into it: user name, bookkeeping annotations, others' labels and annotations", () => {
    const secret = {
      metadata: {
        name: "a-rw",
        labels: { "app.kubernetes.io/managed-by": "workspacedb-operator", big: "v" },
        annotations: {
          "workspacedb.io/regenerate-handled": "h".repeat(200_000),
          "workspacedb.io/password-changed-at": "c".repeat(100_000),
          "example.org/huge": "x".repeat(200_000),
        },
      },
      data: { password: Buffer.from("p").toString("base64"), username: Buffer.from("u".repeat(1_000_000)).toString("base64") },
    };
    const cached = compactSecret(secret);
    expect(JSON.stringify(cached).length).to.be.below(1_000);
    expect(cached.data?.username).to.equal(undefined);
    expect(cached.metadata?.annotations?.["workspacedb.io/regenerate-handled"]).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(cached.metadata?.annotations?.["workspacedb.io/password-changed-at"]).to.equal(undefined);
    expect(cached.metadata?.annotations?.["example.org/huge"]).to.equal(undefined);
    expect(cached.metadata?.labels).to.deep.equal({ "app.kubernetes.io/managed-by": "workspacedb-operator" });
    expect(metadataTrimmed(cached)).to.equal(true);
    // Others' metadata within the budget stays, and nothing is marked.
    const small = compactSecret({ metadata: { name: "b-rw", labels: { team: "x" }, annotations: { "example.org/a": "b" } }, data: {} });
    expect(small.metadata?.labels).to.deep.equal({ team: "x" });
    expect(metadataTrimmed(small)).to.equal(false);
  });
});
