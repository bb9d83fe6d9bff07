// Rules (allow / deny, warn-only, port, protocol, methods, paths) with add and remove, and
// the attached profiles. For a sandbox the table shows every layer's rules; only the
// sandbox's own (`local`) rules can be removed here — tenant rules in Tenant settings,
// profile rules by detaching the profile, built-in profiles never.
import { api, seg } from "./api.js";
import { h, fill, table, badge } from "./dom.js";

const PAGE = 50;

/** `opts.sandbox`: a sandbox id, or null for the tenant-wide rules. */
export function rulesPanel(ctx, panel, opts) {
  const sandbox = opts.sandbox;
  const base = sandbox ? `/sandboxes/${seg(sandbox, "sandbox")}/network` : "/network";
  const list = h("div", { id: "rules" });
  const profiles = h("section", { id: "profiles" });
  let page = 0;
  fill(panel, h("h2", {}, sandbox ? "Rules" : "Tenant-wide rules"),
    sandbox ? h("p.muted", {}, "Deny rules win over allow rules. Rules from the tenant or a profile are listed with their source and cannot be removed here.") : null,
    list, ruleForm(ctx, base, () => load()), sandbox ? profiles : null);

  async function load() {
    let rules;
    try {
      if (sandbox) {
        const p = await api("GET", `${base}/policy`);
        rules = [...p.effective.deny_rules, ...p.effective.allow_rules];
        if (profiles.isConnected) profilesPanel(ctx, profiles, sandbox, p.profiles, () => { load(); if (opts.onChange) opts.onChange(); });
      } else {
        const p = await api("GET", "/network/policy");
        rules = [...p.deny_rules, ...p.allow_rules];
      }
    } catch (e) { fill(list, h("p.error", { role: "alert" }, e.message)); return; }
    const pages = Math.max(1, Math.ceil(rules.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = rules.slice(page * PAGE, (page + 1) * PAGE);
    const removable = (r) => (sandbox ? r.source === "local" : r.source === "tenant");
    fill(list, table(["Action", "Host", "Port", "Protocol", "Methods", "Paths", "Flags", "Source", ""], shown.map((r) =>
      h("tr", { dataset: { rule: r.id, host: r.host } },
        h("td", {}, badge(r.action === "deny" ? "deny" : "allow", r.action)),
        h("td.mono.host", {}, r.host, r.except && r.except.length ? h("div.muted", {}, "except " + r.except.join(", ")) : null),
        h("td", {}, r.port ?? "any"), h("td", {}, r.protocol),
        h("td", {}, anyOf(r.methods)),
        h("td.mono", {}, anyOf(r.paths)),
        h("td", {}, r.warn_only ? badge("warn", "warn only") : null, tlsMark(r), r.note ? h("div.muted", {}, r.note) : null),
        h("td", {}, r.source),
        h("td", {}, removable(r)
          ? h("button.quiet", { type: "button", "aria-label": `Remove rule for ${r.host}`, onclick: async () => {
            const ok = await ctx.act(`Removed the ${r.action} rule for ${r.host}.`, () => api("DELETE", `${base}/rules/${seg(r.id, "rule")}`).then(() => true));
            if (ok) { load(); if (opts.onChange) opts.onChange(); }
          } }, "Remove")
          : notRemovable(r))))),
    pages > 1 ? h("div.pager", {},
      h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "← Previous page"),
      h("span", {}, ` ${page + 1} / ${pages} `),
      h("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page += 1; load(); } }, "Next page →")) : null);
  }
  load();
}

/** Why a rule listed under a sandbox cannot be removed there, and where it can be. */
function notRemovable(r) {
  if (r.source === "tenant") return h("span.muted.not-removable", {}, "tenant-wide, not removable here: ", h("a", { href: "#/tenant" }, "Tenant settings"));
  if (r.source.startsWith("profile:")) return h("span.muted.not-removable", {}, "from profile, not removable (detach the profile)");
  return h("span.muted.not-removable", {}, "not removable here");
}

/** Whether the rule makes the gateway terminate TLS to its hosts (INSPECTION.md): `inspect`
 * true or false says so; left out, an allow rule with methods or paths needs it. (A
 * credential bound to a host terminates it too: see the sandbox's credentials.) */
function tlsMark(r) {
  if (r.inspect === true) return h("span.tls-mark", { dataset: { tls: "terminated" }, title: "inspect: true" }, badge("investigate", "TLS terminated"));
  if (r.inspect === false) return h("span.tls-mark", { dataset: { tls: "never" }, title: "inspect: false" }, badge("keep", "TLS never terminated"));
  const endpoint = (Array.isArray(r.methods) && r.methods.length) || (Array.isArray(r.paths) && r.paths.length);
  if (r.action === "allow" && endpoint) {
    return h("span.tls-mark", { dataset: { tls: "terminated" }, title: "methods and paths are checked inside TLS" }, badge("investigate", "TLS terminated"));
  }
  return null;
}

/** A rule's methods or paths: the API sends null (not []) for "any". */
function anyOf(list) {
  return Array.isArray(list) && list.length ? list.join(", ") : "any";
}

function ruleForm(ctx, base, done) {
  const id = (n) => `rule-${n}`;
  const action = h("select", { id: id("action") }, h("option", { value: "allow" }, "allow"), h("option", { value: "deny" }, "deny"));
  const host = h("input", { id: id("host"), required: true, maxlength: 1024, placeholder: "api.example.com, *.example.com, 10.0.0.0/8" });
  const port = h("input", { id: id("port"), type: "number", min: 1, max: 65535, placeholder: "any" });
  const protocol = h("select", { id: id("protocol") }, ["any", "tcp", "udp"].map((p) => h("option", { value: p }, p)));
  const methods = h("input", { id: id("methods"), placeholder: "GET, POST (any when empty)" });
  const paths = h("input", { id: id("paths"), placeholder: "/v1/* (any when empty)" });
  const warn = h("input", { id: id("warn"), type: "checkbox" });
  const note = h("input", { id: id("note"), maxlength: 500 });
  const field = (label, input) => h("div.field", {}, h("label", { for: input.id }, label), input);
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  return h("form.card.rule-form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { action: action.value, host: host.value.trim(), protocol: protocol.value, warn_only: warn.checked };
      if (port.value) body.port = Number(port.value);
      if (list(methods.value).length) body.methods = list(methods.value).map((m) => m.toUpperCase());
      if (list(paths.value).length) body.paths = list(paths.value);
      if (note.value.trim()) body.note = note.value.trim();
      const r = await ctx.act(null, () => api("POST", `${base}/rules`, body));
      if (r) { ctx.notify(`Added ${r.action} rule ${r.id} for ${r.host}.`); host.value = ""; port.value = ""; methods.value = ""; paths.value = ""; note.value = ""; warn.checked = false; done(); }
    },
  }, h("h3", {}, "Add a rule"),
  h("div.grid", {}, field("Action", action), field("Host", host), field("Port", port), field("Protocol", protocol),
    field("Methods", methods), field("Paths", paths), field("Note", note),
    h("div.field.check", {}, warn, h("label", { for: warn.id }, "Warn only (let it through, flag it in the log)"))),
  h("button.primary", { type: "submit", id: "add-rule" }, "Add rule"));
}

async function profilesPanel(ctx, panel, sandbox, attached, changed) {
  let all = [];
  try { all = (await api("GET", "/profiles")).items; } catch (e) { fill(panel, h("p.error", {}, e.message)); return; }
  const pick = h("select", { id: "attach-profile" }, all.filter((p) => !attached.includes(p.name)).map((p) => h("option", { value: p.name }, p.name)));
  const base = `/sandboxes/${seg(sandbox, "sandbox")}/network/profiles`;
  fill(panel, h("h2", {}, "Attached profiles"),
    table(["Profile", "Kind", "Hosts", ""], attached.map((name) => {
      const p = all.find((x) => x.name === name);
      return h("tr", { dataset: { profile: name } }, h("td.mono", {}, name), h("td", {}, p && p.builtin ? badge("builtin", "built-in") : "tenant"),
        h("td", {}, p ? hostsSummary(p.hosts) : ""),
        h("td", {}, h("button.quiet", { type: "button", onclick: async () => {
          if (await ctx.act(`Detached ${name}.`, () => api("DELETE", `${base}/${seg(name, "profile")}`))) changed();
        } }, "Detach")));
    })),
    pick.options.length ? h("form.inline", { onsubmit: async (e) => {
      e.preventDefault();
      if (await ctx.act(`Attached ${pick.value}.`, () => api("POST", `${base}/${seg(pick.value, "profile")}`))) changed();
    } }, h("label", { for: "attach-profile" }, "Attach a profile"), pick, h("button", { type: "submit" }, "Attach")) : null);
}

export function hostsSummary(hosts) {
  if (!hosts.length) return h("span.muted", {}, "none");
  return h("details", {}, h("summary", {}, `${hosts.length} host${hosts.length === 1 ? "" : "s"}`), h("ul.hosts", {}, hosts.slice(0, 200).map((x) => h("li.mono", {}, x))),
    hosts.length > 200 ? h("p.muted", {}, `and ${hosts.length - 200} more`) : null);
}
