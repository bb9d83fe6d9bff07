import { toWire } from './convert.js';
import { APIConnectionError, APITimeoutError, APIUserAbortError, fleetLaggingError, PortcullisError, statusError } from './errors.js';
import { OperationId, operations } from './operations.js';

export const VERSION = '0.1.0';
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The media type each kind of answer comes in (the API refuses a request that accepts another). */
const ACCEPT: Record<string, string> = { text: 'text/plain', pem: 'application/x-pem-file', sse: 'text/event-stream', ndjson: 'application/x-ndjson' };

/** Options every call takes as its optional last argument. */
export interface RequestOptions {
  /** Aborts the call (and ends a live log or export): the call rejects with APIUserAbortError. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call, in milliseconds. */
  timeout?: number;
}

/**
 * Options of a policy-changing call: `{ wait: 'fleet' }` answers once every node of the fleet
 * that is not down has applied the change (FLEET.md), or rejects with FleetLaggingError when
 * some had not within 5 s (the change is made all the same).
 */
export interface WaitOptions extends RequestOptions {
  wait?: 'fleet';
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['signal', 'timeout', 'wait']);

/**
 * A call's params and options where the params are optional, so the options may come in
 * their place: `log({ signal })`, `list({ action: 'reject', signal })` (SDK.md: every call
 * takes `{ signal }` as its optional last argument). No params object has a `signal`,
 * `timeout` or `wait` field, so those keys are taken out of `params` as options; options
 * given as the last argument win. `params` is undefined when nothing else was in it.
 */
export function splitOptions<P extends object, O extends WaitOptions>(params: P | undefined,
                                                                       opts: O | undefined): [Omit<P, keyof WaitOptions> | undefined, O | undefined] {
  if (typeof params !== 'object' || params === null || !Object.keys(params).some((k) => OPTION_KEYS.has(k))) return [params, opts];
  const rest: Record<string, unknown> = {};
  const found: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) (OPTION_KEYS.has(k) ? found : rest)[k] = v;
  for (const [k, v] of Object.entries(opts ?? {})) if (v !== undefined) found[k] = v;
  return [Object.keys(rest).length > 0 ? (rest as Omit<P, keyof WaitOptions>) : undefined, found as O];
}

/** What one call sends: path parameters, query parameters and body (camelCase). */
export interface Call {
  path?: readonly string[];
  query?: Record<string, string | number | undefined | null>;
  body?: unknown;
  /** Error statuses that are answers for this call (`/readyz`'s 503). */
  accept?: readonly number[];
}

/** A sent request: its answer, and the hook that ends it (the answer's body may still be read). */
export interface Sent {
  response: Response;
  /** Resolves or rejects a pending body read the way the call's signal and timeout say. */
  fail(error: unknown): never;
  done(): void;
  readonly signal: AbortSignal;
}

/** The part of the client that sends operations; resources use it. */
export class Transport {
  readonly baseURL: string;
  readonly timeout: number;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(baseURL: string, apiKey: string, timeout: number, fetchImpl: typeof fetch) {
    this.baseURL = baseURL;
    this.#apiKey = apiKey;
    this.timeout = timeout;
    this.#fetch = fetchImpl;
  }

  url(id: OperationId, call: Call, wait?: string): string {
    const op = operations[id];
    const path = call.path ?? [];
    if (path.length !== op.pathParams.length) {
      throw new TypeError(`${id} takes ${op.pathParams.length} path parameters, not ${path.length}`);
    }
    let text: string = op.path;
    op.pathParams.forEach((name, i) => {
      text = text.replace(`{${name}}`, segment(name, path[i]));
    });
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value === undefined || value === null) continue;
      const wire = key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
      if (!(op.query as readonly string[]).includes(wire)) throw new TypeError(`${key} is not a query parameter of ${op.path}`);
      params.set(wire, String(value));
    }
    if (wait !== undefined) {
      if (!op.fleetWait) throw new TypeError(`${id} changes no policy, so it takes no wait`);
      if (wait !== 'fleet') throw new TypeError(`wait must be 'fleet', not ${JSON.stringify(wait)}`);
      params.set('wait', 'fleet');
    }
    const query = params.toString();
    return this.baseURL + text + (query ? `?${query}` : '');
  }

  /** Sends one operation; error statuses reject with the matching APIStatusError. */
  async send(id: OperationId, call: Call, opts: WaitOptions = {}, stream = false): Promise<Sent> {
    const op = operations[id];
    const headers: Record<string, string> = { Accept: ACCEPT[op.kind] ?? 'application/json', 'User-Agent': `portcullis-typescript/${VERSION}` };
    if (op.auth) headers.Authorization = `Bearer ${this.#apiKey}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      if (!op.body) throw new TypeError(`${op.method} ${op.path} takes no body`);
      body = JSON.stringify(toWire(call.body, op.body));
      headers['Content-Type'] = 'application/json';
    }
    const url = this.url(id, call, opts.wait);
    const controller = new AbortController();
    const user = opts.signal;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, opts.timeout ?? this.timeout);
    const onAbort = () => controller.abort();
    if (user?.aborted) {
      clearTimeout(timer);
      throw new APIUserAbortError('the request was aborted');
    }
    user?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      user?.removeEventListener('abort', onAbort);
    };
    const fail = (error: unknown): never => {
      done();
      if (error instanceof PortcullisError) throw error;
      if (user?.aborted) throw new APIUserAbortError('the request was aborted', { cause: error });
      if (timedOut) throw new APITimeoutError(`the Portcullis API did not answer within ${opts.timeout ?? this.timeout} ms`, { cause: error });
      throw new APIConnectionError(`could not reach the Portcullis API at ${this.baseURL}: ${describe(error)}`, { cause: error });
    };
    let response: Response;
    try {
      response = await this.#fetch(url, { method: op.method, headers, body, signal: controller.signal });
      if (response.status >= 400 && !(call.accept ?? []).includes(response.status)) {
        const text = await response.text();
        throw statusError(response.status, response.statusText, text, response.headers);
      }
      if (response.status === 202 && opts.wait !== undefined) throw fleetLaggingError(await response.text(), response.headers);
    } catch (error) {
      return fail(error);
    }
    if (stream) clearTimeout(timer); // a live answer has no deadline; its reader watches for silence
    return { response, fail, done, signal: controller.signal };
  }

  /** Sends one operation and reads its whole answer (JSON, or text for text answers). */
  async read<T>(id: OperationId, call: Call, opts?: WaitOptions): Promise<{ status: number; data: T }> {
    const sent = await this.send(id, call, opts);
    let text: string;
    try {
      text = await sent.response.text();
    } catch (error) {
      return sent.fail(error);
    }
    sent.done();
    const kind = operations[id].kind;
    if (kind === 'text' || kind === 'pem' || kind === 'empty') return { status: sent.response.status, data: text as T };
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new APIConnectionError(`the Portcullis API answered ${sent.response.status} with a body that is not JSON`, { cause: error });
    }
    return { status: sent.response.status, data: (kind === 'data' ? (data as { data: unknown }).data : data) as T };
  }
}

/** One path parameter, percent-encoded; empty, `.` and `..` are refused (they would change the route). */
function segment(name: string, value: string | undefined): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  if (value === '.' || value === '..') throw new TypeError(`${name} must not be '${value}'`);
  return encodeURIComponent(value);
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
