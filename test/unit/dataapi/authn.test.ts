// Authentication of the data API: front-proxy headers only from the requestheader CA's allowed names.
import { X509Certificate } from "node:crypto";
import { expect } from "chai";
import { authenticate, parseAuthenticationConfig, type AuthenticationConfig } from "../../../src/dataapi/authn.ts";
import { createPki, type KeyPair, type Pki } from "../../support/pki.ts";

describe("data API authentication", function () {
  this.timeout(30_000);
  let pki: Pki;
  let config: AuthenticationConfig;
  let proxy: KeyPair;
  let otherProxy: KeyPair;
  let user: KeyPair;
  let stranger: KeyPair;
  let namesake: KeyPair;

  const chain = (pair: KeyPair): X509Certificate[] => [new X509Certificate(pair.cert)];
  const headers = { "x-remote-user": ["alice"], "x-remote-group": ["team-a", "system:authenticated"], "x-remote-extra-scopes": ["a", "b"], "x-remote-extra-acme.com%2fproject": ["p1"] };

  before(async () => {
    pki = createPki();
    const front = await pki.ca("front-proxy-ca");
    const cluster = await pki.ca("cluster-ca");
    const unrelated = await pki.ca("unrelated-ca");
    proxy = await front.issue({ cn: "front-proxy-client", usage: "client" });
    otherProxy = await front.issue({ cn: "not-the-proxy", usage: "client" });
    user = await cluster.issue({ cn: "bob", o: ["viewers", "people"], usage: "client" });
    stranger = await unrelated.issue({ cn: "front-proxy-client", usage: "client" });
    namesake = await cluster.issue({ cn: "front-proxy-client", usage: "client" });
    config = parseAuthenticationConfig({
      "requestheader-client-ca-file": front.cert,
      "requestheader-allowed-names": '["front-proxy-client"]',
      "requestheader-username-headers": '["X-Remote-User"]',
      "requestheader-group-headers": '["X-Remote-Group"]',
      "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
      "client-ca-file": cluster.cert,
    });
  });
  after(() => pki.dispose());

  it("takes user, groups and extra from the headers of the allowed front proxy", () => {
    const result = authenticate(chain(proxy), headers, config);
    expect(result).to.deep.equal({
      ok: true,
      via: "front-proxy",
      user: { name: "alice", groups: ["team-a", "system:authenticated"], extra: { scopes: ["a", "b"], "acme.com/project": ["p1"] } },
    });
  });

  it("refuses a requestheader certificate whose name is not allowed, whatever its headers say", () => {
    expect(authenticate(chain(otherProxy), headers, config)).to.deep.include({ ok: false });
  });

  it("refuses a certificate of another CA with the proxy's name, and a request without a certificate", () => {
    expect(authenticate(chain(stranger), headers, config)).to.deep.include({ ok: false });
    expect(authenticate(undefined, headers, config)).to.deep.include({ ok: false });
    expect(authenticate([], headers, config)).to.deep.include({ ok: false });
  });

  it("authenticates a user's own client certificate as that user and ignores its identity headers", () => {
    const result = authenticate(chain(user), { "x-remote-user": ["admin"], "x-remote-group": ["system:masters"] }, config);
    expect(result).to.deep.equal({ ok: true, via: "client-certificate", user: { name: "bob", groups: ["viewers", "people", "system:authenticated"], extra: {} } });
  });

  it("gives a user named like the front proxy no power over the headers", () => {
    expect(authenticate(chain(namesake), headers, config)).to.deep.equal({ ok: true, via: "client-certificate", user: { name: "front-proxy-client", groups: ["system:authenticated"], extra: {} } });
  });

  it("takes any extra key literally, and percent-decodes it after lower-casing, as kube-apiserver does", () => {
    const result = authenticate(chain(proxy), { "x-remote-user": ["alice"], "x-remote-extra-__proto__": ["p"], "x-remote-extra-constructor": ["c"], "x-remote-extra-%41b": ["v"] }, config);
    expect(result.ok && Object.entries(result.user.extra).sort()).to.deep.equal([["Ab", ["v"]], ["__proto__", ["p"]], ["constructor", ["c"]]]);
  });

  it("refuses a front proxy request without a user name", () => {
    expect(authenticate(chain(proxy), { "x-remote-group": ["g"] }, config)).to.deep.include({ ok: false });
  });

  it("trusts any name of the requestheader CA when no names are configured", () => {
    const open = { ...config, allowedNames: [] };
    expect(authenticate(chain(otherProxy), headers, open)).to.deep.include({ ok: true, via: "front-proxy" });
  });

  it("trusts nobody when the ConfigMap is empty", () => {
    const empty = parseAuthenticationConfig({});
    expect(authenticate(chain(proxy), headers, empty)).to.deep.include({ ok: false });
    expect(authenticate(chain(user), headers, empty)).to.deep.include({ ok: false });
  });
});
