// One sandbox: its header (mode, Lock Down, Observe) and tabs: Network (hosts over a
// window, wildcards, pending), Pending, Rules and profiles, Credentials, Live log, Audit.
import { api, download, query, seg } from "./api.js";
import { h, fill, table, badge, fmtCount } from "./dom.js";
import { openModal } from "./modal.js";
import { rulesPanel } from "./rules.js";
import { liveScreen, onTraffic } from "./live.js";
import { auditScreen } from "./audit.js";
import { pendingPanel, pendingCount } from "./pending.js";
import { pager } from "./sandboxes.js";
import { sandboxCredentials } from "./credentials.js";

export const TABS = [["network", "Network"], ["pending", "Pending"], ["rules", "Rules & profiles"], ["credentials", "Credentials"],
  ["live", "Live log"], ["audit", "Audit"]];
const WINDOWS = [["24h", "24 h"], ["7d", "7 d"], ["30d", "30 d"]];
let chosenWindow = "7d"; // kept while moving between tabs
const HOSTS_PAGE = 50;

export function sandboxScreen(ctx, id, tab) {
  const title = h("h1", {}, id);
  const meta = h("p.meta");
  const pendingLabel = h("span.count", { id: "pending-count" });
  const actions = h("div.actions", {},
    h("button.primary", { type: "button", id: "lock-down", onclick: () => lockDown(ctx, id, refresh) }, "Lock Down"),
    h("button", { type: "button", id: "observe", onclick: async () => {
      if (await ctx.act("Observing again: nothing is blocked; rules are kept.", () => api("POST", `/sandboxes/${seg(id, "sandbox")}/network/observe`))) refresh();
    } }, "Observe"),
    h("button", { type: "button", id: "download-ca", title: "The certificate this sandbox trusts for the HTTPS connections the gateway opens",
      onclick: () => ctx.act("Downloaded the sandbox's CA certificate.", () => download(`/sandboxes/${seg(id, "sandbox")}/ca.pem`, `portcullis-${id}-ca.pem`)) },
      "Download CA"));
  const tabs = h("nav.tabs", { "aria-label": "Sandbox" }, TABS.map(([key, label]) =>
    h("a", { href: `#/sandbox/${seg(id, "sandbox")}/${key}`, "aria-current": key === tab ? "page" : null, dataset: { tab: key } },
      label, key === "pending" ? pendingLabel : null)));
  const panel = h("section.panel", { id: `tab-${tab}` });
  ctx.main.append(h("p.crumbs", {}, h("a", { href: "#/sandboxes" }, "Sandboxes"), " / "), title, meta, actions, tabs, panel);

  async function header() {
    try {
      const [s, p, pending] = await Promise.all([
        api("GET", `/sandboxes/${seg(id, "sandbox")}`),
        api("GET", `/sandboxes/${seg(id, "sandbox")}/network/policy`),
        pendingCount(id),
      ]);
      fill(title, s.name || s.id);
      fill(meta, "Mode ", badge(p.mode), p.own_mode === null ? " (follows the tenant default)" : " (set on this sandbox)",
        ` · policy v${p.policy_version} · `, h("span.mono", {}, s.id), " · proxy ", proxyURL(ctx, s.proxy));
      fill(pendingLabel, pending);
    } catch (e) {
      fill(meta, h("span.error", { role: "alert" }, e.message));
    }
  }
  // The live log and an audit search keep their state (stream, lines, filters): only the header changes.
  function refresh() { header(); if (tab !== "live" && tab !== "audit") body(); }
  function body() {
    switch (tab) {
      case "pending": pendingPanel(ctx, id, panel, header); break;
      case "rules": rulesPanel(ctx, panel, { sandbox: id, onChange: header }); break;
      case "credentials": sandboxCredentials(ctx, id, panel); break;
      case "live": liveScreen(ctx, panel, id); break;
      case "audit": auditScreen(ctx, panel, id); break;
      default: networkPanel(ctx, id, panel, header);
    }
  }
  header();
  body();
}

/**
 * The proxy URL with its password masked: the password is the sandbox's credential, so it
 * is shown only on an explicit Show, or copied to the clipboard without being displayed.
 */
function proxyURL(ctx, proxy) {
  const masked = proxy.http_url.replace(/^([a-z0-9+.-]+:\/\/[^:@/]*):[^@/]*@/i, "$1:••••••••@");
  const text = h("span.mono", { id: "proxy-url" }, masked);
  const show = h("button.quiet", { type: "button", id: "proxy-reveal", "aria-pressed": "false", "aria-controls": "proxy-url", onclick: () => {
    const on = show.getAttribute("aria-pressed") !== "true";
    show.setAttribute("aria-pressed", String(on));
    fill(text, on ? proxy.http_url : masked);
    fill(show, on ? "Hide password" : "Show password");
  } }, "Show password");
  const copy = h("button.quiet", { type: "button", id: "proxy-copy", onclick: () => ctx.act("Copied the proxy URL, password included.",
    () => navigator.clipboard.writeText(proxy.http_url)) }, "Copy URL");
  return h("span.proxy", {}, text, " ", show, " ", copy);
}

