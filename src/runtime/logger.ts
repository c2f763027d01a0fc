// Structured logging for the operator: winston, one JSON object per line, with child loggers per object.
import winston from "winston";

/** The logger type used across the operator; `log.child({...})` adds fields to every line. */
export type Logger = winston.Logger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** winston/npm level: error, warn, info, http, verbose, debug, silly. */
  level: string;
  /** "json" (default): one JSON object per line; "text": human-readable lines for a terminal. */
  format?: "json" | "text";
  /** Where lines go; stdout when absent. Tests pass a stream to capture output. */
  stream?: NodeJS.WritableStream;
  /** Fields added to every line (for example `{ component: "manager" }`). */
  defaultMeta?: Record<string, unknown>;
}

/**
 * Creates a logger writing to stdout (or `opts.stream`). Every line carries `timestamp`, `level` and
 * `message`; in JSON format errors passed as metadata are rendered with their message and stack.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const { combine, timestamp, errors, json, printf } = winston.format;
  const text = printf((info) => {
    const { level, message, timestamp: ts, ...rest } = info;
    const fields = Object.keys(rest).length > 0 ? " " + JSON.stringify(rest) : "";
    return `${String(ts)} ${level.toUpperCase()} ${String(message)}${fields}`;
  });
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console();
  return winston.createLogger({
    level: opts.level,
    defaultMeta: opts.defaultMeta,
    format: combine(errors({ stack: true }), timestamp(), opts.format === "text" ? text : json()),
    transports: [transport],
  });
}

/**
 * Fields that identify an object by its work-queue key ("ns/name" or "name"), for `log.child(...)`.
 * A key without a slash yields only `name` (cluster-scoped objects).
 */
export function keyFields(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * Renders an unknown thrown value as a message, for log lines ("err" field) and classified errors. An
 * AggregateError without a message of its own (Node's connect error when every address failed) says
 * what its first error says.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    if (err.message === "" && err instanceof AggregateError && err.errors[0] instanceof Error) return err.errors[0].message;
    return err.message;
  }
  return typeof err === "string" ? err : JSON.stringify(err) ?? String(err);
}
