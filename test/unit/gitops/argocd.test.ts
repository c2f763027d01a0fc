// The Argo CD health checks ship three ways that must stay one: the scripts in Argo CD's
// resource_customizations layout (with their tests), config/argocd/argocd-cm.yaml, and the README's copy.
import { expect } from "chai";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CUSTOMIZATIONS = join(ROOT, "config", "argocd", "resource_customizations", "workspacedb.io");
const KINDS = ["DatabaseServer", "WorkspaceDatabase"] as const;

describe("Argo CD health checks", () => {
  const cmText = readFileSync(join(ROOT, "config", "argocd", "argocd-cm.yaml"), "utf8");
  const cm = parse(cmText) as { metadata: { name: string }; data: Record<string, string> };

  it("argocd-cm.yaml carries each kind's health.lua under resource.customizations.health.<group>_<kind>", () => {
    expect(cm.metadata.name).to.equal("argocd-cm");
    expect(Object.keys(cm.data).sort()).to.deep.equal(KINDS.map((k) => `resource.customizations.health.workspacedb.io_${k}`));
    for (const kind of KINDS) {
      expect(cm.data[`resource.customizations.health.workspacedb.io_${kind}`], kind).to.equal(readFileSync(join(CUSTOMIZATIONS, kind, "health.lua"), "utf8"));
    }
  });

  it("the README shows argocd-cm.yaml as it is", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const marker = readme.indexOf("<!-- argocd-cm: config/argocd/argocd-cm.yaml");
    expect(marker, "the README's argocd-cm block").to.be.greaterThan(0);
    const block = readme.slice(readme.indexOf("```yaml\n", marker) + "```yaml\n".length, readme.indexOf("```\n", readme.indexOf("```yaml\n", marker) + 8));
    expect(block).to.equal(cmText);
  });

  it("uses no Lua library argocd-cm scripts lack (string, math, os, io)", () => {
    for (const kind of KINDS) {
      const code = readFileSync(join(CUSTOMIZATIONS, kind, "health.lua"), "utf8").replace(/--[^\n]*/g, "");
      expect(code, kind).to.not.match(/\b(string|math|os|io|debug)\.|:(find|match|sub|format|gsub|lower|upper)\(/);
    }
  });

  it("health_test.yaml (Argo CD's layout) names every recorded object once, each with an expected health", () => {
    for (const kind of KINDS) {
      const tests = (parse(readFileSync(join(CUSTOMIZATIONS, kind, "health_test.yaml"), "utf8")) as { tests: { healthStatus: { status: string; message: string }; inputPath: string }[] }).tests;
      const files = readdirSync(join(CUSTOMIZATIONS, kind, "testdata")).filter((f) => f.endsWith(".yaml")).map((f) => `testdata/${f}`).sort();
      expect(tests.map((t) => t.inputPath).sort(), kind).to.deep.equal(files);
      for (const t of tests) expect(["Healthy", "Progressing", "Degraded"], `${kind} ${t.inputPath}`).to.include(t.healthStatus.status);
      expect(new Set(tests.map((t) => t.healthStatus.status)), `${kind}: every health is covered`).to.deep.equal(new Set(["Healthy", "Progressing", "Degraded"]));
    }
  });
});
