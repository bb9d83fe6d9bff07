// Pending Requests: hosts blocked by default-deny, each one click from Allow or Block,
// 25 a page.
import { api, query, seg } from "./api.js";
import { h, fill, table, ago, fmtCount } from "./dom.js";
import { pager } from "./sandboxes.js";

const PAGE = 25;

/**
 * The whole pending queue (bounded by the gateway's queue capacity), fetched 1,000 at a
 * time by following next_cursor, so the tab can show the exact count. The panel pages it
 * 25 at a time.
 */
async function fetchAll(id) {
  const items = [];
  let cursor = null;
  for (let n = 0; n < 50; n += 1) {
    const p = await api("GET", `/sandboxes/${seg(id, "sandbox")}/network/pending${query({ limit: 1000, cursor })}`);
    items.push(...p.items);
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return items;
}

/** The count shown in the Pending tab's label: "(3)", or nothing. */
export async function pendingCount(id) {
  const items = await fetchAll(id);
  return items.length ? ` (${fmtCount(items.length)})` : "";
}

export function pendingPanel(ctx, id, panel, header) {
  const tenantWide = h("input", { type: "checkbox", id: "pending-tenant-wide" });
  const list = h("div", { id: "pending" });
  let page = 0;
  fill(panel, h("h2", {}, "Pending requests"),
    h("p.muted", {}, "Hosts this sandbox tried to reach that no rule allows. Allow or Block adds an exact rule."),
    h("p", {}, tenantWide, h("label", { for: "pending-tenant-wide" }, " Apply to the whole tenant")), list);

  async function load() {
    let all;
    try { all = await fetchAll(id); } catch (e) { fill(list, h("p.error", { role: "alert" }, e.message)); return; }
    const pages = Math.max(1, Math.ceil(all.length / PAGE));
    page = Math.min(page, pages - 1); // the last entry of the last page was resolved
    const shown = all.slice(page * PAGE, (page + 1) * PAGE);
    const resolve = async (entry, verb) => {
      const r = await ctx.act(null, () => api("POST", `/sandboxes/${seg(id, "sandbox")}/network/pending/${seg(entry.id, "pending")}/${verb}`,
        tenantWide.checked ? { scope: "tenant" } : undefined));
      if (r) ctx.notify(`${verb === "allow" ? "Allowed" : "Blocked"} ${r.rule.host}${r.rule.port ? ":" + r.rule.port : ""} (rule ${r.rule.id}, ${r.rule.source}).`);
      load(); header();
    };
    fill(list, table(["Host", "Port", "Requests", "First seen", "Last seen", "Resolve"], shown.map((e) =>
      h("tr", { dataset: { host: e.host } },
        h("td.mono.host", {}, e.host), h("td", {}, e.port ?? "any"), h("td.num", {}, fmtCount(e.count)),
        h("td", {}, ago(e.first_seen)), h("td", {}, ago(e.last_seen)),
        h("td.buttons", {},
          h("button.allow", { type: "button", onclick: () => resolve(e, "allow"), "aria-label": `Allow ${e.host}` }, "Allow"),
          h("button.block", { type: "button", onclick: () => resolve(e, "block"), "aria-label": `Block ${e.host}` }, "Block"))))),
    pages > 1 ? [h("p.muted", {}, `Page ${page + 1} of ${pages}, ${fmtCount(all.length)} pending`),
      pager(page > 0, page < pages - 1, () => { page -= 1; load(); }, () => { page += 1; load(); })] : null);
  }
  load();
}
