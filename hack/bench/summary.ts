// The benchmark's figures of one run (written with --json) and their summary over repeated runs:
// the median and the worst run of each figure side by side, never the best one.
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";

/** One figure of one run: every figure the benchmark records is worse when higher. */
export interface Figure {
  /** What it is, e.g. "P1 ratio to the floor" or "P2 worst sample". */
  name: string;
  /** Objects in all at that step (0 for run-wide figures such as the idle RSS or the slope). */
  objects: number;
  value: number;
  unit: string;
}

/** What one run of hack/bench.ts records. */
export interface RunRecord {
  figures: Figure[];
  /** Every P2 sample (ms) by objects in all, in the order the regenerations were made. */
  p2Samples: Record<string, number[]>;
  /** The machine's 1-minute load average at the start of each step and at the end of the run, and its cores. */
  load: { at: string; load1: number }[];
  cores: number;
}

/** The machine's 1-minute load average now, labelled `at`. */
export function loadSample(at: string): { at: string; load1: number } {
  return { at, load1: Number(loadavg()[0]!.toFixed(2)) };
}

/** The machine's cores, as the load figures are read against. */
export function cores(): number {
  return availableParallelism();
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The worst run: the highest value (every figure is worse when higher). */
export function worst(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "n/a";
  const digits = unit === "" || unit === "ratio" ? 2 : Math.abs(value) >= 100 ? 0 : 1;
  return `${value.toFixed(digits)}${unit === "" || unit === "ratio" ? "" : ` ${unit}`}`;
}

/**
 * The summary of `runs`: one line per figure (in the order of the first run) with the median, the
 * worst run and every run's value; then every P2 sample of every run, and the load of each run.
 */
export function summarize(runs: readonly RunRecord[]): string[] {
  const lines: string[] = [];
  const order: string[] = [];
  const byKey = new Map<string, { figure: Figure; values: number[] }>();
  for (const run of runs) {
    for (const figure of run.figures) {
      const key = `${figure.objects}\u0000${figure.name}`;
      let entry = byKey.get(key);
      if (entry === undefined) {
        entry = { figure, values: [] };
        byKey.set(key, entry);
        order.push(key);
      }
      entry.values.push(figure.value);
    }
  }
  lines.push(`${runs.length} runs: median and worst run of each figure (every figure is worse when higher)`);
  lines.push("");
  lines.push("| objects | figure | median | worst | every run |");
  lines.push("|---|---|---|---|---|");
  for (const key of order) {
    const { figure, values } = byKey.get(key)!;
    const where = figure.objects === 0 ? "-" : figure.objects.toLocaleString("en-US");
    lines.push(`| ${where} | ${figure.name} | ${format(median(values), figure.unit)} | ${format(worst(values), figure.unit)} | ${values.map((v) => format(v, "")).join(", ")} |`);
  }
  const steps = [...new Set(runs.flatMap((r) => Object.keys(r.p2Samples)))].sort((a, b) => Number(a) - Number(b));
  if (steps.length > 0) {
    lines.push("");
    lines.push("P2 samples (ms, regenerate -> old password refused), each run sorted:");
    for (const step of steps) {
      runs.forEach((run, i) => {
        const samples = run.p2Samples[step];
        if (samples !== undefined) lines.push(`  ${Number(step).toLocaleString("en-US")} objects, run ${i + 1}: ${[...samples].sort((a, b) => a - b).join(" ")}`);
      });
    }
  }
  lines.push("");
  lines.push("Machine load (1-minute average) during each run:");
  runs.forEach((run, i) => {
    lines.push(`  run ${i + 1} (${run.cores} cores): ${run.load.map((l) => `${l.at} ${l.load1.toFixed(2)}`).join(", ")}`);
  });
  return lines;
}

/** Reads the records written by runs with --json. */
export function readRuns(files: readonly string[]): RunRecord[] {
  return files.map((file) => JSON.parse(readFileSync(file, "utf8")) as RunRecord);
}
