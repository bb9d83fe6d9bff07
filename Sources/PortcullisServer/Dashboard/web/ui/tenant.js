// Tenant settings: the default mode and default profiles, tenant-wide rules, profiles
// (built-in ones read-only), templates and credentials (never their values).
import { api, seg } from "./api.js";
import { h, fill, table, badge } from "./dom.js";
import { rulesPanel, hostsSummary } from "./rules.js";
import { tenantCredentials } from "./credentials.js";

const MODES = ["unrestricted", "audit", "allowlist", "denylist", "isolated"];

/** A stored rule as the policy PUT takes it back (no id, source or time). */
function ruleInput(r) {
  const out = { host: r.host, protocol: r.protocol, warn_only: r.warn_only };
  if (r.port !== null && r.port !== undefined) out.port = r.port;
  if (r.methods && r.methods.length) out.methods = r.methods;
  if (r.paths && r.paths.length) out.paths = r.paths;
  if (r.except && r.except.length) out.except = r.except;
  if (r.note) out.note = r.note;
  return out;
}

export function tenantScreen(ctx) {
  const defaults = h("section.card", { id: "tenant-defaults" });
  const rules = h("section", { id: "tenant-rules" });
  const profiles = h("section", { id: "tenant-profiles" });
  const templates = h("section", { id: "tenant-templates" });
  const credentials = h("section", { id: "tenant-credentials" });
  ctx.main.append(h("h1", {}, "Tenant settings"), defaults, rules, profiles, templates, credentials);
  loadDefaults(ctx, defaults);
  rulesPanel(ctx, rules, { sandbox: null });
  loadProfiles(ctx, profiles);
  loadTemplates(ctx, templates);
  tenantCredentials(ctx, credentials);
}

async function loadDefaults(ctx, panel) {
  let p, all;
  try { [p, all] = await Promise.all([api("GET", "/network/policy"), api("GET", "/profiles")]); } catch (e) { fill(panel, h("p.error", { role: "alert" }, e.message)); return; }
  const mode = h("select", { id: "tenant-mode" }, MODES.map((m) => h("option", { value: m, selected: m === p.default_mode ? true : null }, m)));
  const boxes = all.items.map((x, n) => ({ name: x.name, box: h("input", { type: "checkbox", id: `default-profile-${n}`, checked: p.default_profiles.includes(x.name) }) }));
  fill(panel, h("h2", {}, "Defaults"),
    h("p", {}, "Tenant ", h("span.mono", {}, p.tenant_id), ` · policy v${p.policy_version}. Sandboxes without a mode of their own follow the default mode; default profiles are attached to each new sandbox.`),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      const body = { default_mode: mode.value, default_profiles: boxes.filter((b) => b.box.checked).map((b) => b.name),
        allow_rules: p.allow_rules.map(ruleInput), deny_rules: p.deny_rules.map(ruleInput) };
      if (await ctx.act("Tenant defaults saved.", () => api("PUT", "/network/policy", body))) loadDefaults(ctx, panel);
    } },
    h("div.grid", {}, h("div.field", {}, h("label", { for: "tenant-mode" }, "Default mode"), mode)),
    h("fieldset", {}, h("legend", {}, "Default profiles"), h("ul.checks.columns", {}, boxes.map((b) => h("li", {}, b.box, h("label", { for: b.box.id }, ` ${b.name}`))))),
    h("button.primary", { type: "submit", id: "save-defaults" }, "Save defaults")));
}

