// P6's viewers: people paging through a wide table in the data API, through kube-apiserver's
// aggregation layer as each their own user (impersonated by the ground's admin), 500 rows a page,
// waiting Retry-After when told 429, as kubectl does.
import type pg from "pg";
import { KubeApiError } from "../../src/kube/errors.ts";
import type { KubeRequester } from "../../src/kube/rest.ts";

/** The group the viewers are in; {@link viewerRbac} lets it read the tables of one namespace. */
export const VIEWER_GROUP = "bench:viewers";

/** A Role and RoleBinding in `namespace`: workspacetables get/list and their previews, for {@link VIEWER_GROUP}. */
export function viewerRbac(namespace: string): unknown[] {
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "bench-viewers", namespace },
      rules: [{ apiGroups: ["data.workspacedb.io"], resources: ["workspacetables", "workspacetables/preview"], verbs: ["get", "list"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "bench-viewers", namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "bench-viewers" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: VIEWER_GROUP }],
    },
  ];
}

/** A table of `rows` rows of 20 text columns of 100 characters (about 2 KB a row) and a primary key. */
export async function createWideTable(db: pg.Client, name: string, rows: number): Promise<void> {
  const columns = Array.from({ length: 20 }, (_, i) => `c${i} text`).join(", ");
  const values = Array.from({ length: 20 }, (_, i) => `repeat(md5((g * ${i + 1})::text), 4) || lpad(g::text, 4, '0')`).join(", ");
  await db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, ${columns})`);
  await db.query(`INSERT INTO ${name} SELECT g, ${values} FROM generate_series(1, ${rows}) AS g`);
  await db.query(`ANALYZE ${name}`);
}

/** What the viewers did. */
export interface ViewerStats {
  pages: number;
  rows: number;
  tooMany: number;
  errors: number;
  /** Milliseconds of the answered pages. */
  pageMs: number[];
}

/** Viewers paging until stopped. */
export interface Viewers {
  stats: ViewerStats;
  stop(): Promise<void>;
}

interface Preview {
  rows: unknown[][];
  metadata: { continue?: string };
}

/**
 * Starts `count` viewers, each a user of its own, each paging through `path` (a preview path of the
 * data API) from the start again once at its end.
 */
export function startViewers(client: KubeRequester, path: string, count: number): Viewers {
  const stats: ViewerStats = { pages: 0, rows: 0, tooMany: 0, errors: 0, pageMs: [] };
  let stopped = false;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const loops = Array.from({ length: count }, async (_, i) => {
    let token: string | undefined;
    await sleep(i * 10);
    while (!stopped) {
      const started = Date.now();
      try {
        const page = await client.request<Preview>("GET", path, {
          query: { limit: "500", ...(token === undefined ? {} : { continue: token }) },
          headers: { "Impersonate-User": `viewer-${i}`, "Impersonate-Group": VIEWER_GROUP },
          context: `viewer-${i} previewing`,
        });
        stats.pages++;
        stats.rows += page.rows.length;
        stats.pageMs.push(Date.now() - started);
        token = page.metadata.continue;
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 429) {
          stats.tooMany++;
          await sleep(1_000);
        } else {
          stats.errors++;
          await sleep(500);
        }
      }
    }
  });
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
