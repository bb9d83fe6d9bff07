// The API client. The key lives in sessionStorage (gone when the tab closes), is sent only
// as `Authorization: Bearer`, and never appears in a URL. Errors carry the API's own
// `{"error": "..."}` text.

const KEY = "portcullis.api-key";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (k) => sessionStorage.setItem(KEY, k),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}, key = session.key()) {
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

/** Builds `?a=1&b=2`, leaving out empty values. */
export function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/**
 * What each kind of id or name looks like. The router and every URL builder check against
 * these, so a value taken from the location (`#/sandbox/%2e%2e/rules`) can never become a
 * path that reaches another route once the browser removes its dot-segments.
 */
export const ID_PATTERNS = {
  sandbox: /^sbx_[a-z0-9]{1,124}$/,
  rule: /^rul_[a-z0-9_-]{1,124}$/,
  pending: /^pnd_[a-z0-9]{1,124}$/,
  profile: /^[a-z][a-z0-9-]{0,63}$/,
  template: /^[a-z0-9][a-z0-9._-]{0,63}$/,
  credential: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
};

/** Whether `value` is a well-formed id or name of `kind` (a key of ID_PATTERNS). */
export function validId(kind, value) {
  return typeof value === "string" && ID_PATTERNS[kind].test(value);
}

/** One URL path segment holding an id or name of `kind`; throws for anything else. */
export function seg(value, kind) {
  if (!validId(kind, value)) throw new APIError(0, `${JSON.stringify(String(value)).slice(0, 80)} is not a valid ${kind} id or name`);
  return encodeURIComponent(value);
}

/**
 * One call to /api/v1{path}; resolves to the parsed JSON (null for 204), rejects with
 * APIError. `key` checks a key before it is stored (sign-in): its 401 does not sign out.
 */
export async function api(method, path, body, { key } = {}) {
  // Belt and braces: a dot-segment would be removed by the browser and reach another route.
  if (/(^|\/)(\.|%2e){1,2}(\/|\?|$)/i.test(path)) throw new APIError(0, `refused to call ${path}: it holds a . or .. segment`);
  const init = { method, headers: headers({}, key ?? session.key()), cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    throw new APIError(0, `the gateway did not answer (${e.message})`);
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    const message = data && typeof data.error === "string" ? data.error : `HTTP ${r.status}`;
    if (r.status === 401 && key === undefined) window.dispatchEvent(new CustomEvent("portcullis:unauthorized"));
    throw new APIError(r.status, message);
  }
  return data;
}

/** The APIError of a failed non-JSON call (its `{"error"}` text when it has one); a 401 signs out. */
async function failure(r) {
  let message = `HTTP ${r.status}`;
  try { message = (await r.json()).error || message; } catch { /* keep the status */ }
  if (r.status === 401) window.dispatchEvent(new CustomEvent("portcullis:unauthorized"));
  return new APIError(r.status, message);
}

/**
 * Follows a Server-Sent Events endpoint with fetch and a body reader (EventSource cannot
 * send the Authorization header). Calls onEvent(parsed JSON) per `data:` event and
 * onState("open" | "closed" | error text). Reconnects after a drop until `signal` aborts.
 */
export async function stream(path, { onEvent, onState, signal }) {
  let delay = 500;
  while (!signal.aborted) {
    try {
      const r = await fetch(`/api/v1${path}`, { headers: headers({ Accept: "text/event-stream" }), cache: "no-store", credentials: "omit", signal });
      if (!r.ok) {
        const { message } = await failure(r);
        onState(message);
        if (r.status >= 400 && r.status < 500) return;
      } else {
        onState("open");
        delay = 500;
        await readEvents(r.body.getReader(), onEvent);
        onState("closed");
      }
    } catch (e) {
      if (signal.aborted) return;
      onState(`disconnected (${e.message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

async function readEvents(reader, onEvent) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    if (buffer.length > 1 << 20) buffer = buffer.slice(-(1 << 16)); // bounded: never hold more than 1 MiB
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (!data) continue;
      try { onEvent(JSON.parse(data)); } catch { /* a malformed event is skipped */ }
    }
  }
}

/**
 * Downloads /api/v1{path} as a file named `filename` (the key goes in the header, never in
 * a URL, so a plain link cannot do it): fetched, then saved through a temporary object URL.
 */
export async function download(path, filename) {
  let r;
  try {
    r = await fetch(`/api/v1${path}`, { headers: headers(), cache: "no-store", credentials: "omit", redirect: "error" });
  } catch (e) {
    throw new APIError(0, `the gateway did not answer (${e.message})`);
  }
  if (!r.ok) throw await failure(r);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
