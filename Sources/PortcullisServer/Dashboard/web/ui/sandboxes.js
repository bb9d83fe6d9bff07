// The sandboxes list: mode badge, last activity and blocked requests in the last 24 h.
// The API has no summary endpoint, so each row asks the audit log two bounded questions
// (the newest entry; up to 100 rejects since 24h, shown as "100+" past that) — a page holds at most 20 rows.
import { api, query, seg } from "./api.js";
import { h, fill, table, ago, badge, fmtCount } from "./dom.js";

const PAGE = 20;

export function sandboxesScreen(ctx) {
  const cursors = [null];
  let page = 0;
  const body = h("div");
  const status = h("p.muted", { "aria-live": "polite" });
  const name = h("input", { id: "new-sandbox-name", maxlength: 128, placeholder: "optional" });
  const create = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      const sbx = await ctx.act("Sandbox created.", () => api("POST", "/sandboxes", name.value.trim() ? { name: name.value.trim() } : {}));
      if (sbx) { name.value = ""; load(); }
    },
  }, h("label", { for: "new-sandbox-name" }, "New sandbox name"), name, h("button", { type: "submit" }, "Create sandbox"));

  async function load() {
    fill(status, "Loading…");
    let list;
    try {
      list = await api("GET", `/sandboxes${query({ limit: PAGE, cursor: cursors[page] })}`);
    } catch (e) {
      fill(status, ""); fill(body, h("p.error", { role: "alert" }, e.message)); return;
    }
    cursors[page + 1] = list.next_cursor || null;
    const rows = list.items.map((s) => {
      const last = h("td", {}, "…");
      const blocked = h("td.num", {}, "…");
      summarize(s.id, last, blocked);
      return h("tr", { dataset: { sandbox: s.id } },
        h("td", {}, h("a", { href: `#/sandbox/${seg(s.id, "sandbox")}/network` }, s.name || s.id), s.name ? h("div.muted.mono", {}, s.id) : null),
        h("td", {}, badge(s.mode), s.own_mode === null ? h("span.muted", {}, " (tenant default)") : null),
        last, blocked,
        h("td", {}, s.profiles.length ? s.profiles.join(", ") : h("span.muted", {}, "none")));
    });
    fill(status, `Page ${page + 1}`);
    fill(body, table(["Sandbox", "Mode", "Last activity", "Blocked (24 h)", "Profiles"], rows),
      pager(page > 0, !!list.next_cursor, () => { page -= 1; load(); }, () => { page += 1; load(); }));
  }

  ctx.main.append(h("h1", {}, "Sandboxes"), create, status, body);
  load();
}

async function summarize(id, lastCell, blockedCell) {
  try {
    const [last, rejects] = await Promise.all([
      api("GET", `/audit${query({ sandbox: id, limit: 1 })}`),
      api("GET", `/audit${query({ sandbox: id, action: "reject", since: "24h", limit: 100 })}`),
    ]);
    fill(lastCell, last.items.length ? ago(last.items[0].time) : h("span.muted", {}, "no traffic yet"));
    const n = rejects.items.length;
    fill(blockedCell, n ? h("strong.blocked", {}, fmtCount(n) + (rejects.next_cursor ? "+" : "")) : "0");
  } catch (e) {
    fill(lastCell, h("span.error", {}, e.message));
    fill(blockedCell, "?");
  }
}

/** Previous / Next buttons for cursor-paged lists. */
export function pager(hasPrev, hasNext, prev, next) {
  return h("div.pager", {},
    h("button", { type: "button", disabled: !hasPrev, onclick: prev }, "← Previous page"),
    h("button", { type: "button", disabled: !hasNext, onclick: next }, "Next page →"));
}
