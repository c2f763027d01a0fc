// Unit tests of SQLSTATE / network error classification and secret redaction.
import { expect } from "chai";
import { classifyPgError, kindOf, PostgresError, redact } from "../../../src/postgres/errors.ts";
import type { PostgresErrorKind } from "../../../src/postgres/errors.ts";

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR" });
}

describe("postgres/errors", () => {
  const cases: [string, PostgresErrorKind][] = [
    ["08006", "Unavailable"], ["08001", "Unavailable"], ["ECONNREFUSED", "Unavailable"], ["ETIMEDOUT", "Unavailable"],
    ["ENOTFOUND", "Unavailable"], ["EHOSTUNREACH", "Unavailable"],
    ["28P01", "AuthenticationFailed"], ["28000", "AuthenticationFailed"],
    ["42501", "PermissionDenied"],
    ["42710", "Conflict"], ["42P04", "Conflict"], ["2BP01", "Conflict"],
    ["57P01", "Transient"], ["57P03", "Transient"], ["53300", "Transient"], ["53100", "Transient"], ["40001", "Transient"],
    ["40P01", "Transient"], ["55006", "Transient"],
    ["22023", "InvalidSpec"], ["22P02", "InvalidSpec"], ["42601", "InvalidSpec"], ["0A000", "InvalidSpec"], ["58P01", "InvalidSpec"],
    ["XX000", "Unknown"], ["42P01", "Unknown"],
  ];
  for (const [code, kind] of cases) {
    it(`maps ${code} to ${kind}`, () => {
      expect(kindOf(code)).to.equal(kind);
      expect(classifyPgError(pgError(code, "boom"), "doing x").kind).to.equal(kind);
    });
  }

  it("recognises pg's connection errors without a code", () => {
    expect(classifyPgError(new Error("Connection terminated unexpectedly"), "c").kind).to.equal("Unavailable");
    expect(classifyPgError(new Error("timeout exceeded when trying to connect"), "c").kind).to.equal("Unavailable");
    expect(classifyPgError(new Error("Connection terminated due to connection timeout"), "c").kind).to.equal("Unavailable");
  });

  it("reads the code of an AggregateError from a dual-stack connect", () => {
    const err = new AggregateError([Object.assign(new Error("connect ECONNREFUSED ::1:5432"), { code: "ECONNREFUSED" })], "");
    const classified = classifyPgError(err, "connecting");
    expect(classified.kind).to.equal("Unavailable");
    expect(classified.code).to.equal("ECONNREFUSED");
    expect(classified.message).to.equal("connecting: connect ECONNREFUSED ::1:5432");
  });

  it("builds `<context>: <reason> (<code>)` and keeps a clean original as cause", () => {
    const original = pgError("42501", "permission denied to create database");
    const classified = classifyPgError(original, "create database m");
    expect(classified).to.be.instanceOf(PostgresError);
    expect(classified.message).to.equal("create database m: permission denied to create database (42501)");
    expect(classified.code).to.equal("42501");
    expect(classified.cause).to.equal(original);
  });

  it("classifies non-Error values", () => {
    expect(classifyPgError("weird", "c").kind).to.equal("Unknown");
    expect(classifyPgError(undefined, "c").message).to.equal("c: unknown error");
  });

  it("passes a PostgresError through", () => {
    const err = new PostgresError("Conflict", "taken");
    expect(classifyPgError(err, "c")).to.equal(err);
  });

  it("removes verifiers and given passwords from message and cause", () => {
    const verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
    const original = pgError("42601", `syntax error at or near "${verifier}" near hunter2hunter2`);
    const classified = classifyPgError(original, "set password of hunter2hunter2", ["hunter2hunter2"]);
    expect(classified.message).to.not.include("c3RvcmVk");
    expect(classified.message).to.not.include("hunter2hunter2");
    expect(classified.cause).to.not.equal(original);
    expect(String((classified.cause as Error).message)).to.not.include("hunter2hunter2");
    expect(String((classified.cause as Error).message)).to.not.include("c3RvcmVk");
    expect((classified.cause as { code?: string }).code).to.equal("42601");
  });

  it("redact ignores very short secrets", () => {
    expect(redact("abc", ["", "a"])).to.equal("abc");
    expect(redact("x SCRAM-SHA-256$1:a$b:c y")).to.equal("x SCRAM-SHA-256$[redacted] y");
  });
});
