// The KubePort over a recording requester: paths, merge patches, fieldManager, delete preconditions, Events, 404s; Lease calls; MicroTime.
import { expect } from "chai";
import type { DatabaseServer, WorkspaceDatabase } from "../../../src/api/types.ts";
import { FIELD_MANAGER, createKubeClient } from "../../../src/kube/client.ts";
import { KubeApiError } from "../../../src/kube/errors.ts";
import type { KubeRequester, Method, RequestOptions } from "../../../src/kube/rest.ts";
import { microTime } from "../../../src/kube/types.ts";
import { restLeaseApi } from "../../../src/runtime/leader.ts";

interface Call {
  method: Method;
  path: string;
  options: RequestOptions;
}

/** Records every request and answers with `answer` (a thrown KubeApiError when it returns one). */
function recorder(answer: (call: Call) => unknown = () => ({})): KubeRequester & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
      const call = { method, path, options };
      calls.push(call);
      const result = answer(call);
      if (result instanceof KubeApiError) throw result;
      return result as T;
    },
  };
}

const notFound = (): KubeApiError => new KubeApiError("x: not found", 404, "NotFound");
const ws: WorkspaceDatabase = { apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", metadata: { name: "w", namespace: "team-a", uid: "u1", resourceVersion: "7" }, spec: {} };
const server: DatabaseServer = {
  apiVersion: "workspacedb.io/v1alpha1",
  kind: "DatabaseServer",
  metadata: { name: "main", resourceVersion: "3" },
  spec: { host: "h", port: 5432, sslMode: "disable", maintenanceDatabase: "postgres", adminSecretRef: { namespace: "s", name: "a" } },
};

describe("KubePort (createKubeClient)", () => {
  const options = { eventNamespace: "workspacedb-system", instance: "pod-1" };

  it("reads objects by path and turns 404 into undefined", async () => {
    const api = recorder((c) => (c.path.endsWith("/missing") ? notFound() : { metadata: { name: "x", labels: { a: "b" } } }));
    const kube = createKubeClient(api, options);
    expect(await kube.getWorkspaceDatabase("team-a", "missing")).to.equal(undefined);
    await kube.getDatabaseServer("main");
    await kube.getSecret("team-a", "w-rw");
    expect(await kube.getNamespace("team-a")).to.deep.equal({ labels: { a: "b" }, annotations: {} });
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "GET /apis/workspacedb.io/v1alpha1/namespaces/team-a/workspacedatabases/missing",
      "GET /apis/workspacedb.io/v1alpha1/databaseservers/main",
      "GET /api/v1/namespaces/team-a/secrets/w-rw",
      "GET /api/v1/namespaces/team-a",
    ]);
    expect(api.calls[0]!.options.context).to.equal("reading WorkspaceDatabase team-a/missing");
    const failing = createKubeClient(recorder(() => new KubeApiError("reading: forbidden", 403, "Forbidden")), options);
    const err: unknown = await failing.getSecret("n", "s").catch((e: unknown) => e);
    expect((err as KubeApiError).code).to.equal(403);
  });

  it("writes finalizers and status as merge patches with the field manager, guarded by resourceVersion", async () => {
    const api = recorder();
    const kube = createKubeClient(api, options);
    await kube.setFinalizers(ws, ["workspacedb.io/finalizer"]);
    await kube.setServerFinalizers(server, []);
    await kube.patchWorkspaceDatabaseStatus("team-a", "w", { database: "d" });
    await kube.patchDatabaseServerStatus("main", { databases: 2 });
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "PATCH /apis/workspacedb.io/v1alpha1/namespaces/team-a/workspacedatabases/w",
      "PATCH /apis/workspacedb.io/v1alpha1/databaseservers/main",
      "PATCH /apis/workspacedb.io/v1alpha1/namespaces/team-a/workspacedatabases/w/status",
      "PATCH /apis/workspacedb.io/v1alpha1/databaseservers/main/status",
    ]);
    for (const c of api.calls) {
      expect(c.options.contentType).to.equal("application/merge-patch+json");
      expect(c.options.query).to.deep.equal({ fieldManager: FIELD_MANAGER });
    }
    expect(api.calls[0]!.options.body).to.deep.equal({ metadata: { finalizers: ["workspacedb.io/finalizer"], resourceVersion: "7" } });
    expect(api.calls[2]!.options.body).to.deep.equal({ status: { database: "d" } });
  });

  it("creates and replaces Secrets with the field manager, deletes with a uid precondition (404 and 409 are fine)", async () => {
    const api = recorder((c) => (c.method === "DELETE" && c.path.endsWith("/gone") ? notFound() : {}));
    const kube = createKubeClient(api, options);
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "w-rw", namespace: "team-a", resourceVersion: "9" }, data: { k: "dg==" } };
    await kube.createSecret(secret);
    await kube.replaceSecret(secret);
    await kube.deleteSecret("team-a", "w-rw", "uid-1");
    await kube.deleteSecret("team-a", "gone", "uid-2");
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "POST /api/v1/namespaces/team-a/secrets",
      "PUT /api/v1/namespaces/team-a/secrets/w-rw",
      "DELETE /api/v1/namespaces/team-a/secrets/w-rw",
      "DELETE /api/v1/namespaces/team-a/secrets/gone",
    ]);
    expect(api.calls[0]!.options).to.deep.include({ body: secret, query: { fieldManager: FIELD_MANAGER } });
    expect(api.calls[1]!.options).to.deep.include({ body: secret, query: { fieldManager: FIELD_MANAGER } });
    expect(api.calls[2]!.options.body).to.deep.equal({ preconditions: { uid: "uid-1" } });
  });

  it("checks the fence before every write and never before a read", async () => {
    const api = recorder();
    let open = true;
    const kube = createKubeClient(api, { ...options, fence: () => { if (!open) throw new Error("not the leader"); } });
    open = false;
    await kube.getSecret("n", "s");
    let err: unknown = await kube.setFinalizers(ws, []).catch((e: unknown) => e);
    expect(String(err)).to.include("not the leader");
    err = await kube.deleteSecret("n", "s", "u").catch((e: unknown) => e);
    expect(String(err)).to.include("not the leader");
    kube.recordEvent({ kind: "WorkspaceDatabase", metadata: ws.metadata }, "Normal", "Ready", "ok");
    expect(api.calls.map((c) => c.method)).to.deep.equal(["GET"]);
  });

  it("records Events without waiting, in the object's namespace or the event namespace, and reports failures", async () => {
    const errors: string[] = [];
    const api = recorder((c) => (c.path.includes("/namespaces/closing/") ? new KubeApiError("recording Event Ready: namespace closing is being terminated", 403, "Forbidden") : {}));
    const kube = createKubeClient(api, { ...options, onEventError: (reason, e) => errors.push(`${reason}: ${e.message}`) });
    kube.recordEvent({ kind: "WorkspaceDatabase", metadata: ws.metadata }, "Warning", "Failed", "x".repeat(2000));
    kube.recordEvent({ kind: "DatabaseServer", metadata: { name: "main", uid: "s1" } }, "Normal", "Ready", "connected");
    kube.recordEvent({ kind: "WorkspaceDatabase", metadata: { name: "w", namespace: "closing" } }, "Normal", "Ready", "ok");
    await new Promise((r) => setImmediate(r));
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "POST /api/v1/namespaces/team-a/events",
      "POST /api/v1/namespaces/workspacedb-system/events",
      "POST /api/v1/namespaces/closing/events",
    ]);
    const event = api.calls[0]!.options.body as Record<string, unknown> & { metadata: { name: string }; message: string };
    expect(event).to.deep.include({
      apiVersion: "v1",
      kind: "Event",
      involvedObject: { apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", name: "w", namespace: "team-a", uid: "u1", resourceVersion: "7" },
      type: "Warning",
      reason: "Failed",
      source: { component: FIELD_MANAGER },
      reportingComponent: `workspacedb.io/${FIELD_MANAGER}`,
      reportingInstance: "pod-1",
      count: 1,
    });
    expect(event.metadata.name).to.match(/^w\.[0-9a-f]{16}$/);
    expect(event.message).to.have.length(1024);
    expect(event.firstTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(errors).to.deep.equal(["Ready: recording Event Ready: namespace closing is being terminated"]);
  });
});

