// The audit log: filters, pages, CSV export of everything the filter matches.

import { $, el, select } from "./dom.js";
import { EVENT, fmtTime } from "./words.js";
import { gql } from "./api.js";
import { data, serviceName, byPlace } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";
import { download, queryOf } from "./download.js";

const audit = { filter: {}, after: null, rows: [] };
const AUDIT_FIELDS = "position streamId version type recordedAt actor { id name kind } data correlationId hash";

export function showAudit(params) {
  const staff = data.me.role === "authority-staff";
  const ownArs = staff ? data.me.authorities : null;
  const services = [...data.services.keys()].sort();
  const authorities = [...data.authorities.values()].filter((a) => !ownArs || ownArs.includes(a.ars)).sort((x, y) => byPlace(x.name, y.name));
  const form = el("form", { class: "filters", id: "audit-filter", role: "search", "aria-label": "Ereignisse filtern" },
    el("div", {}, el("label", { for: "a-actor", text: "Akteur (z. B. token:…, system)" }), el("input", { id: "a-actor", name: "actor", value: params.get("actor") || "" })),
    el("div", {}, el("label", { for: "a-from", text: "von" }), el("input", { id: "a-from", name: "from", type: "datetime-local" })),
    el("div", {}, el("label", { for: "a-until", text: "bis" }), el("input", { id: "a-until", name: "until", type: "datetime-local" })),
    select("a-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    select("a-ars", "Verwaltung", authorities.map((a) => [a.ars, a.name]), params.get("ars") || (ownArs ? ownArs[0] : "")),
    select("a-type", "Ereignis", Object.entries(EVENT).sort((x, y) => x[1].localeCompare(y[1], "de")), params.get("type")),
    el("div", {}, el("button", { type: "submit", text: "Anzeigen" })),
    el("div", {}, el("button", { type: "button", id: "audit-export", class: "secondary", text: "Als CSV exportieren", onclick: exportCsv })),
    el("div", {}, el("button", { type: "button", id: "audit-xlsx", class: "secondary", text: "Als Excel-Datei (XLSX)",
      onclick: () => download("/exports/events.xlsx" + queryOf(auditFilter()), "protokoll.xlsx", $("audit-download"), "protokoll.xlsx") })));
  setMain("Prüfprotokoll: wer hat was wann geändert", form,
    el("p", { id: "audit-error", class: "alert", role: "alert" }),
    el("p", { id: "audit-download" }),
    el("table", { class: "data audit-table", id: "audit-table" },
      el("caption", { class: "status", id: "audit-count" }),
      el("thead", {}, el("tr", {}, ...["Pos.", "Zeit", "Akteur", "Ereignis", "Anbindung / Objekt", "Angaben"].map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", { id: "audit-rows" })),
    el("button", { type: "button", id: "audit-more", class: "secondary", hidden: true, onclick: () => loadAudit(false) }, "Weitere laden"));
  if (staff) { const s = form.querySelector("#a-ars"); const blank = s.querySelector("option[value='']"); if (blank) blank.remove(); }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(true); });
  loadAudit(true);
}

function auditFilter() {
  const f = {};
  const v = (id) => $(id).value.trim();
  if (v("a-actor")) f.actor = v("a-actor");
  if (v("a-from")) f.from = new Date(v("a-from")).toISOString();
  if (v("a-until")) f.until = new Date(v("a-until")).toISOString();
  if (v("a-service")) f.serviceKey = v("a-service");
  if (v("a-ars")) f.ars = v("a-ars");
  if (v("a-type")) f.types = [v("a-type")];
  return f;
}

async function loadAudit(fresh) {
  if (fresh) { audit.filter = auditFilter(); audit.after = null; audit.rows = []; $("audit-rows").textContent = ""; }
  $("audit-error").textContent = "";
  const seq = viewSeq;
  try {
    const d = await gql(`query($f: EventFilter, $a: String) { events(filter: $f, first: 100, after: $a) { edges { node { ${AUDIT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { f: audit.filter, a: audit.after });
    if (seq !== viewSeq) return;
    const nodes = d.events.edges.map((e) => e.node);
    audit.rows.push(...nodes);
    audit.after = d.events.pageInfo.hasNextPage ? d.events.pageInfo.endCursor : null;
    const body = $("audit-rows");
    for (const e of nodes) {
      const subject = e.streamId.startsWith("rollout-")
        ? el("a", { href: "#/rollout/" + encodeURIComponent(e.streamId.slice(8)), text: e.streamId.slice(8) })
        : e.streamId;
      body.append(el("tr", { dataset: { position: String(e.position) } },
        el("td", { class: "num", text: String(e.position) }), el("td", { text: fmtTime(e.recordedAt) }),
        el("td", { text: `${e.actor.name} (${e.actor.id})` }), el("td", { text: EVENT[e.type] || e.type }),
        el("td", {}, subject), el("td", { class: "data" }, details(e.data))));
    }
    $("audit-more").hidden = !audit.after;
    $("audit-count").textContent = `${audit.rows.length} Ereignisse${audit.after ? " (weitere vorhanden)" : ""}`;
  } catch (e) {
    $("audit-error").textContent = e.text;
  }
}

// What an event says, in words: its step, reason or comment, evidence; the payload as JSON
// behind a disclosure (the CSV export has it whole).
function details(d) {
  d = d || {};
  const steps = data.definitions.flatMap((def) => def.phases.flatMap((p) => p.steps));
  const def = d.step ? steps.find((s) => s.id === d.step) || { title: d.step, evidence: [] } : null;
  const label = (k) => ((def && def.evidence.find((f) => f.id === k)) || { label: k }).label;
  const why = d.reason || d.comment || d.text || null;
  const evidence = d.evidence ? Object.entries(d.evidence).map(([k, v]) => `${label(k)}: ${v}`).join("; ") : null;
  return [
    def ? el("div", { text: "Schritt: " + def.title }) : null,
    why ? el("div", { text: "Begründung: " + why }) : null,
    evidence ? el("div", { text: "Nachweise: " + evidence }) : null,
    el("details", {}, el("summary", { text: "JSON" }), el("code", { text: JSON.stringify(d) })),
  ];
}

// A cell a spreadsheet would take as a formula (=, +, -, @, tab or CR first) gets a ' before it.
const csvCell = (v) => {
  const raw = String(v === null || v === undefined ? "" : v);
  const s = /^[=+\-@\t\r]/.test(raw) ? "'" + raw : raw;
  return /[",\n\r;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
};

// Exports every event of the current filter (all pages, not only the loaded ones) as CSV.
async function exportCsv() {
  const button = $("audit-export");
  button.disabled = true;
  $("audit-error").textContent = "";
  try {
    const filter = auditFilter();
    const rows = [["position", "zeit", "akteur_id", "akteur_name", "akteur_art", "ereignis", "stream", "version", "angaben", "korrelation", "hash"]];
    let after = null, n = 0;
    do {
      const d = await gql(`query($f: EventFilter, $a: String) { events(filter: $f, first: 500, after: $a) { edges { node { ${AUDIT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { f: filter, a: after });
      for (const { node: e } of d.events.edges) {
        rows.push([e.position, e.recordedAt, e.actor.id, e.actor.name, e.actor.kind, e.type, e.streamId, e.version, JSON.stringify(e.data), e.correlationId, e.hash]);
        n++;
      }
      after = d.events.pageInfo.hasNextPage ? d.events.pageInfo.endCursor : null;
      $("state").textContent = `Export: ${n} Ereignisse …`;
    } while (after);
    const text = rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
    const url = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" }));
    const link = el("a", { href: url, download: "pruefprotokoll.csv", id: "audit-csv", dataset: { rows: String(n) } }, `pruefprotokoll.csv herunterladen (${n} Ereignisse)`);
    const box = $("audit-download");
    box.textContent = "";
    box.append(link);
    link.click();
    $("state").textContent = `${n} Ereignisse exportiert.`;
  } catch (e) {
    $("audit-error").textContent = e.text;
  } finally {
    button.disabled = false;
  }
}

registerView("audit", (v, fresh) => fresh && showAudit(v.params));
