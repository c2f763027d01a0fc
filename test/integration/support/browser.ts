// A real browser for the database page's tests: Debian's Chromium (installed by hack/test.sh), driven
// headless by playwright-core (no browser download), with Chromium's background networking off (this
// machine's network is closed), and axe-core's accessibility checks.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";

/** Chromium's executable: WSDB_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.WSDB_CHROMIUM ?? "/usr/bin/chromium";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    ],
  });
}

/** An axe-core violation, as much of it as a failed test prints. */
export interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2 A/AA and best practices).
 * The page's CSP forbids inline scripts: the page must come from a context made with `bypassCSP: true`.
 */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ content: axeSource });
  // Run in the page (the test's TypeScript has no DOM types).
  const violations = await page.evaluate<Violation[]>(`axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
    .then((result) => result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) })))`);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}
