// The database page in a real browser (Debian's Chromium driven by playwright-core), served by
// `kubectl wsdb ui` with each person's own kubeconfig: the one-time sign-in, DESIGN's role table cell by
// cell, credentials copied to the clipboard, a regeneration that makes the old password fail, paging
// through 10,000 rows, hostile names shown as text, PostgreSQL down, and axe-core.
import { request as httpRequest } from "node:http";
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { join } from "node:path";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { createPki, type Pki, type TestCa } from "../../support/pki.ts";
import { launchBrowser, seriousViolations } from "../support/browser.ts";
import { run } from "../support/deploy.ts";
import { prepareDataApi, registerDataApi, unregisterDataApi } from "../support/data-api.ts";
import { createWorkspace, ensureNamespace, eventually, loginFailure, readSecret, setupServer, unique, waitReady, withLogin } from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { startLocalUi, type LocalUi } from "../support/page.ts";
import { createPeople, type People, type Person } from "../support/people.ts";

/** A raw HTTP GET (fetch would not let the test send its own Host header). */
function rawGet(origin: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const HOSTILE_TABLE = `<img src=x onerror="document.title='pwned'">`;
const UNICODE_TABLE = "Données 📊 2024";

describe("the database page through kubectl wsdb ui (browser, e2e)", function () {
  this.timeout(240_000);
  let pki: Pki;
  let servingCa: TestCa;
  let operator: OperatorProcess;
  let browser: Browser;
  let people: People;
  let ns: string;
  let other: string;
  const hosts: LocalUi[] = [];

  before(async function () {
    const ground = getGround();
    if (ground.certs === undefined) this.skip();
    // The page as npm run build makes it (a second or so), so that a run of this file alone serves the current web/.
    await run(process.execPath, [join(REPO_ROOT, "hack", "build-ui.ts")]);
    pki = createPki();
    servingCa = await pki.ca("page-data-api-ca");
    await setupServer("main", { default: true });
    const setup = await prepareDataApi(servingCa);
    operator = startOperator({ ...setup.env, WSDB_DATA_API_STATEMENT_TIMEOUT: "3s" }, "operator-page");
    await operator.httpPort();
    await eventually("the data API listening", async () => (/serving the data API/.test(operator.log()) ? true : undefined), 30_000);
    await registerDataApi(setup.port, servingCa);
    ns = unique("page");
    other = unique("page-other");
    await ensureNamespace(ns);
    await ensureNamespace(other);
    people = await createPeople(pki.existing(ground.certs.caCert, ground.certs.caKey), ns, other, ["malaria"], "page-");
    await createWorkspace(ns, "malaria");
    await waitReady(ns, "malaria");
    await withLogin((await readSecret(ns, "malaria-rw"))!.uri!, async (db) => {
      await db.query(`CREATE TABLE cases (id int PRIMARY KEY, district text NOT NULL, week date, count int, note text)`);
      await db.query(`INSERT INTO cases SELECT g, 'district ' || (g % 7), date '2024-01-01' + g, g * 3, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 10000) g`);
      await db.query(`ANALYZE cases`);
      await db.query(`CREATE TABLE "${HOSTILE_TABLE.replaceAll('"', '""')}" ("<b>col</b>" text)`);
      await db.query(`INSERT INTO "${HOSTILE_TABLE.replaceAll('"', '""')}" VALUES ('<script>document.title="pwned"</script>')`);
      await db.query(`CREATE TABLE "${UNICODE_TABLE}" ("région" text, "ζ" int)`);
      await db.query(`INSERT INTO "${UNICODE_TABLE}" VALUES ('Île-de-France 🗼', 1)`);
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    for (const host of hosts) await host.stop();
    await unregisterDataApi();
    await operator?.stop();
    pki?.dispose();
  });

  async function host(person: Person, namespace?: string): Promise<LocalUi> {
    const started = await startLocalUi(people.kubeconfigs[person], namespace);
    hosts.push(started);
    return started;
  }

  /** A signed-in page of `person`'s own `kubectl wsdb ui` (-n ns). */
  async function signIn(person: Person, options: { namespace?: string | null; bypassCSP?: boolean; viewport?: { width: number; height: number } } = {}): Promise<{ ui: LocalUi; context: BrowserContext; page: Page }> {
    const ui = await host(person, options.namespace === null ? undefined : options.namespace ?? ns);
    const context = await browser.newContext({ ...(options.bypassCSP ? { bypassCSP: true } : {}), ...(options.viewport ? { viewport: options.viewport } : {}) });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: ui.origin });
    const page = await context.newPage();
    page.on("dialog", (d) => void d.dismiss());
    await page.goto(ui.url);
    await page.locator("main h1").first().waitFor();
    return { ui, context, page };
  }

  // Run in the page (the test's TypeScript has no DOM types): what the clipboard holds.
  const clipboard = (page: Page) => page.evaluate<string>("navigator.clipboard.readText()");
  /** Clicks a copy button and waits until it says it copied. */
  const copy = async (page: Page, name: string) => {
    const button = page.getByRole("button", { name, exact: true });
    await button.click();
    await button.filter({ hasText: "Copied" }).waitFor();
  };

  it("signs in only with its one-time link: an HttpOnly SameSite=Strict cookie, the token gone from the address bar; every request needs the cookie, the Host is checked", async () => {
    const { ui, context, page } = await signIn("vera");
    expect(page.url()).to.not.include("token=");
    await page.getByRole("heading", { name: `Workspace databases of ${ns}` }).waitFor();
    const cookies = await context.cookies();
    expect(cookies).to.have.length(1);
    expect(cookies[0]).to.include({ name: `wsdb_session_${new URL(ui.origin).port}`, httpOnly: true, sameSite: "Strict" });
    // The link works once.
    const again = await rawGet(ui.origin, new URL(ui.url).pathname + new URL(ui.url).search);
    expect(again.status).to.equal(403);
    // Without the cookie: nothing, not even the static files.
    for (const path of ["/", "/app.js", "/api/session", `/api/namespaces/${ns}/workspaces`]) {
      const bare = await rawGet(ui.origin, path);
      expect(bare.status, path).to.equal(401);
      expect(bare.body).to.not.include("malaria");
    }
    const cookie = `${cookies[0]!.name}=${cookies[0]!.value}`;
    // Paths that a careless new URL() cannot take do not end the process.
    expect((await rawGet(ui.origin, "//", { cookie })).status).to.equal(404);
    expect((await rawGet(ui.origin, "//")).status).to.equal(401);
    expect((await rawGet(ui.origin, "//x/../api/session", { cookie })).status).to.not.equal(500);
    // Another Host (DNS rebinding): refused even with the cookie.
    expect((await rawGet(ui.origin, "/", { cookie, host: `evil.example:${new URL(ui.origin).port}` })).status).to.equal(421);
    const index = await rawGet(ui.origin, "/", { cookie });
    expect(index.status).to.equal(200);
    expect(index.headers["content-security-policy"]).to.equal("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(index.headers["referrer-policy"]).to.equal("no-referrer");
    expect(index.headers["x-frame-options"]).to.equal("DENY");
    expect(index.body).to.not.match(/<script>[^<]/);
    const api = await rawGet(ui.origin, `/api/namespaces/${ns}/workspaces`, { cookie });
    expect(api.headers["cache-control"]).to.equal("no-store");
    // A POST without the CSRF token does nothing.
    const post = await page.request.post(`${ui.origin}/api/namespaces/${ns}/workspaces/malaria/regenerate`, { data: { login: "read-only" } });
    expect(post.status()).to.equal(403);
    await context.close();
  });

  it("a viewer browses workspaces, tables and rows, and sees no credentials block, nor can fetch one", async () => {
    const { ui, context, page } = await signIn("vera");
    await page.getByRole("link", { name: "malaria" }).click();
    await page.getByRole("heading", { name: "Tables" }).waitFor();
    const cases = page.getByRole("row", { name: /public\.cases/ });
    expect(await cases.textContent()).to.match(/table.*10,000/);
    expect(await page.getByRole("heading", { name: "Connect" }).count()).to.equal(0);
    expect(await page.getByText("Read-only credentials").count()).to.equal(0);
    expect(await page.getByRole("button", { name: /Regenerate/ }).count()).to.equal(0);
    const refused = await page.request.get(`${ui.origin}/api/namespaces/${ns}/workspaces/malaria/credentials/read-only?reveal=1`);
    expect(refused.status()).to.equal(403);
    const secret = (await readSecret(ns, "malaria-ro"))!;
    expect(await refused.text()).to.not.include(secret.password!);
    await page.getByRole("link", { name: "public.cases" }).click();
    await page.getByRole("heading", { name: "public.cases" }).waitFor();
    expect(await page.locator(".facts").textContent()).to.include("10,000 rows");
    await page.getByRole("table").last().getByRole("cell", { name: "district 1", exact: true }).first().waitFor();
    await context.close();
  });

  it("an editor copies credentials in every form: read-only first for BI tools, the password masked until revealed and dropped when hidden; no Regenerate", async () => {
    const { context, page } = await signIn("edda");
    await page.getByRole("link", { name: "malaria" }).click();
    await page.getByRole("heading", { name: "Connect" }).waitFor();
    const blocks = page.locator("section.credentials h3");
    expect(await blocks.allTextContents()).to.deep.equal(["Read-only credentialsFor BI tools", "Read/write credentials"]);
    const ro = (await readSecret(ns, "malaria-ro"))!;
    const rw = (await readSecret(ns, "malaria-rw"))!;
    // Masked: the password is nowhere in the page until revealed.
    expect(await page.content()).to.not.include(ro.password!).and.not.include(rw.password!);
    await copy(page, "Copy read-only password");
    expect(await clipboard(page)).to.equal(ro.password);
    expect(await page.content()).to.not.include(ro.password!);
    await copy(page, "Copy read-only username");
    expect(await clipboard(page)).to.equal(ro.username);
    await copy(page, "Copy read-write host");
    expect(await clipboard(page)).to.equal(rw.host);
    await page.getByText("Connection strings").first().click();
    await copy(page, "Copy read-only URI");
    expect(await clipboard(page)).to.equal(ro.uri);
    await copy(page, "Copy read-only JDBC");
    expect(await clipboard(page)).to.equal(ro["jdbc-uri"]);
    await copy(page, "Copy read-only Superset");
    expect(await clipboard(page)).to.equal(`postgresql+psycopg2://${encodeURIComponent(ro.username!)}:${encodeURIComponent(ro.password!)}@${ro.host}:${ro.port}/${encodeURIComponent(ro.database!)}?sslmode=${ro.sslmode}`);
    await copy(page, "Copy read-only Environment");
    expect(await clipboard(page)).to.include(`PGPASSWORD=${ro.password}`).and.include(`PGUSER=${ro.username}`);
    // Revealed, then hidden: gone from the page again.
    await page.getByRole("button", { name: "Reveal the read-only password" }).click();
    await page.getByText(ro.password!, { exact: true }).waitFor();
    await page.getByRole("button", { name: "Hide the read-only password" }).click();
    await page.getByRole("button", { name: "Reveal the read-only password" }).waitFor();
    expect(await page.content()).to.not.include(ro.password!);
    expect(await page.getByRole("button", { name: /Regenerate/ }).count()).to.equal(0);
    await context.close();
  });

  it("an admin regenerates a password from the page after its warning: the old one fails at once and the page says when", async () => {
    const { context, page } = await signIn("adam");
    await page.getByRole("link", { name: "malaria" }).click();
    const old = (await readSecret(ns, "malaria-ro"))!;
    await page.getByRole("button", { name: "Regenerate read-only password" }).click();
    const dialog = page.getByRole("dialog", { name: "Regenerate the read-only password?" });
    expect(await dialog.textContent()).to.include("The old password stops working at once");
    await dialog.getByRole("button", { name: "Regenerate" }).click();
    await page.getByText(/The read-only password was regenerated at .*: the old one no longer works\./).first().waitFor({ timeout: 60_000 });
    expect(await loginFailure(old.uri!)).to.equal("28P01");
    const fresh = (await readSecret(ns, "malaria-ro"))!;
    expect(fresh.password).to.not.equal(old.password);
    await copy(page, "Copy read-only password");
    expect(await clipboard(page)).to.equal(fresh.password);
    await context.close();
  });

  it("a user without a role and a member of another namespace see nothing of it; one who cannot list namespaces types one, and the page remembers it", async () => {
    for (const person of ["nobody", "olga"] as const) {
      const { context, page } = await signIn(person);
      await page.getByRole("alert").waitFor();
      expect(await page.getByRole("alert").textContent()).to.include(`Your role does not allow listing the workspace databases of namespace ${ns}.`);
      expect(await page.content()).to.not.include("malaria");
      await context.close();
    }
    const { context, page } = await signIn("vera", { namespace: null });
    await page.getByText("Your role does not allow listing namespaces").waitFor();
    await page.getByLabel("Namespace").fill(ns);
    await page.getByRole("button", { name: "Open" }).click();
    await page.getByRole("link", { name: "malaria" }).waitFor();
    // Remembered: the page opened again without a namespace goes there.
    await page.goto(new URL("/", page.url()).toString());
    await page.getByRole("link", { name: "malaria" }).waitFor();
    expect(page.url()).to.include(`#/ns/${ns}`);
    await context.close();
  });

  it("pages through 10,000 rows 500 at a time and back, and picks columns", async () => {
    const { context, page } = await signIn("vera");
    await page.goto(`${new URL(page.url()).origin}/#/ns/${ns}/table/malaria.public.cases`);
    await page.getByRole("heading", { name: "public.cases" }).waitFor();
    await page.getByLabel("Rows per page").selectOption("500");
    await page.getByText("Rows 1–500 · page 1").waitFor();
    for (let p = 2; p <= 20; p++) {
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByText(`Rows ${(p - 1) * 500 + 1}–${p * 500} · page ${p}`).waitFor();
    }
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).to.equal(true);
    const last = page.locator("table.rows tbody tr").last();
    expect(await last.locator("td").first().textContent()).to.equal("10000");
    await page.getByRole("button", { name: "Previous" }).click();
    await page.getByText("Rows 9001–9500 · page 19").waitFor();
    // NULLs as NULL; the column picker hides and shows columns.
    expect(await page.locator("table.rows td.null").first().textContent()).to.equal("NULL");
    await page.getByText("Columns (5 of 5 shown)").click();
    await page.getByRole("checkbox", { name: "district" }).uncheck();
    await page.getByText("Columns (4 of 5 shown)").waitFor();
    expect(await page.locator("table.rows thead th").allTextContents()).to.deep.equal(["id integer", "week date", "count integer", "note text"]);
    await context.close();
  });

  it("shows hostile and Unicode names and values as text", async () => {
    const { context, page } = await signIn("vera");
    await page.getByRole("link", { name: "malaria" }).click();
    await page.getByRole("link", { name: `public.${HOSTILE_TABLE}` }).click();
    await page.getByRole("heading", { name: `public.${HOSTILE_TABLE}` }).waitFor();
    await page.getByRole("cell", { name: '<script>document.title="pwned"</script>' }).waitFor();
    expect(await page.getByRole("columnheader", { name: "<b>col</b> text" }).count()).to.equal(1);
    expect(await page.locator("img").count()).to.equal(0);
    expect(await page.title()).to.not.equal("pwned");
    await page.getByRole("link", { name: "malaria" }).click();
    await page.getByRole("link", { name: `public.${UNICODE_TABLE}` }).click();
    await page.getByRole("cell", { name: "Île-de-France 🗼" }).waitFor();
    expect(await page.locator("table.rows thead th").allTextContents()).to.deep.equal(["région text", "ζ integer"]);
    await context.close();
  });

  it("says in a sentence when PostgreSQL is down, and when the page's server is gone", async () => {
    const ground = getGround();
    if (!ground.local) return;
    const { ui, context, page } = await signIn("vera");
    await page.getByRole("link", { name: "malaria" }).waitFor();
    await ground.postgres.stop();
    try {
      await page.getByRole("link", { name: "malaria" }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor({ timeout: 30_000 });
      expect((await alert.textContent())!.length).to.be.greaterThan(20);
      expect(await page.getByRole("button", { name: "Try again" }).count()).to.equal(1);
    } finally {
      await ground.postgres.start();
    }
    await ui.stop();
    await page.getByRole("link", { name: ns }).click();
    await page.getByText("The page's server cannot be reached").waitFor();
    await context.close();
  });

  it("has no serious accessibility violation (axe-core), works from the keyboard, and fits a phone", async () => {
    const { context, page } = await signIn("adam", { bypassCSP: true });
    const origin = new URL(page.url()).origin;
    const pages = [`${origin}/#/`, `${origin}/#/ns/${ns}`, `${origin}/#/ns/${ns}/ws/malaria`, `${origin}/#/ns/${ns}/table/malaria.public.cases`];
    for (const url of pages) {
      await page.goto(url);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      expect(await seriousViolations(page), url).to.deep.equal([]);
    }
    // Keyboard: from the workspace page, Tab to the read-only Reveal button and press Enter.
    await page.goto(`${origin}/#/ns/${ns}/ws/malaria`);
    await page.getByRole("button", { name: "Reveal the read-only password" }).waitFor();
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate<boolean>(`document.activeElement?.getAttribute("aria-label") === "Reveal the read-only password"`);
    }
    expect(reached, "Reveal reachable with Tab").to.equal(true);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Hide the read-only password" }).waitFor();
    await context.close();
    // A phone: nothing wider than the screen but the tables' own scrolling regions.
    const phone = await signIn("adam", { viewport: { width: 390, height: 844 } });
    for (const url of pages.slice(1)) {
      await phone.page.goto(url.replace(origin, new URL(phone.page.url()).origin));
      await phone.page.locator("main h1").first().waitFor();
      await phone.page.waitForLoadState("networkidle");
      expect(await phone.page.evaluate<number>("document.documentElement.scrollWidth"), url).to.be.at.most(390);
    }
    await phone.context.close();
  });
});
