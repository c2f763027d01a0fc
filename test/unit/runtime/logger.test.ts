// Unit tests of the logger: JSON lines with timestamp, child fields, text format, key fields.
import { expect } from "chai";
import { Writable } from "node:stream";
import { createLogger, keyFields } from "../../../src/runtime/logger.ts";

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _enc, cb) => { lines.push(chunk.toString().trimEnd()); cb(); } });
  return { stream, lines };
}

describe("createLogger", () => {
  it("writes one JSON object per line with timestamp, level and child fields", () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: "info", stream });
    log.child({ namespace: "ns", name: "n", reconcileID: "r1" }).info("hello", { extra: 1 });
    log.debug("hidden");
    expect(lines).to.have.length(1);
    const obj = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(obj).to.include({ level: "info", message: "hello", namespace: "ns", name: "n", reconcileID: "r1", extra: 1 });
    expect(new Date(obj.timestamp as string).getTime()).to.be.greaterThan(0);
  });

  it("writes readable text lines in text format", () => {
    const { stream, lines } = capture();
    createLogger({ level: "debug", format: "text", stream }).warn("careful", { name: "x" });
    expect(lines[0]).to.match(/^\d{4}-\d\d-\d\dT.* WARN careful \{"name":"x"\}$/);
  });

  it("keyFields splits namespaced and cluster-scoped keys", () => {
    expect(keyFields("ns/a")).to.deep.equal({ namespace: "ns", name: "a" });
    expect(keyFields("a")).to.deep.equal({ name: "a" });
  });
});
