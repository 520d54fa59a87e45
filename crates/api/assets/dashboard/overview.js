// The programme overview: services by administrations, grouped by Landkreis.

import { $, el, select } from "./dom.js";
import { STATUS } from "./words.js";
import { data, serviceName, authorityName, kreisOf, phaseTitle, phaseColour, PROGRAMS, inProgram, byPlace, isCentral } from "./data.js";
import { setMain, registerView } from "./routing.js";
import { download, queryOf } from "./download.js";

export function kreise() {
  const m = new Map();
  for (const r of data.rollouts.values()) {
    const a = data.authorities.get(r.ars);
    if (a && !isCentral(r)) { const k = kreisOf(a); m.set(k.ars, k.name); }
  }
  return [...m.entries()].sort((x, y) => byPlace(x[1], y[1]));
}

export function showOverview(params) {
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const phases = [...data.phases.entries()].sort((x, y) => x[1].index - y[1].index).map(([id, p]) => [id, p.title]);
  const filters = el("div", { class: "filters", role: "search", "aria-label": "Filter" },
    select("f-program", "Programm", PROGRAMS, params.get("programm")),
    select("f-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    select("f-kreis", "Landkreis", kreise(), params.get("kreis")),
    select("f-phase", "Phase", phases, params.get("phase")),
    select("f-status", "Status", Object.entries(STATUS), params.get("status")),
    el("div", {}, el("button", { type: "button", class: "secondary", id: "overview-xlsx", text: "Als Excel-Datei (XLSX)",
      onclick: () => download("/exports/rollouts.xlsx" + queryOf({ program: $("f-program").value, serviceKey: $("f-service").value,
        landkreisArs: $("f-kreis").value, phase: $("f-phase").value, status: $("f-status").value }), "rollouts.xlsx", $("overview-download"), "rollouts.xlsx") })),
    el("div", { id: "overview-download", role: "status" }));
  const legend = el("ul", { class: "legend", "aria-label": "Legende" },
    el("li", {}, el("span", { class: "swatch", dataset: { c: "none" } }), "nicht begonnen"),
    ...phases.filter(([id]) => [...data.rollouts.values()].some((r) => r.phase === id && !["live", "cancelled", "not_started"].includes(r.status)))
      .map(([id, title]) => el("li", {}, el("span", { class: "swatch", dataset: { phase: id } }), title)),
    el("li", {}, el("span", { class: "swatch", dataset: { c: "live" } }), "in Betrieb"),
    el("li", {}, el("span", { class: "swatch", dataset: { c: "cancelled" } }), "beendet"),
    el("li", {}, "▣ rot umrandet: blockiert"),
    el("li", {}, "! überfällig"));
  for (const s of legend.querySelectorAll(".swatch")) {
    s.style.background = s.dataset.phase
      ? phaseColour({ status: "in_progress", phase: s.dataset.phase }).bg
      : `var(--${s.dataset.c})`;
  }
  setMain("Übersicht der Anbindungen", filters, legend, el("p", { id: "central", class: "hint" }),
    el("div", { class: "wrap" }, el("table", { id: "matrix", class: "matrix" })));
  for (const id of ["f-program", "f-service", "f-kreis", "f-phase", "f-status"]) $(id).addEventListener("change", renderMatrix);
  renderMatrix();
}

export function renderMatrix() {
  const table = $("matrix");
  if (!table) return;
  const fs = $("f-service").value, fk = $("f-kreis").value, fp = $("f-phase").value, fst = $("f-status").value;
  const fprog = $("f-program").value;
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort()
    .filter((s) => (!fs || s === fs) && inProgram(s, fprog));
  const byArs = new Map();
  const central = new Map();
  for (const r of data.rollouts.values()) {
    if (!services.includes(r.serviceKey) || (fst && r.status !== fst) || (fp && r.phase !== fp)) continue;
    // The central rollouts are the Land's and the association's own work, not administrations'.
    if (isCentral(r)) { central.set(r.ars, (central.get(r.ars) || 0) + 1); continue; }
    if (!byArs.has(r.ars)) byArs.set(r.ars, new Map());
    byArs.get(r.ars).set(r.serviceKey, r);
  }
  const groups = new Map();
  for (const ars of byArs.keys()) {
    const a = data.authorities.get(ars) || { ars, name: ars, kind: "", landkreis: null };
    const k = kreisOf(a);
    if (fk && k.ars !== fk) continue;
    if (!groups.has(k.ars)) groups.set(k.ars, { name: k.name, rows: [] });
    groups.get(k.ars).rows.push(a);
  }
  table.textContent = "";
  table.setAttribute("aria-label", "Dienste (Spalten) je Verwaltung (Zeilen), gruppiert nach Landkreis; Farbe: Phase der Anbindung");
  const head = table.createTHead().insertRow();
  head.append(el("th", { scope: "col", text: "Verwaltung" }));
  for (const s of services) head.append(el("th", { scope: "col", title: serviceName(s), text: serviceName(s) }));
  head.append(el("th", { scope: "col", class: "total", text: "in Betrieb / gesamt" }));
  const body = table.createTBody();
  const colLive = services.map(() => 0), colAll = services.map(() => 0);
  let shown = 0;
  for (const [, g] of [...groups.entries()].sort((x, y) => byPlace(x[1].name, y[1].name))) {
    const kr = body.insertRow(); kr.className = "kreis";
    kr.append(el("th", { colspan: services.length + 2, scope: "rowgroup", text: g.name }));
    for (const a of g.rows.sort((x, y) => byPlace(x.name, y.name))) {
      const tr = body.insertRow(); tr.dataset.ars = a.ars;
      tr.append(el("th", { scope: "row" }, el("a", { href: "#/verwaltung/" + a.ars, text: a.name })));
      let live = 0, all = 0;
      services.forEach((s, i) => {
        const td = tr.insertCell(); td.className = "cell";
        const r = byArs.get(a.ars).get(s);
        if (!r) return;
        shown++; all++; colAll[i]++;
        if (r.status === "live") { live++; colLive[i]++; }
        const late = r.overdue;
        const colour = phaseColour(r);
        const label = `${a.name} · ${serviceName(s)}: ${STATUS[r.status]}, Phase ${phaseTitle(r.phase)}, ${r.stepsDone} von ${r.stepsApplicable} Schritten erledigt${late ? ", überfällig" : ""}${r.blockedReason ? ", blockiert: " + r.blockedReason : ""}`;
        const b = el("button", {
          type: "button", title: label, "aria-label": label,
          class: [colour.dark ? "dark" : "", r.status === "blocked" ? "blocked" : ""].join(" ").trim() || null,
          dataset: { id: r.id, status: r.status, phase: r.phase, done: String(r.stepsDone) },
          onclick: () => { location.hash = "#/rollout/" + encodeURIComponent(r.id); },
        }, late ? "!" : "");
        b.style.background = colour.bg;
        td.append(b);
      });
      tr.append(el("td", { class: "total", text: `${live} / ${all}` }));
    }
  }
  const foot = table.createTFoot().insertRow();
  foot.append(el("th", { scope: "row", text: "in Betrieb / gesamt" }));
  services.forEach((_, i) => foot.append(el("td", { class: "total", text: `${colLive[i]}/${colAll[i]}` })));
  foot.append(el("td", { class: "total", text: `${colLive.reduce((a, b) => a + b, 0)}/${colAll.reduce((a, b) => a + b, 0)}` }));
  const all = [...data.rollouts.values()].filter((r) => !isCentral(r)).length;
  $("state").textContent = `${byArs.size} Verwaltungen, ${shown} Anbindungen angezeigt (von ${all}).`;
  const note = $("central");
  if (note) {
    note.replaceChildren(...(central.size ? ["Zentrale Rollouts (nicht als Verwaltungen gezählt): ",
      ...[...central.entries()].flatMap(([ars, n], i) => [i ? ", " : "", el("a", { href: "#/verwaltung/" + ars, text: `${authorityName(ars)} (${n})` })])] : []));
  }
}

registerView("overview", (v, fresh) => (fresh || !$("inhalt").querySelector("#matrix")) ? showOverview(v.params) : renderMatrix());
