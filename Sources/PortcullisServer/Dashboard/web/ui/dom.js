// Building DOM nodes without HTML strings: every server-provided string becomes a text
// node (textContent), so a hostile host name is shown as sent and never parsed as markup.

/** h("tag.class", {attr: value, onclick: fn}, ...children) → an element. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className += (el.className ? " " : "") + v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (k === "href") el.setAttribute("href", safeHref(v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Only in-page links: a server string can never become a javascript: URL. */
function safeHref(v) {
  const s = String(v);
  return s.startsWith("#") ? s : "#";
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table wrapped so it scrolls sideways on a narrow screen. */
export function table(headers, rows, caption) {
  return h("div.table-wrap", {},
    h("table", {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td.empty", { colspan: headers.length }, "Nothing here yet.")))));
}

/** "3 min ago" with the exact UTC time as a tooltip. */
export function ago(iso) {
  if (!iso) return h("span.muted", {}, "never");
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return h("span", {}, String(iso));
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  const text = s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago`
    : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
  return h("time", { datetime: iso, title: iso }, text);
}

export function clock(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? String(iso ?? "") : new Date(t).toISOString().slice(11, 19);
}

export function badge(kind, text) {
  return h(`span.badge.badge-${String(kind).replace(/[^a-z0-9-]/gi, "")}`, {}, text ?? kind);
}

export function fmtCount(n) {
  return typeof n === "number" ? n.toLocaleString("en") : String(n ?? "");
}
