// Mocha global fixtures: start the test ground once before all tests and stop it after them.
import { startGround, stopGround } from "./index.ts";

/** Runs once before the whole suite. */
export async function mochaGlobalSetup(this: unknown): Promise<void> {
  const started = Date.now();
  const ground = await startGround();
  process.stderr.write(`test ground ready in ${Date.now() - started} ms (${ground.local ? "local" : "existing"}: ${ground.apiServerUrl}, PostgreSQL ${ground.postgres.version} ${ground.postgres.host}:${ground.postgres.port})\n`);
}

/** Runs once after the whole suite, also when tests failed. */
export async function mochaGlobalTeardown(this: unknown): Promise<void> {
  await stopGround();
}
