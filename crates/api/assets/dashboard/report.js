// The programme report for the ministry: as of a date, compared with a second one; downloads
// as XLSX and CSV, and a printable A4 page (shown here, printed from the browser). Admins,
// project managers and auditors.

import { $, el } from "./dom.js";
import { setMain, registerView } from "./routing.js";
import { getToken } from "./api.js";
import { download, queryOf } from "./download.js";

const day = (d) => d.toISOString().slice(0, 10);

export function showReport() {
  const today = new Date();
  const month = new Date(today.getTime() - 30 * 86400000);
  const form = el("form", { class: "filters", id: "report-form", "aria-label": "Programmbericht" },
    el("div", {}, el("label", { for: "r-asof", text: "Stand am" }), el("input", { id: "r-asof", type: "date", value: day(today), required: true })),
    el("div", {}, el("label", { for: "r-since", text: "Vergleich mit (optional)" }), el("input", { id: "r-since", type: "date", value: day(month) })),
    el("div", {}, el("button", { type: "submit", text: "Bericht anzeigen" })),
    el("div", {}, el("button", { type: "button", class: "secondary", id: "report-xlsx", text: "Excel-Datei (XLSX)",
      onclick: () => download("/reports/programme.xlsx" + query(), "programmbericht.xlsx", $("report-download"), "programmbericht.xlsx") })),
    el("div", {}, el("button", { type: "button", class: "secondary", id: "report-csv", text: "CSV",
      onclick: () => download("/reports/programme.csv" + query(), "programmbericht.csv", $("report-download"), "programmbericht.csv") })),
    el("div", {}, el("button", { type: "button", class: "secondary", id: "report-print", text: "Drucken (A4)",
      onclick: () => { document.body.classList.add("printing-report"); window.print(); document.body.classList.remove("printing-report"); } })));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); preview(); });
  setMain("Programmbericht", form,
    el("p", { class: "hint", text: "Jede Zahl ist eine Zahl der Fortschrittsabfrage (progress) zum Stichtag; die Datenquelle steht auf jedem Blatt." }),
    el("p", { id: "report-download", role: "status" }),
    el("p", { id: "report-error", class: "alert", role: "alert" }),
    el("div", { id: "report-view", class: "report-view", "aria-live": "polite" }, el("p", { text: "Wird geladen …" })));
  preview();
}

// asOf: the end of the chosen day; since likewise.
function query() {
  const end = (id) => ($(id).value ? `${$(id).value}T23:59:59Z` : "");
  return queryOf({ asOf: end("r-asof"), since: end("r-since") });
}

async function preview() {
  $("report-error").textContent = "";
  const r = await fetch("/reports/programme.html" + query(), { headers: { authorization: "Bearer " + getToken() } });
  const text = await r.text();
  if (!r.ok) { $("report-error").textContent = `Bericht nicht verfügbar (${r.status}): ${text}`; return; }
  // The server's printable page, shown here (its own style is the dashboard's, which prints
  // only the report, on A4 landscape).
  const view = $("report-view");
  if (!view) return;
  const page = new DOMParser().parseFromString(text, "text/html");
  view.replaceChildren(...[...page.body.children].map((n) => document.importNode(n, true)));
}

registerView("report", (v, fresh) => fresh && showReport());
