// Child processes of the test ground: start with a log file, stop gracefully, never outlive the run.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, openSync, closeSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A long-running child process of the ground. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Every process ever started, so exit handlers can kill what is still running. */
const running = new Set<Proc>();

/**
 * Starts `command` with stdout and stderr appended to `logFile`. Its pid is recorded in
 * `pidFile` so the janitor (see janitor.ts) can kill it if this Node process dies abruptly.
 */
export function startProc(name: string, command: string, args: string[], logFile: string, pidFile: string, env?: NodeJS.ProcessEnv): Proc {
  const fd = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", fd, fd], ...(env ? { env } : {}) });
  closeSync(fd);
  if (child.pid !== undefined) appendFileSync(pidFile, `${child.pid}\n`);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", () => resolve("spawn-error"));
  });
  const proc: Proc = {
    name,
    child,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(proc);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Kills every process still running, synchronously (safe inside an `exit` handler). */
export function killAllNow(): void {
  for (const proc of running) {
    try {
      proc.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every `intervalMs` until it resolves true, or throws after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

/** The last `lines` lines of a log file (for an error message: the ground removes its files). */
export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** What a failed child process (execFile) wrote to stderr, else the error's message. */
export function errorOutput(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  const text = typeof stderr === "string" ? stderr : Buffer.isBuffer(stderr) ? stderr.toString("utf8") : "";
  return text.trim() || (err instanceof Error ? err.message : String(err));
}
