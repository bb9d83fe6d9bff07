// The dashboard's entry point: sign-in, the hash router and the status line.
import { api, session, validId } from "./api.js";
import { h, fill } from "./dom.js";
import { sandboxesScreen } from "./sandboxes.js";
import { sandboxScreen, TABS } from "./sandbox.js";
import { liveScreen } from "./live.js";
import { auditScreen } from "./audit.js";
import { tenantScreen } from "./tenant.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const toast = document.getElementById("toast");
let leave = null; // the current screen's cleanup (closes its live stream)
let toastTimer = null;

/** Shows an action's result (kind "ok") or error (kind "error") in the status line. */
export function notify(message, kind = "ok") {
  fill(toast, h(`p.toast-${kind}`, {}, message));
  toast.dataset.kind = kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.replaceChildren(); delete toast.dataset.kind; }, kind === "error" ? 15000 : 6000);
}

/** Runs an action, reports its result or the API's error text; returns its value or undefined. */
export async function act(what, fn) {
  try {
    const value = await fn();
    if (what) notify(what);
    return value;
  } catch (e) {
    notify(e.message || String(e), "error");
    return undefined;
  }
}

function signInScreen(message) {
  nav.hidden = true;
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const error = h("p.error", { id: "sign-in-error", role: "alert" }, message || "");
  const form = h("form.card.sign-in", {
    onsubmit: async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      try {
        await api("GET", "/network/policy", undefined, { key });
        session.signIn(key);
        input.value = "";
        if (location.hash === "#/sandboxes") route(); else location.hash = "#/sandboxes"; // hashchange routes
      } catch (err) {
        fill(error, err.status === 401 ? "That key was refused: check it and try again." : err.message);
        input.focus();
      }
    },
  },
  h("h1", {}, "Sign in"),
  h("p", {}, "Paste an API key (the admin key or a tenant key). It is kept in this tab's session storage only, sent as a Bearer header, and forgotten when you sign out or close the tab."),
  h("label", { for: "api-key" }, "API key"), input,
  h("button", { type: "submit", id: "sign-in" }, "Sign in"), error);
  fill(main, form);
  input.focus();
}

/** A location segment decoded, or kept as it is when it is not valid percent-encoding. */
function safeDecode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** A link the dashboard will not follow: say why, and offer the way back. */
function badLink(message) {
  fill(main, h("h1", {}, "Not found"), h("p.error", { role: "alert", id: "bad-link" }, message),
    h("p", {}, h("a", { href: "#/sandboxes" }, "Back to the sandboxes")));
}

function route() {
  if (leave) { leave(); leave = null; }
  if (!session.key()) { signInScreen(); return; }
  nav.hidden = false;
  const parts = (location.hash.replace(/^#\/?/, "") || "sandboxes").split("/").map(safeDecode);
  for (const a of nav.querySelectorAll("a[data-nav]")) {
    if (a.dataset.nav === parts[0] || (parts[0] === "sandbox" && a.dataset.nav === "sandboxes")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // A screen may register several things to stop when it is left (streams): all of them run.
  const ctx = { main, notify, act, onLeave: (fn) => { const earlier = leave; leave = earlier ? () => { earlier(); fn(); } : fn; } };
  main.replaceChildren();
  switch (parts[0]) {
    case "sandbox":
      // The id comes from the location, which anyone can hand the operator as a link: it is
      // checked before any API path is built from it.
      if (!validId("sandbox", parts[1])) { badLink(`“${String(parts[1] ?? "").slice(0, 80)}” is not a sandbox id (sbx_…).`); break; }
      sandboxScreen(ctx, parts[1], TABS.some(([key]) => key === parts[2]) ? parts[2] : "network");
      break;
    case "live": liveScreen(ctx, main, null); break;
    case "audit": auditScreen(ctx, main, null); break;
    case "tenant": tenantScreen(ctx); break;
    default: sandboxesScreen(ctx);
  }
  const heading = main.querySelector("h1");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  if (leave) { leave(); leave = null; }
  location.hash = "#/";
  signInScreen("Signed out.");
});
window.addEventListener("portcullis:unauthorized", () => {
  if (!session.key()) return;
  session.signOut();
  if (leave) { leave(); leave = null; }
  signInScreen("The key is no longer accepted; sign in again.");
});
// A script bug must not fail silently (a table that never renders): say so in the status line.
window.addEventListener("unhandledrejection", (e) => notify(`The dashboard hit an error: ${(e.reason && e.reason.message) || e.reason}`, "error"));
window.addEventListener("hashchange", route);
route();
