// Makes the README's pictures of the database page (docs/images/page-*.png): a test ground with the
// operator and its data API, the sample workspace with a table, `kubectl wsdb ui` as a viewer and as an
// admin, and Debian's Chromium headless (playwright-core). Not part of the test run: hack/screenshots.sh.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { REPO_ROOT, startGround, stopGround } from "../test/ground/index.ts";
import { createPki } from "../test/support/pki.ts";
import { launchBrowser } from "../test/integration/support/browser.ts";
import { prepareDataApi, registerDataApi, unregisterDataApi } from "../test/integration/support/data-api.ts";
import { createWorkspace, ensureNamespace, eventually, readSecret, setupServer, waitReady, withLogin } from "../test/integration/support/fixtures.ts";
import { startOperator } from "../test/integration/support/operator.ts";
import { startLocalUi } from "../test/integration/support/page.ts";
import { createPeople } from "../test/integration/support/people.ts";
import { SAMPLE_TABLE_SQL, loadSample, out } from "./demo-common.ts";

const images = join(REPO_ROOT, "docs", "images");
mkdirSync(images, { recursive: true });
const ground = await startGround();
const pki = createPki();
try {
  if (ground.certs === undefined) throw new Error("the screenshots need the local ground");
  await setupServer("main", { default: true });
  const ca = await pki.ca("screenshots-data-api-ca");
  const setup = await prepareDataApi(ca);
  const operator = startOperator(setup.env, "operator-screenshots");
  await eventually("the data API listening", async () => (/serving the data API/.test(operator.log()) ? true : undefined), 30_000);
  await registerDataApi(setup.port, ca);
  const { namespace, name } = loadSample();
  await ensureNamespace(namespace);
  await ensureNamespace("workspace-other");
  const people = await createPeople(pki.existing(ground.certs.caCert, ground.certs.caKey), namespace, "workspace-other", [name], "shots-");
  await createWorkspace(namespace, name);
  await waitReady(namespace, name);
  await withLogin((await readSecret(namespace, `${name}-rw`))!.uri!, async (db) => {
    for (const sql of SAMPLE_TABLE_SQL) await db.query(sql);
    await db.query(`CREATE TABLE IF NOT EXISTS districts (id int PRIMARY KEY, name text, population int, region text)`);
    await db.query(`INSERT INTO districts SELECT g, 'district ' || g, 10000 + g * 1234, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END FROM generate_series(0, 6) g ON CONFLICT DO NOTHING`);
    await db.query(`CREATE VIEW weekly_totals AS SELECT week, sum(count) AS cases FROM cases GROUP BY week`);
    await db.query(`ANALYZE`);
  });
  const browser = await launchBrowser();
  const shoot = async (page: Page, file: string) => {
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: join(images, file), fullPage: true });
    out(`docs/images/${file}`);
  };
  for (const [person, viewport, shots] of [
    ["adam", { width: 1200, height: 800 }, ["namespace", "workspace", "table"]],
    ["vera", { width: 1200, height: 800 }, ["viewer-workspace"]],
    ["edda", { width: 390, height: 844 }, ["phone-workspace"]],
  ] as const) {
    const ui = await startLocalUi(people.kubeconfigs[person], namespace);
    try {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.goto(ui.url);
      await page.locator("main h1").first().waitFor();
      for (const shot of shots) {
        if (shot === "namespace") {
          await page.getByRole("link", { name }).waitFor();
        } else if (shot === "table") {
          await page.goto(`${ui.origin}/#/ns/${namespace}/table/${name}.public.cases`);
          await page.getByLabel("Rows per page").selectOption("20");
          await page.getByText("Rows 1–20 ·").waitFor();
        } else {
          await page.goto(`${ui.origin}/#/ns/${namespace}/ws/${name}`);
          await page.getByRole("heading", { name: "Tables" }).waitFor();
          if (shot === "workspace") await page.getByText("Connection strings").first().click();
        }
        await shoot(page, `page-${shot}.png`);
      }
      await context.close();
    } finally {
      await ui.stop();
    }
  }
  await browser.close();
  await unregisterDataApi();
  await operator.stop();
} finally {
  pki.dispose();
  await stopGround();
}
