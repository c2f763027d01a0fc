import { expect } from "chai";
import { KubeApiError } from "../../../src/kube/errors.ts";
import type { KubeRequester } from "../../../src/kube/rest.ts";
import { PageError, checkName, credentials } from "../../../src/ui/api.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const PASSWORD = "s3cr:t/p@ss w'rd";
const secret = {
  data: Object.fromEntries(Object.entries({
    host: "db.internal", port: "5432", database: "malaria", username: "malaria_ro", password: PASSWORD, sslmode: "require",
    uri: `postgresql://malaria_ro:${encodeURIComponent(PASSWORD)}@db.internal:5432/malaria?sslmode=require`,
    "jdbc-uri": `jdbc:postgresql://db.internal:5432/malaria?sslmode=require&user=malaria_ro&password=${encodeURIComponent(PASSWORD)}`,
    "external-host": "db.example.org", "external-port": "15432",
    "external-uri": `postgresql://malaria_ro:${encodeURIComponent(PASSWORD)}@db.example.org:15432/malaria?sslmode=require`,
  }).map(([k, v]) => [k, b64(v)])),
};
const kube = (answer: unknown): KubeRequester => ({ request: <T>() => (answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer as T)) });

describe("database page API", () => {
  it("masks the password everywhere until revealed, external forms included", async () => {
    const masked = await credentials(kube(secret), "ns", "malaria", "read-only", false);
    const text = JSON.stringify(masked);
    expect(text).to.not.include(PASSWORD).and.not.include(encodeURIComponent(PASSWORD)).and.not.include("s3cr");
    expect(masked.forms.uri).to.equal("postgresql://malaria_ro:••••••••@db.internal:5432/malaria?sslmode=require");
    expect(masked.forms.env).to.include("PGPASSWORD=••••••••");
    expect(masked.external?.forms.uri).to.equal("postgresql://malaria_ro:••••••••@db.example.org:15432/malaria?sslmode=require");
    const shown = await credentials(kube(secret), "ns", "malaria", "read-only", true);
    expect(shown.fields.find((f) => f.key === "password")?.value).to.equal(PASSWORD);
    expect(shown.forms.uri).to.equal(`postgresql://malaria_ro:${encodeURIComponent(PASSWORD)}@db.internal:5432/malaria?sslmode=require`);
    expect(shown.external?.fields.find((f) => f.key === "host")?.value).to.equal("db.example.org");
  });

  it("answers a Secret the user may not read with a sentence and nothing of it", async () => {
    const err = await credentials(kube(new KubeApiError("reading credentials: secrets is forbidden", 403, "Forbidden")), "ns", "malaria", "read-write", true).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PageError);
    expect((err as PageError).status).to.equal(403);
    expect((err as PageError).message).to.equal("Your role does not allow reading the credentials of malaria.");
  });

  it("refuses names that cannot be Kubernetes names before any call", () => {
    expect(() => checkName("namespace", "../secrets")).to.throw(PageError, `"../secrets" is not a valid namespace name`);
    expect(checkName("namespace", "team-a")).to.equal("team-a");
  });
});
