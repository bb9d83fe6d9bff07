/** Every error this SDK throws. */
export class PortcullisError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The API answered with an error status; `message` is its `{"error": ...}` text. */
export class APIStatusError extends PortcullisError {
  /** The HTTP status. */
  readonly status: number;
  /** The answer's body: the parsed JSON, or the text when it is not JSON. */
  readonly body: unknown;
  readonly headers: Headers;

  constructor(status: number, message: string, body: unknown, headers: Headers) {
    super(message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }

  /** The HTTP status (the Python SDK's spelling). */
  get statusCode(): number {
    return this.status;
  }
}

/** 400: bad input; the message names the field and what to write instead. */
export class BadRequestError extends APIStatusError {}
/** 401: no API key, or one that is not valid. */
export class AuthenticationError extends APIStatusError {}
/** 403: a tenant key on an admin-only operation. */
export class PermissionDeniedError extends APIStatusError {}
/** 404: unknown, or another tenant's. */
export class NotFoundError extends APIStatusError {}
/** 409: the change conflicts with the current state. */
export class ConflictError extends APIStatusError {}
/** 429: too many at once; `headers.get('retry-after')` says when to try again. */
export class RateLimitError extends APIStatusError {}

/** The API could not be reached, or the connection broke before an answer came. */
export class APIConnectionError extends PortcullisError {}
/** No answer within the client's `timeout`, or a live log silent for too long. */
export class APITimeoutError extends APIConnectionError {}
/**
 * The call's `signal` was aborted. Its `name` is `'AbortError'`, as for an aborted `fetch`
 * (`assert.rejects(p, { name: 'AbortError' })`); `instanceof APIUserAbortError` and
 * `instanceof PortcullisError` hold as for every error of this SDK.
 */
export class APIUserAbortError extends PortcullisError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/**
 * `{ wait: 'fleet' }` and the fleet did not catch up: the change **was made** (committed, and in
 * force on every node that has applied it), but the nodes in `lagging` had not applied it within
 * the API's 5 s (its `202 {"policy_version", "lagging"}` answer). The call's usual result is not
 * sent then, so none is returned. Do not simply retry (a create would create a second object):
 * wait for `client.nodes.list()` to show every node at `policyVersion`.
 */
export class FleetLaggingError extends PortcullisError {
  readonly status = 202;
  /** The policy version the change committed. */
  readonly policyVersion: number;
  /** Ids of the nodes that had not applied it. */
  readonly lagging: string[];
  /** The call's own answer, as JSON (a created sandbox with its proxy password); undefined for a 204. */
  readonly result: unknown;
  /** The call's own status (201 for a creation). */
  readonly resultStatus: number | undefined;

  constructor(policyVersion: number, lagging: string[], result?: unknown, resultStatus?: number) {
    super(`the change (policy version ${policyVersion}) was made, but these nodes had not applied it within 5 s: ${lagging.join(', ') || '(none named)'}`);
    this.policyVersion = policyVersion;
    this.lagging = lagging;
    this.result = result;
    this.resultStatus = resultStatus;
  }
}

/** The error for a 202 answer of `?wait=fleet` (a body that is not `FleetLagging` is an APIStatusError). */
export function fleetLaggingError(text: string, headers: Headers): PortcullisError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: below
  }
  const { policy_version: version, lagging, status, result } = (body ?? {}) as {
    policy_version?: unknown; lagging?: unknown; status?: unknown; result?: unknown;
  };
  if (typeof version !== 'number' || !Array.isArray(lagging) || !lagging.every((x) => typeof x === 'string')) {
    return new APIStatusError(202, '202 without a policy_version and lagging nodes', body, headers);
  }
  return new FleetLaggingError(version, lagging as string[], result, typeof status === 'number' ? status : undefined);
}

const byStatus: Record<number, typeof APIStatusError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitError,
};

/** The error for an answer with an error status, from its body's text. */
export function statusError(status: number, statusText: string, text: string, headers: Headers): APIStatusError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const error = (body as { error?: unknown } | null)?.error;
  const message = typeof error === 'string' ? error : text.trim().split('\n')[0] || statusText || 'error';
  const Class = byStatus[status] ?? APIStatusError;
  return new Class(status, message, body, headers);
}
