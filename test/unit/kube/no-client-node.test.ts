// Guard: the operator never loads @kubernetes/client-node (~88 MB RSS); only the tests may use it.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const PACKAGE = "@kubernetes/client-node";
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, ext));
    else if (ext.test(entry.name)) out.push(path);
  }
  return out;
}

/** Bare module specifiers a process resolves (ESM and require), recorded by a resolve hook. */
const RECORD_PACKAGES = "data:text/javascript," + encodeURIComponent([
  'import { registerHooks } from "node:module";',
  "const seen = new Set();",
  "registerHooks({ resolve(specifier, context, next) { if (!/^(\\.|\\/|node:|file:|data:)/.test(specifier)) seen.add(specifier); return next(specifier, context); } });",
  'process.on("exit", () => process.stderr.write("\\nPACKAGES " + JSON.stringify([...seen]) + "\\n"));',
].join("\n"));

/**
 * Runs `script` (the operator's entry point) until it stops for want of a kubeconfig — by then every
 * module it imports statically has been loaded — and returns the packages it resolved.
 */
async function packagesLoadedBy(script: string): Promise<string[]> {
  const result = await run(process.execPath, ["--import", RECORD_PACKAGES, script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: "/nonexistent", KUBECONFIG: "/nonexistent/kubeconfig" },
  }).then(
    () => ({ code: 0, stderr: "" }),
    (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? "" }),
  );
  expect(result.stderr, "the operator stops at the kubeconfig").to.include("cannot load a kubeconfig");
  const line = /^PACKAGES (.*)$/m.exec(result.stderr);
  expect(line, result.stderr).to.not.equal(null);
  return JSON.parse(line![1]!) as string[];
}

describe("no @kubernetes/client-node in the operator", function () {
  this.timeout(30_000);

  it("no file under src/ imports it", () => {
    const offenders = filesUnder(join(REPO_ROOT, "src"), /\.ts$/)
      .filter((file) => /["']@kubernetes\/client-node(\/[^"']*)?["']/.test(readFileSync(file, "utf8")))
      .map((file) => relative(REPO_ROOT, file));
    expect(offenders).to.deep.equal([]);
  });

  it("is a dev dependency only", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    expect(pkg.dependencies ?? {}).to.not.have.property(PACKAGE);
    expect(pkg.devDependencies ?? {}).to.have.property(PACKAGE);
  });

  it("is not in the module graph of `node src/main.ts`", async () => {
    const packages = await packagesLoadedBy(join(REPO_ROOT, "src", "main.ts"));
    expect(packages).to.include("yaml"); // the hook saw the operator's own imports
    expect(packages.filter((p) => p.startsWith(PACKAGE))).to.deep.equal([]);
  });

  it("is not in the module graph of the built `node dist/main.js`", async function () {
    const main = join(REPO_ROOT, "dist", "main.js");
    const newestSource = Math.max(...filesUnder(join(REPO_ROOT, "src"), /\.ts$/).map((f) => statSync(f).mtimeMs));
    // hack/test.sh builds before testing; a missing or older build is not this test's business.
    if (!existsSync(main) || statSync(main).mtimeMs < newestSource) this.skip();
    const built = filesUnder(join(REPO_ROOT, "dist"), /\.js$/).filter((f) => readFileSync(f, "utf8").includes(PACKAGE));
    expect(built.map((f) => relative(REPO_ROOT, f))).to.deep.equal([]);
    const packages = await packagesLoadedBy(main);
    expect(packages.filter((p) => p.startsWith(PACKAGE))).to.deep.equal([]);
  });
});