function networkPanel(ctx, id, panel, header) {
  const heading = h("h2", {});
  const picker = h("div.segmented", { role: "group", "aria-label": "Window" });
  const hosts = h("div", { id: "hosts" });
  const wildcards = h("div", { id: "wildcards" });
  const pending = h("section", { id: "pending-section" });
  let page = 0;
  fill(panel, h("div.row", {}, heading, picker), hosts, wildcards, pending);

  async function load() {
    fill(heading, `Hosts contacted in the last ${WINDOWS.find(([w]) => w === chosenWindow)[1]}`);
    fill(picker, WINDOWS.map(([w, label]) => h("button", {
      type: "button", "aria-pressed": String(w === chosenWindow), dataset: { window: w },
      onclick: () => { chosenWindow = w; page = 0; load(); },
    }, label)));
    let s;
    try {
      s = await api("GET", `/sandboxes/${seg(id, "sandbox")}/network/suggestions${query({ since: chosenWindow })}`);
    } catch (e) { fill(hosts, h("p.error", { role: "alert" }, e.message)); return; }
    const max = Math.max(1, ...s.items.map((i) => i.count));
    const pages = Math.max(1, Math.ceil(s.items.length / HOSTS_PAGE));
    page = Math.min(page, pages - 1);
    const shown = s.items.slice(page * HOSTS_PAGE, (page + 1) * HOSTS_PAGE);
    fill(hosts, table(["Host", "Ports", "Requests", "", "Recommendation", "Why"], shown.map((i) =>
      h("tr", { dataset: { host: i.host } },
        h("td.mono.host", {}, i.host, i.allowed_by ? h("div.muted", {}, `allowed by ${i.allowed_by}`) : null),
        h("td", {}, i.ports.join(", ")),
        h("td.num", {}, fmtCount(i.count)),
        h("td.bar-cell", { "aria-hidden": "true" }, h("span.bar", { style: null, dataset: { pct: Math.round((i.count / max) * 100) } })),
        h("td", {}, badge(i.recommendation)),
        h("td.muted", {}, i.reason)))),
      pages > 1 ? [h("p.muted", {}, `Page ${page + 1} of ${pages}, ${fmtCount(s.items.length)} hosts`),
        pager(page > 0, page < pages - 1, () => { page -= 1; load(); }, () => { page += 1; load(); })] : null);
    // Bar widths are set through the CSSOM (allowed by the CSP), never through a style attribute string.
    for (const bar of hosts.querySelectorAll(".bar")) bar.style.width = `${Math.max(2, Number(bar.dataset.pct))}%`;
    fill(wildcards, s.wildcards.length ? [h("h3", {}, "Proposed wildcards"), table(["Pattern", "Covers", "Requests", ""], s.wildcards.map((w) =>
      h("tr", {}, h("td.mono", {}, w.pattern), h("td.mono", {}, w.covers.join(", ")), h("td.num", {}, fmtCount(w.count)),
        h("td", {}, h("button", { type: "button", onclick: () => ctx.act(`Allowed ${w.pattern}.`, () =>
          api("POST", `/sandboxes/${seg(id, "sandbox")}/network/rules`, { action: "allow", host: w.pattern })) }, "Allow pattern")))))] : null);
  }
  load();
  pendingPanel(ctx, id, pending, header);
  onTraffic(ctx, id, () => { load(); pendingPanel(ctx, id, pending, header); header(); });
}

/**
 * The Lock Down confirmation: one checkbox per host seen in the window, deny-recommended
 * unchecked. A host an allow rule already covers (perhaps for some methods or paths only) is
 * shown as already allowed and cannot be checked: lockdown never adds a broader rule.
 */
async function lockDown(ctx, id, refresh) {
  let s;
  try { s = await api("GET", `/sandboxes/${seg(id, "sandbox")}/network/suggestions${query({ since: chosenWindow })}`); } catch (e) { ctx.notify(e.message, "error"); return; }
  const boxes = s.items.map((i, n) => ({ host: i.host, item: i, box: h("input", {
    type: "checkbox", id: `lock-${n}`, checked: i.recommendation !== "deny" && !i.allowed_by, disabled: !!i.allowed_by, dataset: { host: i.host },
  }) }));
  const hosts = await openModal("Lock down: allow only the checked hosts", (close) => h("form", {
    onsubmit: (e) => { e.preventDefault(); close(boxes.filter((b) => b.box.checked && !b.item.allowed_by).map((b) => b.host)); },
  },
  h("p", {}, `The sandbox switches to allowlist: requests to any host not allowed are blocked and appear in Pending. Hosts seen in the last ${chosenWindow}:`),
  boxes.length ? h("ul.checks", {}, boxes.map((b) => h("li", { dataset: { host: b.host, allowed: b.item.allowed_by ? "yes" : "no" } }, b.box,
    h("label", { for: b.box.id }, h("span.mono", {}, b.host), " ",
      b.item.allowed_by ? h("span.already", {}, `already allowed by ${b.item.allowed_by}`) : badge(b.item.recommendation),
      h("span.muted", {}, ` ${fmtCount(b.item.count)} request${b.item.count === 1 ? "" : "s"}`)))))
    : h("p.muted", {}, "No traffic in this window: locking down allows nothing new."),
  h("div.actions", {}, h("button.primary", { type: "submit", id: "confirm-lockdown" }, "Confirm"),
    h("button", { type: "button", onclick: () => close(undefined) }, "Cancel"))));
  if (hosts === undefined) return;
  const r = await ctx.act(null, () => api("POST", `/sandboxes/${seg(id, "sandbox")}/network/lockdown`, { hosts }));
  if (r) { ctx.notify(`Locked down: mode ${r.mode}, ${hosts.length} host(s) allowed.`); refresh(); }
}
