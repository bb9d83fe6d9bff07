// Audit search: filters (action, with reject for what was blocked and `rejected_by`
// showing why; host pattern; window), newest first, paged with the API's cursor.
import { api, query, seg, validId } from "./api.js";
import { h, fill, table, badge } from "./dom.js";
import { LABELS } from "./live.js";
import { pager } from "./sandboxes.js";
import { credentialMarks, credentialData } from "./credentials.js";

export function auditScreen(ctx, container, sandbox) {
  const action = h("select", { id: "audit-action" }, h("option", { value: "" }, "any"),
    Object.entries(LABELS).map(([a, l]) => h("option", { value: a }, `${a} (${l})`)));
  const host = h("input", { id: "audit-host", maxlength: 1024, placeholder: "exact, *.example.com or CIDR" });
  const since = h("select", { id: "audit-since" }, [["1h", "1 h"], ["24h", "24 h"], ["7d", "7 d"], ["30d", "30 d"], ["", "all"]].map(([v, l]) =>
    h("option", { value: v, selected: v === "7d" ? true : null }, l)));
  const sbx = sandbox ? null : h("input", { id: "audit-sandbox", maxlength: 128, placeholder: "sbx_… (all when empty)" });
  const limit = h("select", { id: "audit-limit" }, ["25", "50", "100"].map((n) => h("option", { value: n }, n)));
  const results = h("div", { id: "audit-results" });
  const field = (label, input) => h("div.field", {}, h("label", { for: input.id }, label), input);
  let cursors = [null];
  let page = 0;
  const form = h("form.card.filters", { onsubmit: (e) => { e.preventDefault(); cursors = [null]; page = 0; load(); } },
    h("div.grid", {}, field("Action", action), field("Host", host), field("Since", since), sbx ? field("Sandbox", sbx) : null, field("Per page", limit)),
    h("button.primary", { type: "submit", id: "audit-search" }, "Search"));
  fill(container, sandbox ? h("h2", {}, "Audit") : h("h1", {}, "Audit search"), form, results);

  async function load() {
    fill(results, h("p.muted", {}, "Searching…"));
    let r;
    try {
      r = await api("GET", `/audit${query({ sandbox: sandbox || sbx.value.trim(), action: action.value, host: host.value.trim(), since: since.value, limit: limit.value, cursor: cursors[page] })}`);
    } catch (e) { fill(results, h("p.error", { role: "alert" }, e.message)); return; }
    cursors[page + 1] = r.next_cursor || null;
    fill(results, table(["Time", "Action", "Sandbox", "Via", "Request", "Credential", "Rejected by", "Reason", "Status"], r.items.map((e) =>
      h("tr", { dataset: { action: e.action, host: e.host, ...credentialData(e) } },
        h("td", {}, h("time", { datetime: e.time }, e.time.replace("T", " ").slice(0, 19))),
        h("td", {}, badge(e.action === "reject" ? "deny" : e.action === "warn" ? "warn" : e.action === "error" ? "investigate" : "keep", LABELS[e.action] || e.action),
          e.would_reject ? h("div.muted", {}, "would reject") : null),
        h("td", {}, validId("sandbox", e.sandbox_id) ? h("a.mono", { href: `#/sandbox/${seg(e.sandbox_id, "sandbox")}/network` }, e.sandbox_id) : h("span.mono", {}, e.sandbox_id ?? "")),
        h("td", {}, e.via),
        h("td.mono.host", {}, [e.method, `${e.host}${e.port ? ":" + e.port : ""}`, e.path].filter(Boolean).join(" "),
          e.terminated ? h("span.tls-mark", { title: "seen inside TLS the gateway terminated" }, " [TLS]") : null),
        h("td", {}, credentialMarks(e)),
        h("td.mono", {}, e.rejected_by || ""),
        h("td.muted", {}, e.reason || ""),
        h("td", {}, e.status ?? "")))),
    h("p.muted", {}, `Page ${page + 1}, ${r.items.length} entr${r.items.length === 1 ? "y" : "ies"}`),
    pager(page > 0, !!r.next_cursor, () => { page -= 1; load(); }, () => { page += 1; load(); }));
  }
  load();
}
