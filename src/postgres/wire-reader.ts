// Buffers the bytes a PostgreSQL server sends and hands them out as whole backend messages.
import { PostgresError } from "./errors.ts";
import { MAX_BACKEND_MESSAGE_BYTES, protocolViolation, type BackendMessage } from "./wire.ts";

/**
 * A pull reader over pushed chunks: `push` what the socket delivers, `fail` on a socket error or a
 * timeout, `close` at the end of the stream; `readByte`/`readMessage` wait for enough bytes and
 * reject once the stream failed or ended before they arrived (bytes already received are served first).
 */
export class MessageReader {
  #buffer: Buffer = Buffer.alloc(0);
  #failure: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  /** Adds bytes received from the server. */
  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#notify();
  }

  /** Makes reads that cannot be served from the buffer fail with `error` (the first failure wins). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#notify();
  }

  /** Marks the end of the stream. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Reads one byte (the server's answer to SSLRequest). */
  async readByte(): Promise<number> {
    await this.#need(1);
    const byte = this.#buffer[0]!;
    this.#buffer = this.#buffer.subarray(1);
    return byte;
  }

  /** Reads one backend message; a length below 4 or above MAX_BACKEND_MESSAGE_BYTES is a protocol violation. */
  async readMessage(): Promise<BackendMessage> {
    await this.#need(5);
    const type = String.fromCharCode(this.#buffer[0]!);
    const length = this.#buffer.readInt32BE(1);
    if (length < 4 || length > MAX_BACKEND_MESSAGE_BYTES) throw protocolViolation(`backend message '${type}' has length ${length}`);
    await this.#need(1 + length);
    const body = this.#buffer.subarray(5, 1 + length);
    this.#buffer = this.#buffer.subarray(1 + length);
    return { type, body };
  }

  async #need(bytes: number): Promise<void> {
    while (this.#buffer.length < bytes) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#closed) throw new PostgresError("Unavailable", "server closed the connection unexpectedly", { code: "08006" });
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
