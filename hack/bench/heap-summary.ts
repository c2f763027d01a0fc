// Summarises a V8 heap snapshot (from the benchmark's --heap-snapshot): retained bytes by constructor name, largest first.
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: node hack/bench/heap-summary.ts FILE.heapsnapshot [top]\n");
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const width = fields.length;
const typeAt = fields.indexOf("type");
const nameAt = fields.indexOf("name");
const sizeAt = fields.indexOf("self_size");
const types = snap.snapshot.meta.node_types[0];
const bySelf = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]!] ?? "?";
  const name = type === "object" || type === "closure" ? snap.strings[snap.nodes[i + nameAt]!] ?? "?" : `(${type})`;
  const size = snap.nodes[i + sizeAt]!;
  total += size;
  const entry = bySelf.get(name) ?? { count: 0, bytes: 0 };
  entry.count++;
  entry.bytes += size;
  bySelf.set(name, entry);
}
process.stdout.write(`total self size ${(total / 1e6).toFixed(1)} MB in ${snap.nodes.length / width} objects\n`);
for (const [name, { count, bytes }] of [...bySelf].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
  process.stdout.write(`${(bytes / 1e6).toFixed(2).padStart(8)} MB ${String(count).padStart(9)}  ${name.slice(0, 80)}\n`);
}
