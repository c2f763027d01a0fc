// The chart's values.schema.json: generated from the operator's settings schema (hack/values-schema.ts),
// so the committed file must be exactly what the script writes; it admits the chart's own values.yaml
// and every default setting, and refuses what the operator would refuse at start.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse, stringify } from "yaml";
import { CHART_OWNED_SETTINGS, VALUES_SCHEMA_PATH, valuesSchema, valuesSchemaText } from "../../../hack/values-schema.ts";
import { DEFAULT_SETTINGS, settingLeaves } from "../../../src/config/schema.ts";
import { formatDuration } from "../../../src/config/duration.ts";
import { loadSettings } from "../../../src/config/settings.ts";

const CHART_DIR = join(VALUES_SCHEMA_PATH, "..");

describe("the chart's values.schema.json", () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(valuesSchema());
  const values = parse(readFileSync(join(CHART_DIR, "values.yaml"), "utf8")) as Record<string, unknown>;
  const errors = (candidate: unknown): string[] =>
    validate(candidate) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
  const withSettings = (settings: Record<string, unknown>): Record<string, unknown> => ({ ...values, settings });

  it("is exactly what hack/values-schema.ts writes (run `node hack/values-schema.ts` after changing a setting)", () => {
    expect(readFileSync(VALUES_SCHEMA_PATH, "utf8")).to.equal(valuesSchemaText());
  });

  it("admits the chart's values.yaml, and values a parent chart passes under global", () => {
    expect(errors(values)).to.deep.equal([]);
    expect(errors({ ...values, global: { imageRegistry: "example", storageClass: "x" } })).to.deep.equal([]);
  });

  it("admits every default setting the chart does not own, in the settings file's form", () => {
    const defaults = JSON.parse(JSON.stringify(DEFAULT_SETTINGS)) as Record<string, unknown>;
    for (const owned of CHART_OWNED_SETTINGS) delete defaults[owned];
    const asFile = (node: Record<string, unknown>, prefix: string): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const leaf = settingLeaves().find((l) => l.path === prefix + key);
        if (value !== null && typeof value === "object" && !Array.isArray(value)) out[key] = asFile(value as Record<string, unknown>, `${prefix}${key}.`);
        else out[key] = leaf?.schema["x-duration"] === true ? formatDuration(value as number) : value;
      }
      return out;
    };
    expect(errors(withSettings(asFile(defaults, "")))).to.deep.equal([]);
    // Milliseconds are durations too.
    expect(errors(withSettings({ resyncPeriod: 60_000, postgres: { statementTimeout: 1500 } }))).to.deep.equal([]);
  });

  it("covers every setting: each is in settings or owned by the chart", () => {
    const settingsProps = (valuesSchema().properties as Record<string, { properties: Record<string, unknown> }>).settings!.properties;
    for (const leaf of settingLeaves()) {
      const top = leaf.path.split(".")[0]!;
      const owned = (CHART_OWNED_SETTINGS as readonly string[]).includes(top);
      expect(owned || top in settingsProps, leaf.path).to.equal(true);
      expect(owned && top in settingsProps, `${leaf.path} is both a chart value and a setting`).to.equal(false);
    }
  });

  it("refuses a wrong type, an out-of-range number, a bad duration and an unknown key, naming the path", () => {
    expect(errors(withSettings({ workers: "many" })).join("\n")).to.contain("/settings/workers must be integer");
    expect(errors(withSettings({ workers: 0 })).join("\n")).to.contain("/settings/workers must be >= 1");
    expect(errors(withSettings({ passwordLength: 8 })).join("\n")).to.contain("/settings/passwordLength must be >= 16");
    expect(errors(withSettings({ resyncPeriod: "soon" })).join("\n")).to.contain("/settings/resyncPeriod");
    expect(errors(withSettings({ logLevel: "loud" })).join("\n")).to.contain("/settings/logLevel must be equal to one of the allowed values");
    expect(errors(withSettings({ postgres: { maxConnections: 3 } })).join("\n")).to.contain('/settings/postgres must NOT have additional properties {"additionalProperty":"maxConnections"}');
    expect(errors({ ...values, replicas: 2 }).join("\n")).to.contain('"additionalProperty":"replicas"');
    expect(errors({ ...values, image: { ...(values.image as object), pullPolicy: "Sometimes" } }).join("\n")).to.contain("/image/pullPolicy");
  });

  it("refuses the settings the chart owns under settings (their chart values set them)", () => {
    for (const owned of CHART_OWNED_SETTINGS) {
      expect(errors(withSettings({ [owned]: {} })).join("\n"), owned).to.contain(`"additionalProperty":"${owned}"`);
    }
  });

  it("agrees with the operator: a settings file the schema admits loads, one it refuses is refused at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "wsdb-values-"));
    const load = (settings: Record<string, unknown>): ReturnType<typeof loadSettings> => {
      const file = join(dir, "operator.yaml");
      writeFileSync(file, stringify(settings));
      return loadSettings(["--config", file], {});
    };
    try {
      const admitted = { workers: 8, resyncPeriod: "90s", postgres: { statementTimeout: "12s", lockTimeout: 2000 }, logFormat: "text" };
      expect(errors(withSettings(admitted))).to.deep.equal([]);
      const loaded = load(admitted);
      expect(loaded.workers).to.equal(8);
      expect(loaded.resyncPeriod).to.equal(90_000);
      expect(loaded.postgres.lockTimeout).to.equal(2000);
      for (const refused of [{ workers: 0 }, { logLevel: "loud" }, { postgres: { maxConnections: 3 } }, { backoff: { base: "later" } }]) {
        expect(errors(withSettings(refused)), JSON.stringify(refused)).to.not.deep.equal([]);
        expect(() => load(refused), JSON.stringify(refused)).to.throw();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
