// Progress over time: a burn-up chart from `progressOverTime`.

import { $, el, svg, select } from "./dom.js";
import { fmtDate } from "./words.js";
import { gql } from "./api.js";
import { data, manager, serviceName, phaseTitle, phaseColour, PROGRAMS, inProgram } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";

export async function showBurnup() {
  if (!manager()) {
    return setMain("Verlauf", el("p", { text: "Der Verlauf über alle Anbindungen steht der Projektleitung, der Administration und der Prüfung zur Verfügung." }));
  }
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const choose = el("div", { class: "filters" },
    select("b-program", "Programm", PROGRAMS, ""),
    el("div", {}, el("label", { for: "b-service", text: "Dienst" }),
      (() => { const s = el("select", { id: "b-service" }); s.add(new Option("ganzes Programm", "")); for (const k of services) s.add(new Option(serviceName(k), k)); return s; })()));
  setMain("Verlauf: Verwaltungen je Phase und in Betrieb, Woche für Woche", choose,
    el("figure", {}, el("div", { id: "burnup-box" }), el("figcaption", { class: "hint", text: "Aus dem Ereignisprotokoll berechnet: Stand am Ende jeder Woche. Gezählt werden Verwaltungen je Dienst; die zentralen Rollouts des Landes und des Verbands zählen nicht mit. Die gestrichelte Linie ist das Ziel." })),
    el("p", { id: "burnup-target", role: "status" }));
  $("b-service").addEventListener("change", drawBurnup);
  $("b-program").addEventListener("change", drawBurnup);
  $("state").textContent = "Verlauf wird aus dem Protokoll berechnet …";
  const seq = viewSeq;
  const first = await gql("{ events(first: 1, filter: { types: [\"RolloutStarted\"] }) { edges { node { recordedAt } } } }");
  const start = first.events.edges.length ? new Date(first.events.edges[0].node.recordedAt) : new Date();
  start.setUTCHours(0, 0, 0, 0);
  const d = await gql("query($f: String!) { progressOverTime(groupBy: SERVICE, from: $f, everyDays: 7) { at groups { key rollouts byPhaseStatus { phase status count } } } }", { f: start.toISOString() });
  // The last point is now, so the chart ends with the current state.
  const now = await gql("{ progress(groupBy: SERVICE) { key rollouts responsible inOperation byPhaseStatus { phase status count } } targets { scope inOperation coverage by gap actualInOperation actualCoverage } }");
  if (seq !== viewSeq) return;
  burnupData = d.progressOverTime.concat([{ at: new Date().toISOString(), groups: now.progress }]);
  burnupNow = now;
  drawBurnup();
}

let burnupData = [];
let burnupNow = { progress: [], targets: [] };

// The target of what is shown (a service, a programme, the whole), as administrations in
// operation: a coverage target is counted against the responsible administrations now.
function targetOf(service, program) {
  const scope = service ? "service:" + service : program ? "programme:" + program.toLowerCase() : "gesamt";
  const t = burnupNow.targets.find((x) => x.scope === scope);
  if (!t) return null;
  const responsible = burnupNow.progress.filter((g) => (!service || g.key === service) && inProgram(g.key, program)).reduce((s, g) => s + g.responsible, 0);
  const count = t.inOperation !== null ? t.inOperation : Math.ceil(t.coverage / 100 * responsible);
  return { ...t, count };
}

