// The priority of the pass a piece of code runs for, so that what lies far below a controller (the
// admin connections of a server) serves work a person waits for first.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Priority } from "./queue.ts";

const storage = new AsyncLocalStorage<Priority>();

/** Runs `fn` (and everything it awaits) as work of `priority`. */
export function withPriority<T>(priority: Priority, fn: () => T): T {
  return storage.run(priority, fn);
}

/** The priority of the pass this code runs for: `high` outside any pass (start-up, the data API, tests). */
export function currentPriority(): Priority {
  return storage.getStore() ?? "high";
}