async function loadProfiles(ctx, panel) {
  let list;
  try { list = (await api("GET", "/profiles")).items; } catch (e) { fill(panel, h("p.error", { role: "alert" }, e.message)); return; }
  const name = h("input", { id: "profile-name", required: true, maxlength: 64, placeholder: "internal-apis" });
  const desc = h("input", { id: "profile-description", maxlength: 500 });
  const hosts = h("textarea", { id: "profile-hosts", rows: 3, placeholder: "one host or pattern per line" });
  fill(panel, h("h2", {}, "Profiles"),
    table(["Profile", "Kind", "Description", "Hosts", ""], list.map((p) => h("tr", { dataset: { profile: p.name } },
      h("td.mono", {}, p.name), h("td", {}, p.builtin ? badge("builtin", "built-in") : "tenant"), h("td", {}, p.description || ""),
      h("td", {}, hostsSummary(p.hosts)),
      h("td", {}, p.builtin ? h("span.muted", {}, "not removable") : h("button.quiet", { type: "button", onclick: async () => {
        if (await ctx.act(`Deleted profile ${p.name}.`, () => api("DELETE", `/profiles/${seg(p.name, "profile")}`).then(() => true))) loadProfiles(ctx, panel);
      } }, "Delete"))))),
    h("form.card", { onsubmit: async (e) => {
      e.preventDefault();
      const rules = hosts.value.split("\n").map((s) => s.trim()).filter(Boolean).map((host) => ({ action: "allow", host }));
      const body = { rules };
      if (desc.value.trim()) body.description = desc.value.trim();
      if (await ctx.act(`Created profile ${name.value.trim()}.`, () => api("POST", `/profiles/${seg(name.value.trim(), "profile")}`, body))) loadProfiles(ctx, panel);
    } }, h("h3", {}, "New tenant profile"),
    h("div.grid", {}, h("div.field", {}, h("label", { for: "profile-name" }, "Name"), name),
      h("div.field", {}, h("label", { for: "profile-description" }, "Description"), desc),
      h("div.field.wide", {}, h("label", { for: "profile-hosts" }, "Allowed hosts"), hosts)),
    h("button", { type: "submit" }, "Create profile")));
}

async function loadTemplates(ctx, panel) {
  let list;
  try { list = (await api("GET", "/templates")).items; } catch (e) { fill(panel, h("p.error", { role: "alert" }, e.message)); return; }
  const name = h("input", { id: "template-name", required: true, maxlength: 128 });
  const mode = h("select", { id: "template-mode" }, h("option", { value: "" }, "(tenant default)"), MODES.map((m) => h("option", { value: m }, m)));
  const allow = h("textarea", { id: "template-allow", rows: 3, placeholder: "one host per line" });
  const deny = h("textarea", { id: "template-deny", rows: 2, placeholder: "one host per line" });
  const lines = (t) => t.value.split("\n").map((s) => s.trim()).filter(Boolean).map((host) => ({ host }));
  fill(panel, h("h2", {}, "Templates"),
    table(["Template", "Mode", "Allow", "Deny", "Profiles", ""], list.map((t) => h("tr", { dataset: { template: t.name } },
      h("td.mono", {}, t.name), h("td", {}, t.mode ? badge(t.mode) : h("span.muted", {}, "tenant default")),
      h("td", {}, hostsSummary(t.allow_rules.map((r) => r.host))), h("td", {}, hostsSummary(t.deny_rules.map((r) => r.host))),
      h("td", {}, t.profiles.join(", ")),
      h("td", {}, h("button.quiet", { type: "button", onclick: async () => {
        if (await ctx.act(`Deleted template ${t.name}.`, () => api("DELETE", `/templates/${seg(t.name, "template")}`).then(() => true))) loadTemplates(ctx, panel);
      } }, "Delete"))))),
    h("form.card", { onsubmit: async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), allow_rules: lines(allow), deny_rules: lines(deny) };
      if (mode.value) body.mode = mode.value;
      if (await ctx.act(`Created template ${body.name}.`, () => api("POST", "/templates", body))) loadTemplates(ctx, panel);
    } }, h("h3", {}, "New template"),
    h("div.grid", {}, h("div.field", {}, h("label", { for: "template-name" }, "Name"), name),
      h("div.field", {}, h("label", { for: "template-mode" }, "Mode"), mode),
      h("div.field.wide", {}, h("label", { for: "template-allow" }, "Allow hosts"), allow),
      h("div.field.wide", {}, h("label", { for: "template-deny" }, "Deny hosts"), deny)),
    h("button", { type: "submit" }, "Create template")));
}
