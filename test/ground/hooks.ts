// Mocha global fixtures: start the test ground once before all tests and stop it after them.
import { startGround, stopGround } from "./index.ts";

/** Runs once before the whole suite. */
export async function mochaGlobalSetup(this: unknown): Promise<void> {
  const started = Date.now();
  // WSDB_GROUND_NODE=1: a ground with a node (the tests under test/node/).
  const ground = await startGround({ node: process.env.WSDB_GROUND_NODE === "1" });
  const node = ground.node ? `, node ${ground.node.name} in namespace ${ground.node.network.netns}` : "";
  process.stderr.write(`test ground ready in ${Date.now() - started} ms (${ground.local ? "local" : "existing"}: ${ground.apiServerUrl}, PostgreSQL ${ground.postgres.version} ${ground.postgres.host}:${ground.postgres.port}${node})\n`);
}

/** Runs once after the whole suite, also when tests failed. */
export async function mochaGlobalTeardown(this: unknown): Promise<void> {
  await stopGround();
}
