import { fromWire } from './convert.js';
import { APITimeoutError } from './errors.js';
import { operations, OperationId } from './operations.js';
import { Call, RequestOptions, Sent, Transport } from './transport.js';

/**
 * The live log is kept open through quiet spells: the API sends a keep-alive every 15 s, so
 * a stream is only given up after this long without a byte (or the client's timeout, if longer).
 */
export const STREAM_IDLE_MS = 45_000;

/**
 * Server-Sent Events, line by line (WHATWG HTML, "event stream interpretation"): `data:`
 * lines are joined, a blank line dispatches, comments (`: keep-alive`) and other fields are ignored.
 */
export class SSEDecoder {
  #data: string[] = [];

  /** Returns an event's data when `line` completes one. */
  feed(line: string): string | undefined {
    if (line === '') {
      if (this.#data.length === 0) return undefined;
      const data = this.#data.join('\n');
      this.#data = [];
      return data;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.#data.push(value);
    return undefined;
  }
}

/** JSON lines: every non-empty line is one document. */
class NDJSONDecoder {
  feed(line: string): string | undefined {
    const text = line.trim();
    return text === '' ? undefined : text;
  }
}

/**
 * Entries as the API writes them: `for await (const e of sandbox.network.log()) { … }`.
 *
 * The request is sent by `open()` (so entries written after it resolves are seen) or by the
 * first iteration. Leaving the loop (`break`), `close()`, the call's `signal`, or the API
 * closing the stream ends it. The live log never ends by itself; a connection silent for
 * longer than the keep-alive allows throws APITimeoutError.
 */
export class EventStream<T> implements AsyncIterable<T> {
  readonly #transport: Transport;
  readonly #id: OperationId;
  readonly #call: Call;
  readonly #opts: RequestOptions;
  #sent: Promise<Sent> | undefined;
  #closed = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(transport: Transport, id: OperationId, call: Call, opts: RequestOptions = {}) {
    this.#transport = transport;
    this.#id = id;
    this.#call = call;
    this.#opts = opts;
  }

  /** Sends the request and waits for the answer's head (once). */
  async open(): Promise<this> {
    this.#sent ??= this.#transport.send(this.#id, this.#call, this.#opts, true);
    await this.#sent;
    return this;
  }

  /** Ends the stream and releases its connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const sent = await this.#sent?.catch(() => undefined);
    if (!sent) return;
    sent.done();
    try {
      await (this.#reader ?? sent.response.body)?.cancel();
    } catch {
      // already ended
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    await this.open();
    const sent = await this.#sent!;
    const decoder = operations[this.#id].kind === 'sse' ? new SSEDecoder() : new NDJSONDecoder();
    const text = new TextDecoder();
    const idle = Math.max(this.#opts.timeout ?? this.#transport.timeout, STREAM_IDLE_MS);
    this.#reader = sent.response.body?.getReader();
    let buffer = '';
    try {
      while (this.#reader && !this.#closed) {
        const chunk = await readWithin(this.#reader, idle).catch((error) => sent.fail(error));
        if (chunk.done) break;
        buffer += text.decode(chunk.value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          const data = decoder.feed(line);
          if (data !== undefined) yield fromWire<T>(JSON.parse(data));
        }
      }
      const last = decoder.feed(buffer.replace(/\r$/, ''));
      if (last !== undefined && !this.#closed) yield fromWire<T>(JSON.parse(last));
    } finally {
      await this.close();
    }
  }
}

/** One read, or APITimeoutError after `ms` without a byte (the reader is cancelled). */
async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reader.cancel().catch(() => undefined);
      reject(new APITimeoutError(`the Portcullis API stream was silent for ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([reader.read(), silent]);
  } finally {
    clearTimeout(timer);
  }
}
