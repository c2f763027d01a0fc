// Small pieces every page uses: loading and error states, copy buttons, sizes and times as text.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./http.ts";

/** Where the page is: #/ns/NS, #/ns/NS/ws/WS, #/ns/NS/table/OBJECT. */
export type Route =
  | { page: "home" }
  | { page: "namespace"; ns: string }
  | { page: "workspace"; ns: string; ws: string }
  | { page: "table"; ns: string; table: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return "";
    }
  });
  if (parts[0] === "ns" && parts[1]) {
    if (parts[2] === "ws" && parts[3]) return { page: "workspace", ns: parts[1], ws: parts[3] };
    if (parts[2] === "table" && parts[3]) return { page: "table", ns: parts[1], table: parts[3] };
    return { page: "namespace", ns: parts[1] };
  }
  return { page: "home" };
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "home":
      return "#/";
    case "namespace":
      return `#/ns/${e(route.ns)}`;
    case "workspace":
      return `#/ns/${e(route.ns)}/ws/${e(route.ws)}`;
    case "table":
      return `#/ns/${e(route.ns)}/table/${e(route.table)}`;
  }
}

/** The state of one request: loading, its value, or its error. */
export type Loaded<T> = { state: "loading" } | { state: "done"; value: T } | { state: "failed"; error: ApiError };

/** Runs `load` whenever `deps` change; the answer of an older run is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setResult({ state: "loading" });
    load().then(
      (value) => current && setResult({ state: "done", value }),
      (err: unknown) => current && setResult({ state: "failed", error: err instanceof ApiError ? err : new ApiError(0, String(err)) }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return [result, () => setRound((r) => r + 1)];
}

export function Problem({ error, retry }: { error: ApiError; retry?: () => void }) {
  return (
    <div class="problem" role="alert">
      <p>{error.message}</p>
      {error.signIn !== undefined && <p>{error.signIn}</p>}
      {retry !== undefined && <button type="button" onClick={retry}>Try again</button>}
    </div>
  );
}

export function Show<T>({ loaded, retry, children }: { loaded: Loaded<T>; retry?: () => void; children: (value: T) => ComponentChildren }) {
  if (loaded.state === "loading") return <p class="loading" aria-live="polite">Loading…</p>;
  if (loaded.state === "failed") return <Problem error={loaded.error} {...(retry === undefined ? {} : { retry })} />;
  return <>{children(loaded.value)}</>;
}

/** Says something to screen readers (and shows it) without moving the focus. */
let announce: (text: string) => void = () => undefined;
export function Announcer() {
  const [text, setText] = useState("");
  useEffect(() => {
    announce = (t) => {
      setText("");
      setTimeout(() => setText(t), 20);
    };
  }, []);
  return <div class="announcer" role="status" aria-live="polite">{text}</div>;
}
export function say(text: string): void {
  announce(text);
}

/** A button that puts a value on the clipboard; `value` may be fetched only when clicked. */
export function CopyButton({ label, value }: { label: string; value: () => Promise<string> | string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(await value());
      setState("copied");
      say(`${label}: copied`);
    } catch (err) {
      setState("failed");
      say(`${label}: could not copy (${err instanceof Error ? err.message : String(err)})`);
    }
    setTimeout(() => setState("idle"), 2000);
  };
  return (
    <button type="button" class="copy" onClick={() => void copy()} aria-label={`Copy ${label}`}>
      {state === "copied" ? "Copied" : state === "failed" ? "Not copied" : "Copy"}
    </button>
  );
}

/** Sizes as the plugin and kubectl print them. */
export { humanBytes as bytes } from "../../src/dataapi/printing.ts";

export function when(iso: string | undefined): string {
  if (iso === undefined) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A value of a row as text: NULL, JSON for objects, the text itself otherwise. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function Breadcrumbs({ items }: { items: Array<{ label: string; to?: Route }> }) {
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <ol>
        {items.map((item, i) => (
          <li key={i}>{item.to === undefined ? <span aria-current="page">{item.label}</span> : <a href={href(item.to)}>{item.label}</a>}</li>
        ))}
      </ol>
    </nav>
  );
}
