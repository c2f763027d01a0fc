// The database page's hosts as the tests start them: `kubectl wsdb ui` for one person (the plugin from
// this checkout, with that person's kubeconfig), its URL read from what it prints.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../ground/index.ts";

/** A running `kubectl wsdb ui`. */
export interface LocalUi {
  /** The one-time URL it printed. */
  url: string;
  origin: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startLocalUi(kubeconfig: string, namespace?: string): Promise<LocalUi> {
  const args = [join(REPO_ROOT, "src", "cli", "kubectl-wsdb.ts"), "ui", "--kubeconfig", kubeconfig, ...(namespace === undefined ? [] : ["-n", namespace])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl wsdb ui printed no URL in 20 s: ${output}`)), 20_000);
    const check = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(output);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl wsdb ui exited with ${code}: ${output}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    output: () => output,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}
