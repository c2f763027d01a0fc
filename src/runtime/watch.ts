// One watch connection: opened through a WatchPort (the REST client), guarded by an inactivity timer, with its end normalised.

/**
 * Opens watches (implemented by src/kube/rest.ts); tests substitute it to inject events and failures.
 * Resolves once the server answered; `onDone` is called once: null when the server ended the stream,
 * else the error (one with a numeric `statusCode` or `code` when the server refused the watch).
 */
export interface WatchPort {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<AbortController>;
}

/**
 * How a watch connection ended: `closed` (server timeout, idle, stopped: re-watch from the last
 * resourceVersion), `gone` (410: the resourceVersion expired, re-list), `error` (back off, re-watch).
 */
export type WatchEnd = { kind: "closed"; reason: string } | { kind: "gone" } | { kind: "error"; err: unknown };

/** Options of {@link openWatch}. */
export interface OpenWatchOptions {
  watch: WatchPort;
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  /** Ends the connection as `closed` when nothing (not even a bookmark) arrived for this long. */
  inactivityMs: number;
  /** Receives each event; returning a WatchEnd ends the connection with it. */
  onEvent: (type: string, obj: unknown) => WatchEnd | undefined;
  /** Called once the connection is established. */
  onOpen?: () => void;
}

/** A running watch connection: `ended` resolves once, `end()` aborts it with the given outcome. */
export interface OpenWatch {
  ended: Promise<WatchEnd>;
  end(e: WatchEnd): void;
}

/**
 * Opens a watch and resolves `ended` exactly once, whatever happens: the server closes it, the
 * inactivity timer fires, a 410 arrives as HTTP status or ERROR event, the connection fails, or
 * `end()` is called. The connection is aborted then.
 */
export function openWatch(opts: OpenWatchOptions): OpenWatch {
  let settled = false;
  let inactivity: NodeJS.Timeout | undefined;
  let controller: AbortController | undefined;
  let resolveEnded: (e: WatchEnd) => void = () => undefined;
  const ended = new Promise<WatchEnd>((resolve) => (resolveEnded = resolve));
  const end = (e: WatchEnd): void => {
    if (settled) return;
    settled = true;
    clearTimeout(inactivity);
    controller?.abort();
    resolveEnded(e);
  };
  const touch = (): void => {
    clearTimeout(inactivity);
    inactivity = setTimeout(() => end({ kind: "closed", reason: `inactive for ${opts.inactivityMs} ms` }), opts.inactivityMs);
  };
  touch();
  const onEvent = (type: string, obj: unknown): void => {
    if (settled) return;
    touch();
    const outcome = opts.onEvent(type, obj);
    if (outcome) end(outcome);
  };
  const onDone = (err: unknown): void => {
    if (err == null) end({ kind: "closed", reason: "closed by the server" });
    else if (isTimeout(err)) end({ kind: "closed", reason: "client timeout" });
    else if (statusCode(err) === 410) end({ kind: "gone" });
    else end({ kind: "error", err });
  };
  opts.watch.watch(opts.path, opts.query, onEvent, onDone).then(
    (c) => {
      controller = c;
      if (settled) c.abort();
      else opts.onOpen?.();
    },
    (err: unknown) => end({ kind: "error", err }),
  );
  return { ended, end };
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
}

function statusCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === "number") return e.statusCode;
  return typeof e.code === "number" ? e.code : undefined;
}