function drawBurnup() {
  const box = $("burnup-box");
  if (!box) return;
  const service = $("b-service").value;
  const program = $("b-program").value;
  // Series: phases in order (not live, not cancelled), then live.
  const phaseIds = [...data.phases.entries()].sort((x, y) => x[1].index - y[1].index).map(([id]) => id);
  const rows = burnupData.map((p) => {
    const counts = { live: 0 };
    for (const id of phaseIds) counts[id] = 0;
    for (const g of p.groups) {
      if ((service && g.key !== service) || !inProgram(g.key, program)) continue;
      for (const c of g.byPhaseStatus) {
        if (c.status === "live") counts.live += c.count;
        else if (c.status !== "cancelled" && c.status !== "not_started") counts[c.phase] = (counts[c.phase] || 0) + c.count;
      }
    }
    return { at: p.at, counts };
  });
  const series = phaseIds.filter((id) => rows.some((r) => r.counts[id] > 0)).concat(["live"]);
  const W = 960, H = 380, L = 48, R = 250, T = 12, B = 36;
  const target = targetOf(service, program);
  const max = Math.max(1, target ? target.count : 0, ...rows.map((r) => series.reduce((s, k) => s + r.counts[k], 0)));
  const x = (i) => L + (rows.length > 1 ? i / (rows.length - 1) : 0) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const chart = svg("svg", { id: "burnup", class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "burnup-title burnup-desc" });
  const last = rows[rows.length - 1] || { counts: { live: 0 } };
  chart.append(svg("title", { id: "burnup-title" }), svg("desc", { id: "burnup-desc" }));
  chart.querySelector("title").textContent = `Burn-up ${service ? serviceName(service) : "ganzes Programm"}`;
  chart.querySelector("desc").textContent = `Heute ${last.counts.live} Verwaltungen in Betrieb von ${series.reduce((s, k) => s + last.counts[k], 0)} in Arbeit oder in Betrieb. Die Tabelle unter der Grafik enthält alle Werte.`;
  for (let i = 0; i <= 4; i++) {
    const v = Math.round(max * i / 4);
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#ddd" }));
    const t = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }); t.textContent = v; chart.append(t);
  }
  const base = rows.map(() => 0);
  series.forEach((k, si) => {
    const top = rows.map((r, i) => base[i] + r.counts[k]);
    const pts = rows.map((r, i) => `${x(i)},${y(top[i])}`).concat(rows.map((r, i) => `${x(rows.length - 1 - i)},${y(base[rows.length - 1 - i])}`).slice(0));
    const colour = k === "live" ? "var(--live)" : phaseColour({ status: "in_progress", phase: k }).bg;
    chart.append(svg("polygon", { points: pts.join(" "), fill: colour, stroke: "#fff", "stroke-width": 0.5, "data-series": k }));
    rows.forEach((r, i) => { base[i] = top[i]; });
    const ly = T + 14 + si * 18;
    chart.append(svg("rect", { x: W - R + 12, y: ly - 10, width: 12, height: 12, fill: colour, stroke: "#555" }));
    const t = svg("text", { x: W - R + 30, y: ly }); t.textContent = k === "live" ? "in Betrieb" : phaseTitle(k); chart.append(t);
  });
  if (target) {
    chart.append(svg("line", { id: "burnup-target-line", x1: L, x2: W - R, y1: y(target.count), y2: y(target.count), stroke: "#b00", "stroke-dasharray": "6 4", "stroke-width": 2 }));
    const t = svg("text", { x: W - R + 12, y: y(target.count) + 4, fill: "#b00" }); t.textContent = `Ziel: ${target.count} bis ${target.by}`; chart.append(t);
  }
  const step = Math.max(1, Math.ceil(rows.length / 8));
  rows.forEach((r, i) => {
    const lastX = x(rows.length - 1);
    if (i !== rows.length - 1 && (i % step || lastX - x(i) < 70)) return;
    const t = svg("text", { x: x(i), y: H - B + 16, "text-anchor": "middle" }); t.textContent = fmtDate(r.at); chart.append(t);
  });
  const table = el("table", { class: "data", id: "burnup-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Stand" }), series.map((k) => el("th", { scope: "col", text: k === "live" ? "in Betrieb" : phaseTitle(k) })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, el("th", { scope: "row", text: fmtDate(r.at) }), series.map((k) => el("td", { class: "num", text: String(r.counts[k]) }))))));
  box.textContent = "";
  box.append(chart, el("details", { class: "table" }, el("summary", { text: "Werte als Tabelle" }), table));
  $("state").textContent = `${rows.length} Wochen, heute ${last.counts.live} in Betrieb.`;
  const note = $("burnup-target");
  if (note) note.textContent = target
    ? `Ziel: ${target.inOperation !== null ? target.inOperation + " Verwaltungen in Betrieb" : target.coverage.toLocaleString("de-DE") + " % Abdeckung"} bis ${target.by}; heute ${target.actualInOperation} in Betrieb (${target.actualCoverage.toLocaleString("de-DE")} %), Lücke ${target.gap.toLocaleString("de-DE")}.`
    : "Für diese Auswahl ist kein Ziel gesetzt.";
}

registerView("burnup", (v, fresh) => fresh && showBurnup());
