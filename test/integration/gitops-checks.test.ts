// The Argo CD health checks' own tests, in Argo CD's health_test.yaml layout, run by gopher-lua with the
// libraries argocd-cm scripts get (hack/tools/argo-health), on the objects recorded by
// e2e/gitops-status.test.ts.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { argoCheckDir } from "./support/gitops.ts";
import { groundBinary } from "../support/bin.ts";

describe("Argo CD health checks under gopher-lua (health_test.yaml)", function () {
  this.timeout(120_000);

  it("every recorded object gets the health its test expects, for both kinds", async () => {
    const dirs = [argoCheckDir("WorkspaceDatabase"), argoCheckDir("DatabaseServer")];
    const { stdout } = await promisify(execFile)(groundBinary("argo-health"), ["test", ...dirs]).catch((err: { stdout?: string; message: string }) => {
      throw new Error(`argo-health test failed:\n${err.stdout ?? err.message}`);
    });
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(stdout);
    expect(summary, stdout).to.not.equal(null);
    expect(Number(summary![2]), stdout).to.equal(0);
    expect(Number(summary![1]), stdout).to.be.at.least(12);
  });
});
