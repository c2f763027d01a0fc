// A table: its columns, types and exact row count, and its rows page by page (keyset-paged by the data
// API: forward with its continue token, back through the tokens already seen), with a column picker.
import { useEffect, useState } from "preact/hooks";
import type { RowsPage, TableDetail } from "../../src/ui/types.ts";
import { Breadcrumbs, Show, bytes, cellText, useLoad } from "./common.tsx";
import { apiPath, get } from "./http.ts";

const PAGE_SIZES = [20, 50, 100, 200, 500];

function Rows({ ns, table, columns }: { ns: string; table: string; columns: string[] }) {
  const [size, setSize] = useState(50);
  // Tokens of the pages shown so far: tokens[i] opens page i (undefined: the first).
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [page, setPage] = useState(0);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  useEffect(() => {
    setTokens([undefined]);
    setPage(0);
  }, [ns, table, size]);
  const token = tokens[page];
  const [rows, retry] = useLoad(
    () => get<RowsPage>(`${apiPath("namespaces", ns, "tables", table, "rows")}?limit=${size}${token === undefined ? "" : `&continue=${encodeURIComponent(token)}`}`),
    [ns, table, size, token],
  );
  const toggle = (name: string) => {
    const next = new Set(hidden);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setHidden(next);
  };
  return (
    <section aria-labelledby="rows">
      <h2 id="rows">Rows</h2>
      <div class="toolbar">
        <label>Rows per page{" "}
          <select value={String(size)} onChange={(e) => setSize(Number((e.target as HTMLSelectElement).value))}>
            {PAGE_SIZES.map((n) => <option key={n} value={String(n)}>{n}</option>)}
          </select>
        </label>
        <details class="picker">
          <summary>Columns ({columns.length - hidden.size} of {columns.length} shown)</summary>
          <fieldset>
            <legend>Columns to show</legend>
            <div class="picker-actions">
              <button type="button" onClick={() => setHidden(new Set())}>All</button>
              <button type="button" onClick={() => setHidden(new Set(columns))}>None</button>
            </div>
            {columns.map((c, i) => (
              <label key={`${i}:${c}`} class="pick"><input type="checkbox" checked={!hidden.has(c)} onChange={() => toggle(c)} /> {c}</label>
            ))}
          </fieldset>
        </details>
      </div>
      <Show loaded={rows} retry={retry}>
        {(answer) => {
          const shown = answer.columns.map((c, i) => ({ ...c, i })).filter((c) => !hidden.has(c.name));
          const first = page * size + 1;
          return (
            <>
              <div class="scroll" role="region" aria-label={`Rows ${first} to ${first + answer.rows.length - 1}`} tabIndex={0}>
                <table class="rows">
                  <thead>
                    <tr>{shown.map((c) => <th scope="col" key={c.i}><span class="col-name">{c.name}</span> <span class="col-type">{c.type}</span></th>)}</tr>
                  </thead>
                  <tbody>
                    {answer.rows.map((row, r) => (
                      <tr key={r}>{shown.map((c) => {
                        const value = row[c.i];
                        return <td key={c.i} class={value === null ? "null" : ""}>{cellText(value)}</td>;
                      })}</tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {answer.rows.length === 0 && <p>No rows.</p>}
              {answer.truncated && <p class="note">Long values were cut, or the page reached its size limit.</p>}
              <nav class="pager" aria-label="Pages of rows">
                <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
                <span aria-live="polite">Rows {answer.rows.length === 0 ? 0 : first}–{first + answer.rows.length - 1} · page {page + 1}</span>
                <button type="button" disabled={answer.metadata.continue === undefined} onClick={() => {
                  const next = tokens.slice(0, page + 1);
                  next.push(answer.metadata.continue);
                  setTokens(next);
                  setPage(page + 1);
                }}>Next</button>
              </nav>
            </>
          );
        }}
      </Show>
    </section>
  );
}

export function TablePage({ ns, table }: { ns: string; table: string }) {
  const [detail, retry] = useLoad(() => get<TableDetail>(apiPath("namespaces", ns, "tables", table)), [ns, table]);
  return (
    <Show loaded={detail} retry={retry}>
      {(t) => (
        <>
          <Breadcrumbs items={[
            { label: "Namespaces", to: { page: "home" } },
            { label: ns, to: { page: "namespace", ns } },
            { label: t.workspace, to: { page: "workspace", ns, ws: t.workspace } },
            { label: `${t.schema}.${t.table}` },
          ]} />
          <h1><span class="schema">{t.schema}.</span><span class="name">{t.table}</span></h1>
          <p class="facts">{t.type} · {t.rows === undefined ? "rows not counted" : `${t.rowsExact ? "" : "about "}${t.rows.toLocaleString()} rows`} · {bytes(t.sizeBytes)}</p>
          {t.comment !== undefined && t.comment !== "" && <p class="comment">{t.comment}</p>}
          <details class="columns">
            <summary>Columns ({t.columnCount})</summary>
            <div class="scroll" role="region" aria-label="Columns" tabIndex={0}>
              <table>
                <thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Nullable</th><th scope="col">Primary key</th></tr></thead>
                <tbody>
                  {t.columns.map((c, i) => <tr key={i}><th scope="row" class="name">{c.name}</th><td>{c.type}</td><td>{c.nullable ? "yes" : "no"}</td><td>{c.primaryKey ? "yes" : ""}</td></tr>)}
                </tbody>
              </table>
            </div>
          </details>
          <Rows ns={ns} table={table} columns={t.columns.map((c) => c.name)} />
        </>
      )}
    </Show>
  );
}
