// A watchdog process that cleans up after the ground if the Node process running it dies abruptly.
import { execFileSync, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeNetwork } from "./netns.ts";
import { errorOutput } from "./procs.ts";

/** hack/lib/ground-teardown.sh: removes a ground with a node (processes, mounts, cgroups, network, files). */
const TEARDOWN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "hack", "lib", "ground-teardown.sh");

/** The arguments of the teardown script for a ground with a node. */
function teardownArgs(root: string, net: NodeNetwork): string[] {
  return [TEARDOWN, root, net.netns, net.cgroupRoot, net.hostVeth];
}

/**
 * Removes everything of a ground with a node, synchronously (safe in an exit handler): every process
 * in its namespace and cgroups, every mount under `root` before any file, its cgroups, namespace,
 * veth and routes, then `root`. Throws with the script's account of what was left.
 */
export function teardownNode(root: string, net: NodeNetwork): void {
  try {
    // A cap, not an expectation: after the node's 2,000-object tests on a slow machine the script once
    // needed more than 120 s (its leftovers check then found nothing).
    execFileSync("bash", teardownArgs(root, net), { stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  } catch (err) {
    throw new Error(`tearing down the ground's node left something behind: ${errorOutput(err)}`, { cause: err });
  }
}

/**
 * Starts a detached shell that waits for this process to exit, then kills every pid listed in
 * `pidFile` (TERM, then KILL) and removes `root` — with a node, by the teardown script, which
 * unmounts everything under `root` first. A normal stop does the same work first, so the janitor
 * then finds nothing left to do. Covers SIGKILL of the test runner, where no JavaScript exit
 * handler runs.
 */
export function startJanitor(root: string, pidFile: string, net?: NodeNetwork): void {
  const script = `
    parent=$1; pids=$2; root=$3; shift 3
    while kill -0 "$parent" 2>/dev/null; do sleep 1; done
    if [ -f "$pids" ]; then
      for p in $(cat "$pids"); do kill -TERM "$p" 2>/dev/null; done
      sleep 3
      for p in $(cat "$pids"); do kill -KILL "$p" 2>/dev/null; done
    fi
    if [ $# -gt 0 ]; then bash "$@"; else rm -rf --one-file-system "$root"; fi
  `;
  const child = spawn("bash", ["-c", script, "janitor", String(process.pid), pidFile, root, ...(net ? teardownArgs(root, net) : [])], {
    detached: true,
    stdio: ["ignore", "ignore", "ignore"],
  });
  child.unref();
}
