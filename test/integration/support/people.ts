// People of the test ground, with the roles of config/rbac (DESIGN's table): a viewer, an editor and an
// admin of a namespace (editors and admins also get the named workspaces' two credentials Secrets), a
// user with no role, and a viewer of another namespace — each a client certificate of the ground's CA
// in a kubeconfig of their own.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import type { KeyPair, TestCa } from "../../support/pki.ts";
import { tools } from "./deploy.ts";

/** The people's names, and the groups that carry their roles. */
export const PEOPLE = ["vera", "edda", "adam", "nobody", "olga"] as const;
export type Person = (typeof PEOPLE)[number];

/** Their kubeconfigs and key pairs. */
export interface People {
  kubeconfigs: Record<Person, string>;
  pairs: Record<Person, KeyPair>;
  /** Each person's groups. */
  groups: Record<Person, string[]>;
}

/** A kubeconfig for a client certificate of the cluster's CA. */
export function userKubeconfig(path: string, server: string, ca: string, pair: KeyPair): string {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  writeFileSync(path, [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: c, cluster: {server: "${server}", certificate-authority-data: ${b64(ca)}}}]`,
    `users: [{name: u, user: {client-certificate-data: ${b64(pair.cert)}, client-key-data: ${b64(pair.key)}}}]`,
    "contexts: [{name: c, context: {cluster: c, user: u}}]",
    "current-context: c",
    "",
  ].join("\n"), { mode: 0o600 });
  return path;
}

/**
 * Binds the roles of config/rbac in `ns` (and a viewer in `other`), gives editors and admins the
 * credentials Secrets of `workspaces`, and writes the kubeconfigs (prefixed `prefix`) under the ground's root.
 */
export async function createPeople(clusterCa: TestCa, ns: string, other: string, workspaces: string[], prefix = ""): Promise<People> {
  const ground = getGround();
  const certs = ground.certs;
  if (certs === undefined) throw new Error("people need the local ground's CA");
  const clusterRoles = ["workspace-viewer.yaml", "workspace-editor.yaml", "workspace-admin.yaml"]
    .flatMap((f) => parseAllDocuments(readFileSync(join(REPO_ROOT, "config", "rbac", f), "utf8")).map((d) => d.toJS() as { kind: string }))
    .filter((d) => d.kind === "ClusterRole");
  const binding = (namespace: string, name: string, roleKind: string, role: string, groups: string[]) => ({
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: roleKind, name: role },
    subjects: groups.map((group) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group })),
  });
  await tools().kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        ...clusterRoles,
        binding(ns, "viewers", "ClusterRole", "workspacedb-workspace-viewer", [`${ns}:viewers`]),
        binding(ns, "editors", "ClusterRole", "workspacedb-workspace-editor", [`${ns}:editors`]),
        binding(ns, "admins", "ClusterRole", "workspacedb-workspace-admin", [`${ns}:admins`]),
        ...workspaces.flatMap((ws) => [
          {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: `${ws}-credentials`, namespace: ns },
            rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [`${ws}-rw`, `${ws}-ro`], verbs: ["get"] }],
          },
          binding(ns, `${ws}-credentials`, "Role", `${ws}-credentials`, [`${ns}:editors`, `${ns}:admins`]),
        ]),
        binding(other, "viewers", "ClusterRole", "workspacedb-workspace-viewer", [`${other}:viewers`]),
      ],
    }),
  });
  const groups: Record<Person, string[]> = { vera: [`${ns}:viewers`], edda: [`${ns}:editors`], adam: [`${ns}:admins`], nobody: [], olga: [`${other}:viewers`] };
  const kubeconfigs = {} as Record<Person, string>;
  const pairs = {} as Record<Person, KeyPair>;
  for (const user of PEOPLE) {
    pairs[user] = await clusterCa.issue({ cn: user, o: groups[user], usage: "client" });
    kubeconfigs[user] = userKubeconfig(join(ground.root, `${prefix}${user}.kubeconfig`), ground.apiServerUrl, readFileSync(certs.caCert, "utf8"), pairs[user]);
  }
  return { kubeconfigs, pairs, groups };
}
