// A workspace database: its state, its tables, and — as the user's role allows — its two credentials
// blocks (read-only first, for BI tools) with copy buttons and "Regenerate password".
import { useEffect, useRef, useState } from "preact/hooks";
import type { CredentialForm, Credentials, Login, RegenerateAnswer, TableList, WorkspaceDetail } from "../../src/ui/types.ts";
import { Breadcrumbs, CopyButton, Problem, Show, bytes, href, say, useLoad, when } from "./common.tsx";
import { ApiError, apiPath, get, post } from "./http.ts";

const FORMS: Array<{ form: CredentialForm; label: string; hint: string }> = [
  { form: "env", label: "Environment", hint: "PG* variables for psql, notebooks and scripts" },
  { form: "uri", label: "URI", hint: "postgresql:// for most clients" },
  { form: "jdbc", label: "JDBC", hint: "for Tableau and other JDBC tools" },
  { form: "superset", label: "Superset", hint: "SQLAlchemy URI for Superset's database form" },
];

const LOGIN_TEXT: Record<Login, { title: string; intro: string }> = {
  "read-only": {
    title: "Read-only credentials",
    intro: "For BI tools — Superset, Tableau, Power BI: this login can read every table and change nothing.",
  },
  "read-write": {
    title: "Read/write credentials",
    intro: "For notebooks and pipelines that create and change tables.",
  },
};

function credentialsPath(ns: string, ws: string, login: Login, reveal: boolean): string {
  return `${apiPath("namespaces", ns, "workspaces", ws, "credentials", login)}${reveal ? "?reveal=1" : ""}`;
}

