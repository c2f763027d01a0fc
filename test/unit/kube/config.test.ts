// The kubeconfig loader: default order, kubectl's merge rules, relative paths, every auth kind, in-cluster, errors.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { KubeConfigError, TOKEN_FILE_REREAD_MS, loadInCluster, loadKubeConfig, loadKubeConfigFiles, type LoadOptions } from "../../../src/kube/config.ts";

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";
const SECRET_TOKEN = "s3cr3t-t0ken-value";

interface Kc {
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: Record<string, unknown> }>;
  "current-context"?: string;
}

/** A kubeconfig with one cluster, user and context named `name`. */
function single(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): Kc {
  return {
    clusters: [{ name, cluster: { server: `https://${name}.example:6443`, ...cluster } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name, ...extra } }],
    "current-context": name,
  };
}

/** Expects `fn` to throw a KubeConfigError whose message matches `pattern` and never shows `SECRET_TOKEN`. */
function configError(fn: () => unknown, pattern: RegExp): KubeConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "an error").to.be.instanceOf(KubeConfigError);
  const err = caught as KubeConfigError;
  expect(err.message).to.match(pattern);
  expect(err.message).to.not.include(SECRET_TOKEN);
  return err;
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, "a rejection").to.be.instanceOf(Error);
  const err = caught as Error;
  expect(err.message).to.match(pattern);
  expect(err.message).to.not.include(SECRET_TOKEN);
  return err;
}

