// Credentials: the tenant's (binding, placement, require, rotation), and a sandbox's with
// its placeholders. Values are write-only in the API, so no page ever holds one: credentials
// are created and rotated with the CLI or the API.
import { api, seg } from "./api.js";
import { h, fill, table, badge, ago } from "./dom.js";

/** `https://host[:port][prefix] (METHODS)`. */
export function bindingText(b) {
  return `https://${b.host}${b.port === 443 ? "" : ":" + b.port}${b.path_prefix || ""}${b.methods ? " (" + b.methods.join(", ") + ")" : ""}`;
}

function placementText(p) {
  if (p.kind === "header") return `header ${p.name}: ${p.format}`;
  if (p.kind === "query") return `query parameter ${p.name}`;
  return "Basic password";
}

/** The live log's and the audit's marks: injected (the entry names the credential) and reflected. */
export function credentialMarks(e) {
  return [
    e.credential ? badge("injected", `credential ${e.credential}`) : null,
    e.rejected_by === "credential-reflected" ? badge("reflected", "secret reflected, scrubbed") : null,
  ];
}

/** Data attributes of an entry's line or row: `credential` (the name) and `reflected`, only when set. */
export function credentialData(e) {
  return { ...(e.credential ? { credential: e.credential } : {}), ...(e.rejected_by === "credential-reflected" ? { reflected: "true" } : {}) };
}

/** Tenant settings: every credential of the tenant. */
export async function tenantCredentials(ctx, panel) {
  let list;
  try { list = (await api("GET", "/credentials")).items; } catch (e) { fill(panel, h("p.error", { role: "alert" }, e.message)); return; }
  fill(panel, h("h2", {}, "Credentials"),
    h("p.muted", {}, "Secrets sandboxes use without holding them. Values are never shown: set and rotate them with ",
      h("code", {}, "portcullis credential set"), "."),
    table(["Credential", "Binding", "Placement", "Require", "Created", "Rotated", ""], list.map((c) => h("tr", { dataset: { credential: c.name } },
      h("td.mono", {}, c.name), h("td.mono", {}, bindingText(c.binding)), h("td.mono", {}, placementText(c.placement)),
      h("td", {}, c.require ? "yes" : "no"), h("td", {}, ago(c.created_at)), h("td", {}, c.rotated_at ? ago(c.rotated_at) : h("span.muted", {}, "never")),
      h("td", {}, h("button.quiet", { type: "button", onclick: async () => {
        if (!confirm(`Delete credential ${c.name}? Every sandbox's placeholder for it stops working at once.`)) return;
        if (await ctx.act(`Deleted credential ${c.name}.`, () => api("DELETE", `/credentials/${seg(c.name, "credential")}`).then(() => true))) tenantCredentials(ctx, panel);
      } }, "Delete"))))));
}

/** A sandbox's tab: attached credentials with their placeholders; attach and detach. */
export async function sandboxCredentials(ctx, id, panel) {
  let attached, all;
  try {
    [attached, all] = await Promise.all([api("GET", `/sandboxes/${seg(id, "sandbox")}/network/credentials`), api("GET", "/credentials")]);
  } catch (e) { fill(panel, h("p.error", { role: "alert" }, e.message)); return; }
  const names = new Set(attached.items.map((a) => a.name));
  const choice = h("select", { id: "attach-credential" }, all.items.filter((c) => !names.has(c.name)).map((c) => h("option", { value: c.name }, c.name)));
  fill(panel, h("h2", {}, "Credentials"),
    h("p.muted", {}, "The sandbox sends the placeholder; the gateway puts the secret in its place on the bound host only."),
    table(["Credential", "Placeholder", "Binding", ""], attached.items.map((a) => h("tr", { dataset: { credential: a.name } },
      h("td.mono", {}, a.name), h("td.mono", {}, a.placeholder), h("td.mono", {}, bindingText(a.binding)),
      h("td", {}, h("button.quiet", { type: "button", onclick: async () => {
        if (await ctx.act(`Detached ${a.name}; its placeholder is revoked.`, () =>
          api("DELETE", `/sandboxes/${seg(id, "sandbox")}/network/credentials/${seg(a.name, "credential")}`).then(() => true))) sandboxCredentials(ctx, id, panel);
      } }, "Detach"))))),
    choice.options.length ? h("form.card", { onsubmit: async (e) => {
      e.preventDefault();
      if (await ctx.act(`Attached ${choice.value}.`, () =>
        api("POST", `/sandboxes/${seg(id, "sandbox")}/network/credentials/${seg(choice.value, "credential")}`))) sandboxCredentials(ctx, id, panel);
    } }, h("div.field", {}, h("label", { for: "attach-credential" }, "Attach a credential"), choice),
    h("button", { type: "submit", id: "attach" }, "Attach")) : null);
}
