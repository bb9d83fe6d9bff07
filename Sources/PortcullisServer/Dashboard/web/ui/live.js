// The live log: audit entries as they are written (Server-Sent Events read with fetch, so
// the key travels in the Authorization header), one ALLOWED / WARN / BLOCKED line each.
import { stream, query } from "./api.js";
import { h, fill, clock } from "./dom.js";
import { credentialMarks, credentialData } from "./credentials.js";

const MAX_LINES = 500;
export const LABELS = { allow: "ALLOWED", warn: "WARN", reject: "BLOCKED", error: "ERROR" };

/** `sandbox`: only this sandbox's entries, or null for the whole tenant (with a sandbox filter). */
export function liveScreen(ctx, container, sandbox) {
  const controller = new AbortController();
  ctx.onLeave(() => controller.abort());
  const state = h("span.stream-state", { id: "live-state" }, "connecting…");
  const shown = {};
  const boxes = Object.entries(LABELS).map(([action, label]) => {
    const box = h("input", { type: "checkbox", id: `live-${action}`, checked: true, onchange: () => { shown[action] = box.checked; refilter(); } });
    shown[action] = true;
    return h("span.check", {}, box, h("label", { for: box.id }, ` ${label}`));
  });
  const hostFilter = h("input", { id: "live-host", type: "search", placeholder: "host contains…", oninput: () => refilter() });
  const sandboxFilter = sandbox ? null : h("input", { id: "live-sandbox", placeholder: "sbx_…", oninput: () => refilter() });
  let paused = false;
  const pause = h("button", { type: "button", "aria-pressed": "false", onclick: () => { paused = !paused; pause.setAttribute("aria-pressed", String(paused)); fill(pause, paused ? "Resume" : "Pause"); } }, "Pause");
  const log = h("ol.live-log", { id: "live-log", "aria-live": "off", "aria-label": "Live log" });
  const heading = sandbox ? h("h2", {}, "Live log") : h("h1", {}, "Live log");
  fill(container, heading,
    h("div.filters", { role: "group", "aria-label": "Filters" }, boxes,
      h("label", { for: "live-host" }, "Host"), hostFilter,
      sandboxFilter ? [h("label", { for: "live-sandbox" }, "Sandbox"), sandboxFilter] : null,
      pause, h("button", { type: "button", onclick: () => log.replaceChildren() }, "Clear"), state),
    h("p.muted", {}, "New entries appear as the gateway writes them; older ones are in Audit."), log);

  const visible = (li) => shown[li.dataset.action] !== false
    && (!hostFilter.value || li.dataset.host.includes(hostFilter.value.trim().toLowerCase()))
    && (!sandboxFilter || !sandboxFilter.value || li.dataset.sandbox === sandboxFilter.value.trim());
  function refilter() { for (const li of log.children) li.hidden = !visible(li); }

  stream(`/audit/stream${query({ sandbox })}`, {
    signal: controller.signal,
    onState: (s) => fill(state, s === "open" ? "● live" : s),
    onEvent: (e) => {
      if (paused) return;
      const label = LABELS[e.action] || String(e.action).toUpperCase();
      const target = `${e.host}${e.port ? ":" + e.port : ""}`;
      const why = e.action === "allow" || e.action === "warn"
        ? (e.would_reject ? `would be blocked: ${e.rejected_by || e.reason}` : e.rule_id ? `rule ${e.rule_id}` : e.reason)
        : `${e.rejected_by || ""}${e.reason ? " — " + e.reason : ""}`;
      const li = h(`li.line.line-${e.action}`, { dataset: { action: e.action, host: String(e.host).toLowerCase(), sandbox: e.sandbox_id,
        ...credentialData(e) } },
        h("time", { datetime: e.time }, clock(e.time)), " ",
        h("strong.label", {}, label.padEnd(7)), " ",
        h("span.mono", {}, [e.method, target, e.path].filter(Boolean).join(" ")), " ",
        e.terminated ? h("span.tls-mark", { title: "seen inside TLS the gateway terminated" }, "[TLS] ") : null,
        h("span.mono.status", { title: "status" }, statusText(e)), " ",
        sandbox ? null : h("span.muted", {}, e.sandbox_id + " "),
        credentialMarks(e), " ",
        h("span.muted", {}, why || ""));
      li.hidden = !visible(li);
      log.prepend(li);
      while (log.children.length > MAX_LINES) log.lastElementChild.remove();
    },
  });
}

/** The status as `policy log` prints it: what the client was answered, `-` for none and for every BLOCKED line. */
export function statusText(e) {
  return e.action === "reject" || e.status === null || e.status === undefined ? "-" : String(e.status);
}

/**
 * Calls `changed` while new audit entries of `sandbox` arrive, at most once a second, until
 * the screen is left: the Network tab's hosts, counts and pending entries follow the traffic
 * without a reload.
 */
export function onTraffic(ctx, sandbox, changed) {
  const controller = new AbortController();
  ctx.onLeave(() => controller.abort());
  let timer = null;
  stream(`/audit/stream${query({ sandbox })}`, {
    signal: controller.signal,
    onState: () => {},
    onEvent: () => {
      if (timer !== null) return;
      timer = setTimeout(() => { timer = null; if (!controller.signal.aborted) changed(); }, 1000);
    },
  });
}