describe("Lease calls (restLeaseApi)", () => {
  it("reads (404: undefined), creates and replaces by the Lease's metadata", async () => {
    const api = recorder((c) => (c.method === "GET" ? notFound() : c.options.body));
    const leases = restLeaseApi(api);
    expect(await leases.get("ns", "lock")).to.equal(undefined);
    const lease = { metadata: { name: "lock", namespace: "ns", resourceVersion: "4" }, spec: { holderIdentity: "a", renewTime: microTime() } };
    expect(await leases.create(lease)).to.deep.equal(lease);
    await leases.replace(lease);
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "GET /apis/coordination.k8s.io/v1/namespaces/ns/leases/lock",
      "POST /apis/coordination.k8s.io/v1/namespaces/ns/leases",
      "PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/lock",
    ]);
    const failing = restLeaseApi(recorder(() => new KubeApiError("reading Lease: forbidden", 403, "Forbidden")));
    const err: unknown = await failing.get("ns", "lock").catch((e: unknown) => e);
    expect((err as KubeApiError).code).to.equal(403);
  });

  it("writes times as MicroTime: RFC 3339 in UTC with six fractional digits", () => {
    expect(microTime(new Date("2024-05-01T12:00:00.123Z"))).to.equal("2024-05-01T12:00:00.123000Z");
    expect(microTime(new Date("2024-05-01T12:00:00Z"))).to.equal("2024-05-01T12:00:00.000000Z");
    expect(microTime()).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });
});
