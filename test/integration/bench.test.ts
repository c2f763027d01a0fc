// Smoke run of the benchmark (hack/bench.ts) against this run's ground: it runs end to end and prints P1-P6.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { REPO_ROOT, getGround } from "../ground/index.ts";
import { unregisterDataApi } from "./support/data-api.ts";

const run = promisify(execFile);

describe("benchmark (smoke run)", function () {
  this.timeout(300_000);
  // The bench registers the data API's APIService and removes it at its end; also when it failed midway.
  after(() => unregisterDataApi());

  it("provisions, resyncs, regenerates, regenerates beside viewers and restarts a few workspaces, printing P1 to P6", async function () {
    const ground = getGround();
    if (!ground.local || ground.postgres.logFile === undefined) this.skip();
    if (!existsSync(join(REPO_ROOT, "dist", "main.js"))) await run("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT });
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, "hack", "bench.ts"), "--n", "3", "--regenerations", "2", "--resync", "10", "--viewers", "4", "--wide-rows", "1200"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        // The bench uses this run's ground instead of starting one.
        WSDB_KUBECONFIG: ground.kubeconfigPath,
        WSDB_PG_ADMIN_URL: ground.postgres.adminUrl,
        WSDB_PG_SUPER_URL: ground.postgres.superUrl,
        WSDB_PG_LOG_FILE: ground.postgres.logFile,
      },
      timeout: 280_000,
      maxBuffer: 10 * 1024 * 1024,
    });
    for (const figure of ["P4 idle", "P1 floor", "P1 operator", "P3 resync", "P4 memory", "P2 regenerate", "P6 regenerate", "P5 restart"]) {
      expect(stdout, figure).to.contain(figure);
    }
    expect(stdout).to.match(/ratio to the floor \d+\.\d+/);
    expect(stdout).to.match(/P6 .* p99 ratio \d+\.\d+/);
    expect(stdout).to.match(/viewers: [1-9]\d* pages/);
  });
});
