// The database page: namespaces → workspace databases → tables and credentials → rows. Every name and
// value is rendered as text (Preact escapes it); nothing here builds HTML from strings.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { NamespaceList, SessionInfo, WorkspaceList } from "../../src/ui/types.ts";
import { Announcer, Breadcrumbs, Problem, Show, href, parseRoute, useLoad, when, type Route } from "./common.tsx";
import { ApiError, apiPath, get, setCsrf } from "./http.ts";
import { TablePage } from "./table.tsx";
import { WorkspacePage } from "./workspace.tsx";

const REMEMBERED = "wsdb.namespace";

function remembered(): string | undefined {
  try {
    return localStorage.getItem(REMEMBERED) ?? undefined;
  } catch {
    return undefined;
  }
}

function remember(ns: string): void {
  try {
    localStorage.setItem(REMEMBERED, ns);
  } catch {
    // private mode: not remembered
  }
}

function NamespaceField({ initial }: { initial?: string }) {
  const [value, setValue] = useState(initial ?? "");
  const [problem, setProblem] = useState("");
  return (
    <form
      class="namespace-form"
      onSubmit={(e) => {
        e.preventDefault();
        const ns = value.trim();
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) {
          setProblem("A namespace name has lowercase letters, digits and dashes, and starts and ends with a letter or digit.");
          return;
        }
        location.hash = href({ page: "namespace", ns });
      }}
    >
      <label for="namespace">Namespace</label>
      <input id="namespace" name="namespace" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} autoComplete="off" spellcheck={false} aria-describedby={problem ? "namespace-problem" : undefined} />
      <button type="submit">Open</button>
      {problem && <p id="namespace-problem" class="problem" role="alert">{problem}</p>}
    </form>
  );
}

function Home({ session }: { session: SessionInfo }) {
  const [list] = useLoad(() => get<NamespaceList>(apiPath("namespaces")), []);
  return (
    <>
      <h1>Workspace databases</h1>
      <p>Pick the namespace of your workspace.</p>
      <NamespaceField {...(session.namespace ?? remembered()) === undefined ? {} : { initial: (session.namespace ?? remembered())! }} />
      <Show loaded={list}>
        {(answer) => answer.allowed ? (
          answer.items.length === 0 ? <p>You may list namespaces, but there are none.</p> : (
            <nav aria-label="Namespaces">
              <h2>Namespaces</h2>
              <ul class="links">
                {answer.items.map((ns) => <li key={ns}><a href={href({ page: "namespace", ns })}>{ns}</a></li>)}
              </ul>
            </nav>
          )
        ) : <p class="note">Your role does not allow listing namespaces: type the name of yours above.</p>}
      </Show>
    </>
  );
}

function State({ ready, reason }: { ready: string; reason: string }) {
  const label = ready === "True" ? "Ready" : reason || "Unknown";
  return <span class={`state state-${ready === "True" ? "ready" : ready === "False" ? "failed" : "pending"}`}>{label}</span>;
}

function NamespacePage({ ns }: { ns: string }) {
  const [list, retry] = useLoad(() => get<WorkspaceList>(apiPath("namespaces", ns, "workspaces")), [ns]);
  useEffect(() => remember(ns), [ns]);
  return (
    <>
      <Breadcrumbs items={[{ label: "Namespaces", to: { page: "home" } }, { label: ns }]} />
      <h1>Workspace databases of <span class="name">{ns}</span></h1>
      <Show loaded={list} retry={retry}>
        {(answer) => answer.items.length === 0 ? <p>No workspace database in this namespace.</p> : (
          <>
          {answer.more && <p class="note">More workspace databases than this page lists: use kubectl get wsdb for all of them.</p>}
          <div class="scroll" role="region" aria-label="Workspace databases" tabIndex={0}>
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Database</th><th scope="col">Server</th><th scope="col">Created</th></tr></thead>
              <tbody>
                {answer.items.map((ws) => (
                  <tr key={ws.name}>
                    <th scope="row"><a href={href({ page: "workspace", ns, ws: ws.name })}>{ws.name}</a></th>
                    <td><State ready={ws.state.ready} reason={ws.state.reason} />{ws.state.ready !== "True" && ws.state.message && <div class="small">{ws.state.message}</div>}</td>
                    <td class="name">{ws.database ?? ""}</td>
                    <td>{ws.server ?? ""}</td>
                    <td>{when(ws.created)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          </>
        )}
      </Show>
    </>
  );
}

function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [session] = useLoad(() => get<SessionInfo>(apiPath("session")).then((s) => {
    setCsrf(s.csrf);
    return s;
  }), []);
  useEffect(() => {
    const onHash = () => {
      setRoute(parseRoute(location.hash));
      document.getElementById("main")?.focus();
    };
    addEventListener("hashchange", onHash);
    // The address may have changed between the first render and now.
    setRoute(parseRoute(location.hash));
    return () => removeEventListener("hashchange", onHash);
  }, []);
  // Opened without a place: the namespace of the command line, else the remembered one.
  useEffect(() => {
    if (session.state === "done" && route.page === "home" && location.hash === "") {
      const ns = session.value.namespace ?? remembered();
      if (ns !== undefined) location.replace(href({ page: "namespace", ns }));
    }
  }, [session.state]);
  useEffect(() => {
    const title = route.page === "home" ? "Workspace databases" : route.page === "namespace" ? `${route.ns} · Workspace databases`
      : route.page === "workspace" ? `${route.ws} · ${route.ns}` : `${route.table} · ${route.ns}`;
    document.title = title;
  }, [route]);
  return (
    <>
      <header class="top">
        <a href={href({ page: "home" })} class="brand">Workspace databases</a>
        {session.state === "done" && session.value.user !== undefined && <span class="who">Signed in as <span class="name">{session.value.user}</span></span>}
      </header>
      <main id="main" tabIndex={-1}>
        {session.state === "failed" ? <Problem error={session.error} /> : session.state === "loading" ? <p class="loading">Loading…</p> : (
          route.page === "home" ? <Home session={session.value} />
            : route.page === "namespace" ? <NamespacePage ns={route.ns} />
              : route.page === "workspace" ? <WorkspacePage ns={route.ns} ws={route.ws} />
                : <TablePage ns={route.ns} table={route.table} />
        )}
      </main>
      <Announcer />
    </>
  );
}

window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof ApiError) e.preventDefault();
});
render(<App />, document.getElementById("app")!);
