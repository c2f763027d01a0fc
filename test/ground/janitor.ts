// A watchdog process that cleans up after the ground if the Node process running it dies abruptly.
import { spawn } from "node:child_process";

/**
 * Starts a detached shell that waits for this process to exit, then kills every pid listed in
 * `pidFile` (TERM, then KILL) and removes `root`. A normal stop does the same work first, so
 * the janitor then finds nothing left to do. Covers SIGKILL of the test runner, where no
 * JavaScript exit handler runs.
 */
export function startJanitor(root: string, pidFile: string): void {
  const script = `
    parent=$1; pids=$2; root=$3
    while kill -0 "$parent" 2>/dev/null; do sleep 1; done
    if [ -f "$pids" ]; then
      for p in $(cat "$pids"); do kill -TERM "$p" 2>/dev/null; done
      sleep 3
      for p in $(cat "$pids"); do kill -KILL "$p" 2>/dev/null; done
    fi
    rm -rf "$root"
  `;
  const child = spawn("bash", ["-c", script, "janitor", String(process.pid), pidFile, root], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
}