function CredentialsBlock({ ns, ws, login, canRegenerate, changedAt, onRegenerated }: {
  ns: string; ws: string; login: Login; canRegenerate: boolean; changedAt: string | undefined; onRegenerated: () => void;
}) {
  const [shown, reload] = useLoad(() => get<Credentials>(credentialsPath(ns, ws, login, false)), [ns, ws, login]);
  // The revealed password lives here only while it is shown; hiding drops it.
  const [revealed, setRevealed] = useState<Credentials | undefined>(undefined);
  const [problem, setProblem] = useState<ApiError | undefined>(undefined);
  const [external, setExternal] = useState(false);
  useEffect(() => () => setRevealed(undefined), []);
  const secret = async (): Promise<Credentials> => get<Credentials>(credentialsPath(ns, ws, login, true));
  const reveal = async () => {
    try {
      setRevealed(await secret());
      setProblem(undefined);
    } catch (err) {
      setProblem(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  const id = `creds-${login}`;
  return (
    <section class="credentials" aria-labelledby={id}>
      <h3 id={id}>{LOGIN_TEXT[login].title}{login === "read-only" && <span class="badge">For BI tools</span>}</h3>
      <p>{LOGIN_TEXT[login].intro}</p>
      <Show loaded={shown} retry={reload}>
        {(creds) => {
          const current = revealed ?? creds;
          const part = external && current.external !== undefined ? current.external : current;
          const pick = (c: Credentials) => (external && c.external !== undefined ? c.external : c);
          return (
            <>
              {creds.external !== undefined && (
                <div class="where" role="group" aria-label="Where your tool runs">
                  <label><input type="radio" name={`${id}-where`} checked={!external} onChange={() => setExternal(false)} /> In the cluster</label>
                  <label><input type="radio" name={`${id}-where`} checked={external} onChange={() => setExternal(true)} /> Outside the cluster</label>
                </div>
              )}
              <dl class="fields">
                {part.fields.map((f) => (
                  <div class="field" key={f.key}>
                    <dt>{f.label}</dt>
                    <dd>
                      <code class={f.secret && revealed === undefined ? "masked" : ""} data-field={f.key}>{f.secret && revealed === undefined ? "••••••••" : f.value}</code>
                      {f.secret && (revealed === undefined
                        ? <button type="button" onClick={() => void reveal()} aria-label={`Reveal the ${login} password`}>Reveal</button>
                        : <button type="button" onClick={() => setRevealed(undefined)} aria-label={`Hide the ${login} password`}>Hide</button>)}
                      <CopyButton label={`${login} ${f.label.toLowerCase()}`} value={f.secret ? async () => pick(await secret()).fields.find((x) => x.key === f.key)?.value ?? "" : () => f.value} />
                    </dd>
                  </div>
                ))}
              </dl>
              <details class="forms">
                <summary>Connection strings (environment, URI, JDBC, Superset)</summary>
                {FORMS.map(({ form, label, hint }) => (
                  <div class="form" key={form}>
                    <div class="form-head"><span class="form-label">{label}</span> <span class="small">{hint}</span>
                      <CopyButton label={`${login} ${label}`} value={async () => pick(await secret()).forms[form]} />
                    </div>
                    <pre data-form={form}>{part.forms[form]}</pre>
                  </div>
                ))}
              </details>
              {problem !== undefined && <Problem error={problem} />}
            </>
          );
        }}
      </Show>
      {changedAt !== undefined && <p class="small">Password set {when(changedAt)}.</p>}
      {canRegenerate && <Regenerate ns={ns} ws={ws} login={login} onDone={() => {
        setRevealed(undefined);
        onRegenerated();
      }} />}
    </section>
  );
}

function Regenerate({ ns, ws, login, onDone }: { ns: string; ws: string; login: Login; onDone: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  // Left: the wait for the operator stops.
  const alive = useRef(true);
  useEffect(() => () => {
    alive.current = false;
  }, []);
  const [state, setState] = useState<{ step: "idle" } | { step: "working" } | { step: "done"; at: string } | { step: "failed"; error: ApiError }>({ step: "idle" });
  const run = async () => {
    dialog.current?.close();
    setState({ step: "working" });
    say(`Regenerating the ${login} password…`);
    try {
      const asked = await post<RegenerateAnswer>(apiPath("namespaces", ns, "workspaces", ws, "regenerate"), { login });
      const deadline = Date.now() + 120_000;
      while (alive.current) {
        const detail = await get<WorkspaceDetail>(apiPath("namespaces", ns, "workspaces", ws));
        const state = detail.logins[login];
        if (state.regenerateToken === asked.record) {
          const at = state.passwordChangedAt ?? new Date().toISOString();
          setState({ step: "done", at });
          say(`The ${login} password was regenerated at ${when(at)}: the old one no longer works.`);
          onDone();
          return;
        }
        if (Date.now() > deadline) {
          throw new ApiError(504, `Not done after 2 minutes (${detail.state.reason}: ${detail.state.message}); the operator keeps trying.`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } catch (err) {
      setState({ step: "failed", error: err instanceof ApiError ? err : new ApiError(0, String(err)) });
    }
  };
  const title = `regen-${login}`;
  return (
    <div class="regenerate">
      <button type="button" class="danger" disabled={state.step === "working"} onClick={() => dialog.current?.showModal()}>
        Regenerate {login} password
      </button>
      <dialog ref={dialog} aria-labelledby={title}>
        <h4 id={title}>Regenerate the {login} password?</h4>
        <p>The old password stops working at once, and the sessions using it end. Every notebook, pipeline
          and dashboard that uses it needs the new one.</p>
        <div class="actions">
          <button type="button" class="danger" onClick={() => void run()}>Regenerate</button>
          <button type="button" onClick={() => dialog.current?.close()}>Cancel</button>
        </div>
      </dialog>
      <p class="status" aria-live="polite">
        {state.step === "working" && "Regenerating… waiting for the operator."}
        {state.step === "done" && <span class="ok">The {login} password was regenerated at {when(state.at)}: the old one no longer works.</span>}
      </p>
      {state.step === "failed" && <Problem error={state.error} />}
    </div>
  );
}

function Tables({ ns, ws }: { ns: string; ws: string }) {
  const [list, retry] = useLoad(() => get<TableList>(apiPath("namespaces", ns, "workspaces", ws, "tables")), [ns, ws]);
  return (
    <section aria-labelledby="tables">
      <h2 id="tables">Tables</h2>
      <Show loaded={list} retry={retry}>
        {(answer) => answer.items.length === 0 ? <p>No tables yet.</p> : (
          <>
            <div class="scroll" role="region" aria-label="Tables" tabIndex={0}>
              <table>
                <thead><tr><th scope="col">Table</th><th scope="col">Type</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Size</th></tr></thead>
                <tbody>
                  {answer.items.map((t) => (
                    <tr key={t.metadata.name}>
                      <th scope="row"><a href={href({ page: "table", ns, table: t.metadata.name })}><span class="schema">{t.schema}.</span>{t.table}</a></th>
                      <td>{t.type}</td>
                      <td class="num">{t.rows === undefined ? "" : `${t.rowsExact ? "" : "~"}${t.rows.toLocaleString()}`}</td>
                      <td class="num">{bytes(t.sizeBytes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {answer.more && <p class="note">More tables than this page lists: use kubectl wsdb tables for all of them.</p>}
            <p class="small">~ an estimate; a table's own page counts its rows.</p>
          </>
        )}
      </Show>
    </section>
  );
}

export function WorkspacePage({ ns, ws }: { ns: string; ws: string }) {
  const [detail, reload] = useLoad(() => get<WorkspaceDetail>(apiPath("namespaces", ns, "workspaces", ws)), [ns, ws]);
  return (
    <>
      <Breadcrumbs items={[{ label: "Namespaces", to: { page: "home" } }, { label: ns, to: { page: "namespace", ns } }, { label: ws }]} />
      <h1>Workspace database <span class="name">{ws}</span></h1>
      <Show loaded={detail} retry={reload}>
        {(d) => (
          <>
            <p class={`state-line state-${d.state.ready === "True" ? "ready" : d.state.ready === "False" ? "failed" : "pending"}`}>
              {d.state.ready === "True" ? "Ready" : `Not ready: ${d.state.reason}`}{d.database !== undefined && <> · database <code>{d.database}</code></>}{d.server !== undefined && <> · server {d.server}</>}
            </p>
            {d.state.ready !== "True" && d.state.message && <p class="note">{d.state.message}</p>}
            {d.access.browse ? <Tables ns={ns} ws={ws} /> : <p class="note">Your role does not allow browsing tables.</p>}
            {d.access.credentials.length > 0 && (
              <section aria-labelledby="connect">
                <h2 id="connect">Connect</h2>
                {(["read-only", "read-write"] as const).filter((login) => d.access.credentials.includes(login)).map((login) => (
                  <CredentialsBlock key={login} ns={ns} ws={ws} login={login} canRegenerate={d.access.regenerate} changedAt={d.logins[login].passwordChangedAt} onRegenerated={() => undefined} />
                ))}
              </section>
            )}
          </>
        )}
      </Show>
    </>
  );
}
