// The binaries hack/build-binaries.sh builds (helm, kstatus, argo-health, …): from WSDB_BIN_DIR when
// hack/test.sh set it, else built (or found in the cache) now.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
let built: string | undefined;

/** The path of `name` among the ground's binaries. */
export function groundBinary(name: string): string {
  const fromEnv = process.env.WSDB_BIN_DIR;
  if (fromEnv && existsSync(join(fromEnv, name))) return join(fromEnv, name);
  if (built === undefined) {
    const out = execFileSync("bash", [join(REPO_ROOT, "hack", "build-binaries.sh")], { stdio: ["ignore", "pipe", "inherit"] });
    const lines = out.toString().trim().split("\n");
    built = lines[lines.length - 1] ?? "";
  }
  return join(built, name);
}