describe("kubeconfig loader", () => {
  let dir: string;
  const write = (rel: string, content: string | Kc, mode = 0o600): string => {
    const file = join(dir, rel);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, typeof content === "string" ? content : stringify(content), { mode });
    return file;
  };
  const none: LoadOptions = { env: {}, homeDir: "/nonexistent-home", serviceAccountDir: "/nonexistent-sa" };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "wsdb-kubeconfig-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("where it looks", () => {
    it("takes KUBECONFIG first, then ~/.kube/config, then the in-cluster service account", () => {
      const fromEnv = write("env.yaml", single("env", { "insecure-skip-tls-verify": true }, { token: "t" }));
      write("home/.kube/config", single("home", { "insecure-skip-tls-verify": true }, { token: "t" }));
      const sa = join(dir, "sa");
      write("sa/token", "sa-token\n");
      write("sa/ca.crt", CA);
      const inCluster = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
      const home = join(dir, "home");
      expect(loadKubeConfig({ env: { KUBECONFIG: fromEnv, ...inCluster }, homeDir: home, serviceAccountDir: sa }).server).to.equal("https://env.example:6443");
      expect(loadKubeConfig({ env: { ...inCluster }, homeDir: home, serviceAccountDir: sa }).server).to.equal("https://home.example:6443");
      const pod = loadKubeConfig({ env: { ...inCluster }, homeDir: join(dir, "nohome"), serviceAccountDir: sa });
      expect(pod.server).to.equal("https://10.0.0.1:443");
      expect(pod.source).to.include("in-cluster");
    });

    it("says where it looked when nothing is there", () => {
      configError(() => loadKubeConfig(none), /no kubeconfig: KUBECONFIG is not set, \/nonexistent-home\/\.kube\/config does not exist, and KUBERNETES_SERVICE_HOST is not set/);
      configError(() => loadKubeConfig({ ...none, env: { KUBECONFIG: `${dir}/a:${dir}/b` } }), /none of the files in KUBECONFIG exists: .*\/a, .*\/b/);
    });
  });

  describe("merging KUBECONFIG files as kubectl", () => {
    it("lets the first file that defines a name win and takes current-context from the first file that sets it", () => {
      const a = write("a.yaml", {
        clusters: [{ name: "shared", cluster: { server: "https://from-a:1" } }],
        users: [{ name: "u", user: { token: "token-a" } }],
        contexts: [{ name: "ctx", context: { cluster: "shared", user: "u", namespace: "ns-a" } }],
      });
      const b = write("b.yaml", {
        clusters: [{ name: "shared", cluster: { server: "https://from-b:2" } }, { name: "only-b", cluster: { server: "https://only-b:3" } }],
        users: [{ name: "u", user: { token: "token-b" } }],
        contexts: [{ name: "ctx", context: { cluster: "only-b", user: "u" } }, { name: "b-ctx", context: { cluster: "only-b", user: "u" } }],
        "current-context": "ctx",
      });
      const c = write("c.yaml", { "current-context": "b-ctx" });
      const kc = loadKubeConfig({ ...none, env: { KUBECONFIG: [a, join(dir, "missing.yaml"), "", b, c].join(":") } });
      expect(kc.server).to.equal("https://from-a:1"); // context "ctx" and cluster "shared" of a
      expect(kc.namespace).to.equal("ns-a");
      expect(kc.source).to.include(a).and.include(b).and.include('context "ctx"');
      return kc.auth.credentials().then((creds) => expect(creds.token).to.equal("token-a"));
    });

    it("uses the context it is asked for instead of current-context (kubectl --context)", () => {
      const file = write("two.yaml", {
        clusters: [{ name: "a", cluster: { server: "https://a:1" } }, { name: "b", cluster: { server: "https://b:2" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "ctx-a", context: { cluster: "a", user: "u" } }, { name: "ctx-b", context: { cluster: "b", user: "u", namespace: "team-b" } }],
        "current-context": "ctx-a",
      });
      expect(loadKubeConfigFiles([file]).server).to.equal("https://a:1");
      const chosen = loadKubeConfigFiles([file], { context: "ctx-b" });
      expect(chosen).to.include({ server: "https://b:2", namespace: "team-b" });
      expect(loadKubeConfig({ ...none, env: { KUBECONFIG: file }, context: "ctx-b" }).server).to.equal("https://b:2");
      configError(() => loadKubeConfigFiles([file], { context: "nope" }), /context "nope" is not defined in .*two\.yaml/);
    });

    it("names the files when the current context or its cluster is not defined", () => {
      const a = write("a.yaml", { contexts: [{ name: "ctx", context: { cluster: "nowhere", user: "nobody" } }], "current-context": "ctx" });
      const b = write("b.yaml", { users: [{ name: "nobody", user: {} }], "current-context": "other" });
      configError(() => loadKubeConfigFiles([a, b]), /a\.yaml: context "ctx" names cluster "nowhere", which is not defined in the KUBECONFIG files .*a\.yaml, .*b\.yaml/);
      configError(() => loadKubeConfigFiles([b]), /b\.yaml: current-context "other" is not a context defined in .*b\.yaml/);
      configError(() => loadKubeConfigFiles([write("empty.yaml", "")]), /empty\.yaml: no current-context is set/);
    });
  });

  describe("clusters", () => {
    it("reads server, CA data, insecure-skip-tls-verify and tls-server-name", () => {
      const kc = loadKubeConfigFiles([write("k.yaml", single("c", {
        server: "https://10.1.2.3:6443/",
        "certificate-authority-data": b64(CA),
        "insecure-skip-tls-verify": false,
        "tls-server-name": "kubernetes.default",
      }, {}))]);
      expect(kc.server).to.equal("https://10.1.2.3:6443");
      expect(kc.ca).to.equal(CA);
      expect(kc.insecureSkipTlsVerify).to.equal(false);
      expect(kc.tlsServerName).to.equal("kubernetes.default");
      const insecure = loadKubeConfigFiles([write("i.yaml", single("i", { "insecure-skip-tls-verify": true }, {}))]);
      expect(insecure.insecureSkipTlsVerify).to.equal(true);
      expect(insecure.ca).to.equal(undefined);
    });

    it("resolves relative file paths against the directory of the kubeconfig that names them", async () => {
      write("conf/pki/ca.crt", CA);
      write("conf/pki/client.crt", CERT);
      write("conf/pki/client.key", KEY);
      write("conf/token", "file-token\n");
      const kc = loadKubeConfigFiles([write("conf/kubeconfig", single("c", { "certificate-authority": "pki/ca.crt" },
        { "client-certificate": "pki/client.crt", "client-key": "./pki/client.key", tokenFile: "token" }))]);
      expect(kc.ca).to.equal(CA);
      const creds = await kc.auth.credentials();
      expect(creds).to.deep.equal({ cert: CERT, key: KEY, token: "file-token" });
    });

    it("refuses proxy-url, a server that is not a URL, and unreadable or malformed CA data, naming file and cluster", () => {
      configError(() => loadKubeConfigFiles([write("p.yaml", single("p", { "proxy-url": "http://proxy:3128" }, {}))]), /p\.yaml: cluster "p" sets proxy-url: HTTP proxies are not supported/);
      configError(() => loadKubeConfigFiles([write("s.yaml", single("s", { server: "not a url" }, {}))]), /s\.yaml: cluster "s": server "not a url" is not a URL/);
      configError(() => loadKubeConfigFiles([write("n.yaml", single("n", { server: "" }, {}))]), /n\.yaml: cluster "n" has no server/);
      configError(() => loadKubeConfigFiles([write("f.yaml", single("f", { "certificate-authority": "missing/ca.crt" }, {}))]),
        /f\.yaml: cluster "f": cannot read certificate-authority .*missing\/ca\.crt: ENOENT/);
      configError(() => loadKubeConfigFiles([write("d.yaml", single("d", { "certificate-authority-data": "%%% not base64" }, {}))]),
        /d\.yaml: cluster "d": certificate-authority-data is not base64/);
    });
  });

  describe("users", () => {
    it("uses a token, or username and password", async () => {
      const token = loadKubeConfigFiles([write("t.yaml", single("t", {}, { token: "abc" }))]);
      expect(await token.auth.credentials()).to.deep.equal({ token: "abc" });
      const basic = loadKubeConfigFiles([write("b.yaml", single("b", {}, { username: "admin", password: "pw" }))]);
      expect(await basic.auth.credentials()).to.deep.equal({ basic: { username: "admin", password: "pw" } });
      const anonymous = loadKubeConfigFiles([write("a.yaml", { ...single("a", {}, {}), contexts: [{ name: "a", context: { cluster: "a" } }] })]);
      expect(await anonymous.auth.credentials()).to.deep.equal({});
    });

    it("uses client-certificate-data and client-key-data", async () => {
      const kc = loadKubeConfigFiles([write("c.yaml", single("c", {}, { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) }))]);
      expect(await kc.auth.credentials()).to.deep.equal({ cert: CERT, key: KEY });
      configError(() => loadKubeConfigFiles([write("half.yaml", single("h", {}, { "client-certificate-data": b64(CERT) }))]),
        /half\.yaml: user "h" has a client certificate without its key/);
    });

    it("re-reads a tokenFile at most once a minute, and at once after the server refused its token", async () => {
      let now = 1_000_000;
      const tokenFile = write("token", "one\n");
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", {}, { tokenFile }))], { now: () => now });
      expect((await kc.auth.credentials()).token).to.equal("one");
      writeFileSync(tokenFile, "two\n");
      now += TOKEN_FILE_REREAD_MS - 1;
      expect((await kc.auth.credentials()).token).to.equal("one");
      now += 1;
      expect((await kc.auth.credentials()).token).to.equal("two");
      writeFileSync(tokenFile, "three");
      kc.auth.invalidate({ token: "stale" }); // not the token in use: nothing to forget
      expect((await kc.auth.credentials()).token).to.equal("two");
      kc.auth.invalidate({ token: "two" });
      expect((await kc.auth.credentials()).token).to.equal("three");
      // Missing for a moment (being rotated): the last token read is kept.
      rmSync(tokenFile);
      now += TOKEN_FILE_REREAD_MS;
      expect((await kc.auth.credentials()).token).to.equal("three");
    });

    it("fails clearly when a tokenFile cannot be read at all", async () => {
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", {}, { tokenFile: "absent-token" }))]);
      await rejects(kc.auth.credentials(), /k\.yaml: user "k": cannot read the token file .*absent-token: ENOENT/);
    });

    it("refuses auth-provider with a clear message, and both a token and a password", () => {
      configError(() => loadKubeConfigFiles([write("g.yaml", single("g", {}, { "auth-provider": { name: "gcp", config: { "access-token": SECRET_TOKEN } } }))]),
        /g\.yaml: user "g" uses auth-provider \(gcp\), which is not supported: use an exec credential plugin/);
      configError(() => loadKubeConfigFiles([write("tb.yaml", single("tb", {}, { token: SECRET_TOKEN, username: "a", password: "b" }))]),
        /tb\.yaml: user "tb" sets both username\/password and a token/);
    });

    it("reports invalid YAML by line without echoing the text", () => {
      const file = write("bad.yaml", `users:\n- name: a\n  user:\n    token: ${SECRET_TOKEN}\n   broken: x\n`);
      configError(() => loadKubeConfigFiles([file]), /bad\.yaml: not valid YAML \(line \d+: /);
      configError(() => loadKubeConfigFiles([write("list.yaml", "- a\n- b\n")]), /list\.yaml: not a kubeconfig/);
      configError(() => loadKubeConfigFiles([write("noname.yaml", { clusters: [{ name: "", cluster: {} }] })]), /noname\.yaml: clusters\[0\] has no name/);
    });
  });

  describe("exec credential plugins", () => {
    /** A plugin script that records its args, env and KUBERNETES_EXEC_INFO and prints out.json (@N@: its run count). */
    const plugin = (answer: Record<string, unknown>): string => {
      write("plugin/out.json", JSON.stringify(answer));
      return write("plugin/get-token.sh", [
        "#!/bin/sh",
        'd=$(dirname "$0")',
        'n=$(cat "$d/count" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$d/count"',
        'printf "%s" "$KUBERNETES_EXEC_INFO" > "$d/info.json"',
        'printf "%s\\n" "$@" > "$d/args"',
        'printf "%s" "$PLUGIN_FLAVOUR" > "$d/env"',
        'sed "s/@N@/$n/g" "$d/out.json"',
        "",
      ].join("\n"), 0o755);
    };
    const runs = (): number => Number(readFileSync(join(dir, "plugin/count"), "utf8"));
    const execUser = (exec: Record<string, unknown>): Record<string, unknown> => ({
      exec: { apiVersion: "client.authentication.k8s.io/v1", command: "./plugin/get-token.sh", interactiveMode: "Never", ...exec },
    });

    it("runs the command (relative to the kubeconfig) with args, env and KUBERNETES_EXEC_INFO, and caches the token until it expires", async () => {
      let now = Date.parse("2030-01-01T00:00:00Z");
      plugin({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: "exec-token-@N@", expirationTimestamp: "2030-01-01T00:10:00Z" } });
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", { "certificate-authority-data": b64(CA), "tls-server-name": "api.internal" },
        execUser({ args: ["--cluster", "blue"], env: [{ name: "PLUGIN_FLAVOUR", value: "vanilla" }], provideClusterInfo: true })))], { now: () => now });
      expect((await kc.auth.credentials()).token).to.equal("exec-token-1");
      expect(readFileSync(join(dir, "plugin/args"), "utf8")).to.equal("--cluster\nblue\n");
      expect(readFileSync(join(dir, "plugin/env"), "utf8")).to.equal("vanilla");
      const info = JSON.parse(readFileSync(join(dir, "plugin/info.json"), "utf8")) as { apiVersion: string; kind: string; spec: { interactive: boolean; cluster: Record<string, unknown> } };
      expect(info.apiVersion).to.equal("client.authentication.k8s.io/v1");
      expect(info.kind).to.equal("ExecCredential");
      expect(info.spec.interactive).to.equal(false);
      expect(info.spec.cluster).to.deep.include({ server: "https://k.example:6443", "tls-server-name": "api.internal", "certificate-authority-data": b64(CA) });

      now += 9 * 60_000;
      const [a, b] = await Promise.all([kc.auth.credentials(), kc.auth.credentials()]);
      expect([a.token, b.token, runs()]).to.deep.equal(["exec-token-1", "exec-token-1", 1]);
      now += 60_000; // expired
      const [c, d] = await Promise.all([kc.auth.credentials(), kc.auth.credentials()]);
      expect([c.token, d.token, runs()]).to.deep.equal(["exec-token-2", "exec-token-2", 2]); // one run for both
    });

    it("runs it again after the server refused its token (401), even before expiry", async () => {
      plugin({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: "t@N@" } });
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", {}, execUser({ apiVersion: "client.authentication.k8s.io/v1beta1" })))]);
      expect((await kc.auth.credentials()).token).to.equal("t1");
      expect((await kc.auth.credentials()).token).to.equal("t1");
      kc.auth.invalidate({ token: "t1" });
      expect((await kc.auth.credentials()).token).to.equal("t2");
      expect(runs()).to.equal(2);
    });

    it("takes a client certificate and key from the plugin", async () => {
      plugin({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { clientCertificateData: CERT, clientKeyData: KEY } });
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", {}, execUser({})))]);
      expect(await kc.auth.credentials()).to.deep.equal({ cert: CERT, key: KEY });
    });

    it("reports a failing plugin with its stderr, never its stdout", async () => {
      write("plugin/fail.sh", `#!/bin/sh\necho '{"status":{"token":"${SECRET_TOKEN}"}}'\necho "you are not logged in: run sso-login" >&2\nexit 3\n`, 0o755);
      const kc = loadKubeConfigFiles([write("k.yaml", single("k", {}, execUser({ command: "./plugin/fail.sh" })))]);
      await rejects(kc.auth.credentials(), /k\.yaml: user "k": exec plugin .*fail\.sh failed \(exit code 3\): you are not logged in: run sso-login/);
    });

    it("reports a missing command with its install hint, and answers that are not an ExecCredential of its version", async () => {
      const missing = loadKubeConfigFiles([write("m.yaml", single("m", {}, execUser({ command: "wsdb-no-such-plugin", installHint: "install it from example.com" })))]);
      await rejects(missing.auth.credentials(), /exec plugin wsdb-no-such-plugin could not be run: ENOENT \(install it from example\.com\)/);
      plugin({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: SECRET_TOKEN } });
      const wrong = loadKubeConfigFiles([write("w.yaml", single("w", {}, execUser({})))]);
      await rejects(wrong.auth.credentials(), /answered apiVersion "client\.authentication\.k8s\.io\/v1beta1", expected "client\.authentication\.k8s\.io\/v1"/);
      plugin({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: {} });
      await rejects(loadKubeConfigFiles([write("e.yaml", single("e", {}, execUser({})))]).auth.credentials(), /neither a token nor a client certificate/);
    });

    it("refuses an unsupported apiVersion and interactiveMode Always when loading", () => {
      configError(() => loadKubeConfigFiles([write("a.yaml", single("a", {}, execUser({ apiVersion: "client.authentication.k8s.io/v1alpha1" })))]),
        /a\.yaml: user "a": exec: apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported/);
      configError(() => loadKubeConfigFiles([write("i.yaml", single("i", {}, execUser({ interactiveMode: "Always" })))]), /interactiveMode Always needs a terminal/);
    });
  });

  describe("in-cluster", () => {
    it("uses KUBERNETES_SERVICE_HOST/PORT with the mounted token, CA and namespace, and re-reads the rotating token", async () => {
      let now = 5_000_000;
      write("sa/token", "sa-1");
      write("sa/ca.crt", CA);
      write("sa/namespace", "workspacedb-system\n");
      const kc = loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir: join(dir, "sa"), now: () => now });
      expect(kc.server).to.equal("https://[fd00::1]:443");
      expect(kc.ca).to.equal(CA);
      expect(kc.namespace).to.equal("workspacedb-system");
      expect(await kc.auth.credentials()).to.deep.equal({ token: "sa-1" });
      writeFileSync(join(dir, "sa/token"), "sa-2");
      expect((await kc.auth.credentials()).token).to.equal("sa-1");
      now += TOKEN_FILE_REREAD_MS;
      expect((await kc.auth.credentials()).token).to.equal("sa-2");
    });

    it("explains what is missing", () => {
      configError(() => loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" }, serviceAccountDir: dir }), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set/);
      configError(() => loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir: dir }), /token does not exist/);
      write("token", "t");
      configError(() => loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir: dir }), /cannot read ca\.crt .*ca\.crt: ENOENT/);
    });
  });
});
