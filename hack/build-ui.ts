// Builds the database page (web/) into dist/ui-static/: one JavaScript bundle (esbuild: the page's
// TypeScript and Preact, minified, no source maps shipped), its stylesheet and index.html. Run by
// `npm run build`; both hosts and the image serve these files, with nothing fetched from elsewhere.
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist", "ui-static");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "web", "src", "main.tsx")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outfile: join(out, "app.js"),
  legalComments: "none",
  logLevel: "warning",
});
await build({
  entryPoints: [join(root, "web", "app.css")],
  bundle: true,
  minify: true,
  outfile: join(out, "app.css"),
  logLevel: "warning",
});
copyFileSync(join(root, "web", "index.html"), join(out, "index.html"));
if (process.argv.includes("--sizes")) {
  for (const name of readdirSync(out)) process.stdout.write(`${name}\t${statSync(join(out, name)).size} bytes\n`);
}
