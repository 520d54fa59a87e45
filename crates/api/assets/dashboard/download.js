// Downloads from the server with the bearer token (XLSX lists, the programme report): fetched,
// then offered as a file link (and clicked), so the token never goes into a URL.

import { el } from "./dom.js";
import { getToken } from "./api.js";

// Fetches `path` and offers it as `filename` in `box`; says what went wrong there otherwise.
// Returns the link (its dataset says how many rows were cut, if any).
export async function download(path, filename, box, label) {
  box.textContent = "Wird erstellt …";
  const r = await fetch(path, { headers: { authorization: "Bearer " + getToken() } });
  if (!r.ok) {
    box.textContent = "";
    box.append(el("span", { class: "alert", role: "alert", text: `Herunterladen nicht möglich (${r.status}): ${await r.text()}` }));
    return null;
  }
  const cut = r.headers.get("x-rows-cut");
  const url = URL.createObjectURL(await r.blob());
  const link = el("a", { href: url, download: filename, class: "download", dataset: { cut: cut || "" } },
    `${label || filename} herunterladen`);
  box.textContent = "";
  box.append(link, cut ? el("span", { class: "hint", text: ` – gekürzt auf ${Number(cut).toLocaleString("de-DE")} Zeilen; Filter enger fassen.` }) : "");
  link.click();
  return link;
}

// The query string of a filter object (lists become comma-separated).
export function queryOf(filter) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter || {})) {
    if (v === null || v === undefined || v === "") continue;
    q.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
