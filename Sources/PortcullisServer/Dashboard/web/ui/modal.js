// A modal dialog on <dialog>: focus moves into it, Tab stays inside, Escape closes it.
import { h } from "./dom.js";

/** Opens a modal; `build(close)` returns its content. Resolves when it closes. */
export function openModal(title, build) {
  const dialog = h("dialog.modal", { "aria-labelledby": "modal-title" });
  document.body.append(dialog);
  return new Promise((resolve) => {
    const close = (value) => { if (dialog.open) dialog.close(); dialog.remove(); resolve(value); };
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(undefined); }); // Escape
    dialog.append(h("h2", { id: "modal-title" }, title), build(close));
    dialog.showModal();
    const first = dialog.querySelector("input, button, select, textarea");
    if (first) first.focus();
  });
}
