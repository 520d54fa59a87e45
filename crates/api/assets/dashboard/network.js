// The OZG network: who is how far with a service (with the contacts who agreed to be named),
// "Wer hat das schon geschafft?" on a rollout's step, the search over recorded solutions, and
// for managers the blockages by category and vendor with their escalation.

import { $, el, svg, select } from "./dom.js";
import { STATUS, BLOCK_CATEGORY, BLOCK_CATEGORY_STORED, fmtDate } from "./words.js";
import { gql } from "./api.js";
import { data, manager, serviceName, phaseTitle, phaseColour } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";
import { download, queryOf } from "./download.js";
import { followNetwork } from "./live.js";
import { currentView } from "./routing.js";

const PEERS = `query($s: String!, $t: String, $p: String) { peers(serviceKey: $s, stepId: $t, product: $p) {
  authority { ars name } phase status inOperation completedAt sameLandkreis distanceKm contacts { name function email phone }
  backOffice { product vendor version } } }`;
const SOLUTIONS = `query($s: String, $t: String, $q: String) { solutions(serviceKey: $s, stepId: $t, query: $q, first: 20) {
  nodes { position solvedAt serviceKey stepId category vendor problem solution authority { name } } hasNextPage } }`;

const contactList = (contacts) => contacts.length
  ? el("ul", { class: "contacts" }, contacts.map((c) => el("li", {}, c.name, c.function ? ` (${c.function})` : "",
    c.email ? [" · ", el("a", { href: "mailto:" + c.email, text: c.email })] : "", c.phone ? ` · ${c.phone}` : "")))
  : el("span", { class: "hint", text: "keine freigegebene Ansprechperson" });

// Below a step's row: the administrations that completed it, nearest first, with their
// contacts, and the solutions recorded for the step.
export async function peersRow(r, s, tr) {
  const id = "peers-" + s.id;
  const old = document.getElementById(id);
  if (old) return old.remove();
  const box = el("td", { colspan: 6 }, el("p", { text: "Wird geladen …" }));
  tr.after(el("tr", { id, class: "form-row" }, box));
  let peers, solutions;
  try {
    [peers, solutions] = await Promise.all([
      gql(PEERS, { s: r.serviceKey, t: s.id }).then((d) => d.peers),
      gql(SOLUTIONS, { s: r.serviceKey, t: s.id }).then((d) => d.solutions.nodes),
    ]);
  } catch (e) { box.replaceChildren(el("p", { class: "alert", text: e.text })); return; }
  const shown = peers.slice(0, 10);
  box.replaceChildren(
    el("h4", { text: `Wer hat „${s.title}“ schon geschafft?` }),
    shown.length ? el("table", { class: "data", id: "peers-" + s.id + "-table" },
      el("thead", {}, el("tr", {}, ...["Verwaltung", "Erledigt am", "Entfernung", "Ansprechpersonen"].map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, shown.map((p) => el("tr", { dataset: { ars: p.authority.ars } },
        el("th", { scope: "row", text: p.authority.name + (p.sameLandkreis ? " (gleicher Landkreis)" : "") }),
        el("td", { text: fmtDate(p.completedAt) }),
        el("td", { text: p.distanceKm === null ? "–" : `${p.distanceKm.toLocaleString("de-DE")} km` }),
        el("td", {}, contactList(p.contacts))))))
      : el("p", { text: "Noch keine andere Verwaltung hat diesen Schritt erledigt." }),
    peers.length > shown.length ? el("p", { class: "hint", text: `${peers.length - shown.length} weitere im Netzwerk.` }) : null,
    el("h4", { text: "Gelöste Blockaden bei diesem Schritt" }),
    solutionList(solutions));
}

function solutionList(list) {
  if (!list.length) return el("p", { text: "Keine aufgezeichneten Lösungen." });
  return el("ul", { class: "solutions" }, list.map((x) => el("li", { dataset: { position: String(x.position) } },
    el("strong", { text: x.solution }),
    el("div", { class: "meta", text: [`Problem: ${x.problem}`, x.category ? BLOCK_CATEGORY[x.category] : null, x.vendor,
      serviceName(x.serviceKey), x.authority ? x.authority.name : "Verwaltung nicht genannt", fmtDate(x.solvedAt)].filter(Boolean).join(" · ") }))));
}

// The network page of a service: who is how far, the solutions search, blockages (managers).
export function showNetwork(params) {
  const services = [...data.services.values()].sort((a, b) => a.name.localeCompare(b.name, "de"));
  const service = params.get("dienst") || (services.find((s) => s.key === "wohngeld") || services[0] || {}).key;
  const product = params.get("fachverfahren") || "";
  const form = el("form", { class: "filters", id: "network-filter", role: "search", "aria-label": "Netzwerk",
    onsubmit: (ev) => { ev.preventDefault(); const q = new URLSearchParams({ dienst: $("n-service").value }); if ($("n-product").value.trim()) q.set("fachverfahren", $("n-product").value.trim()); location.hash = "#/netzwerk?" + q; } },
    select("n-service", "Dienst", services.map((s) => [s.key, s.name]), service),
    el("div", {}, el("label", { for: "n-product", text: "Gleiches Fachverfahren (Produkt)" }), el("input", { id: "n-product", value: product })),
    el("div", {}, el("button", { type: "submit", text: "Anzeigen" })));
  const search = el("form", { class: "filters", id: "solution-search", role: "search", "aria-label": "Lösungen suchen" },
    el("div", {}, el("label", { for: "s-query", text: "Lösungen suchen (z. B. Zertifikat, Vertrag)" }), el("input", { id: "s-query", type: "search" })),
    el("div", {}, el("button", { type: "submit", text: "Suchen" })));
  search.addEventListener("submit", (ev) => { ev.preventDefault(); loadSolutions(service); });
  setMain(`OZG-Netzwerk: ${serviceName(service)}`, form,
    el("p", { class: "hint", text: "Andere Verwaltungen sehen hier nur Phase, Status und Ansprechpersonen, die der Nennung zugestimmt haben – keine Nachweise, Kommentare oder Rückfragen." }),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary", id: "peers-xlsx", text: "Netzwerk als Excel-Datei (XLSX)",
        onclick: () => download("/exports/peers.xlsx" + queryOf({ serviceKey: service, product }), "netzwerk.xlsx", $("network-download"), "netzwerk.xlsx") }),
      el("button", { type: "button", class: "secondary", id: "solutions-xlsx", text: "Lösungen als Excel-Datei (XLSX)",
        onclick: () => download("/exports/solutions.xlsx" + queryOf({ serviceKey: service, query: $("s-query").value.trim() }), "loesungen.xlsx", $("network-download"), "loesungen.xlsx") }),
      el("span", { id: "network-download", role: "status" })),
    el("p", { id: "network-error", class: "alert", role: "alert" }),
    el("section", { "aria-labelledby": "h-peers" }, el("h3", { id: "h-peers", text: "Wer ist wie weit?" }),
      el("figure", { class: "network-map" },
        svg("svg", { id: "network-map", class: "map", role: "img", "aria-label": `Karte: wie weit die Verwaltungen mit ${serviceName(service)} sind (Tabelle darunter)` }),
        el("figcaption", { class: "attribution", text: "Grün: in Betrieb; Blau: je dunkler, desto weiter; Orange: die eigene Verwaltung; grau: keine Anbindung. Verwaltungsgrenzen: © GeoBasis-DE / BKG, dl-de/by-2-0" })),
      el("div", { class: "scroll-x" }, el("table", { class: "data", id: "peers" },
        el("caption", { class: "status", id: "peers-caption", text: "Wird geladen …" }),
        el("thead", {}, el("tr", {}, ...["Verwaltung", "Phase", "Status", "Entfernung", "Fachverfahren", "Ansprechpersonen"].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", { id: "peer-rows" })))),
    el("section", { "aria-labelledby": "h-solutions" }, el("h3", { id: "h-solutions", text: "Lösungen anderer Verwaltungen" }), search,
      el("div", { id: "solution-list" })),
    manager() ? el("section", { "aria-labelledby": "h-blockages" }, el("h3", { id: "h-blockages", text: "Blockaden nach Hersteller und Art" }),
      el("div", { id: "blockage-list" })) : null);
  loadPeers(service, product);
  loadSolutions(service);
  if (manager()) loadBlockages();
  // Live: the network feed says when the service's network changed; the page reads it again.
  followNetwork(service, () => {
    if (currentView().name !== "network") return followNetwork(null);
    loadPeers(service, product);
    if (manager()) loadBlockages();
  });
}

async function loadPeers(service, product) {
  const seq = viewSeq;
  let peers;
  try { peers = (await gql(PEERS, { s: service, p: product || null })).peers; } catch (e) { if ($("network-error")) $("network-error").textContent = e.text; return; }
  if (seq !== viewSeq || !$("peer-rows")) return;
  drawNetworkMap(peers);
  const live = peers.filter((p) => p.inOperation).length;
  $("peers-caption").textContent = `${peers.length} Verwaltungen, davon ${live} in Betrieb; nächstgelegene zuerst`;
  $("peer-rows").replaceChildren(...peers.map((p) => el("tr", { dataset: { ars: p.authority.ars } },
    el("th", { scope: "row", text: p.authority.name }),
    el("td", { text: phaseTitle(p.phase) }),
    el("td", {}, el("span", { class: "pill " + p.status, text: STATUS[p.status] || p.status })),
    el("td", { text: p.distanceKm === null ? "–" : `${p.distanceKm.toLocaleString("de-DE")} km` }),
    el("td", { text: p.backOffice ? `${p.backOffice.product} (${p.backOffice.vendor})` : "–" }),
    el("td", {}, contactList(p.contacts)))));
}

async function loadSolutions(service) {
  const q = $("s-query") ? $("s-query").value.trim() : "";
  try {
    const list = (await gql(SOLUTIONS, { s: service, q: q || null })).solutions.nodes;
    if ($("solution-list")) $("solution-list").replaceChildren(solutionList(list));
  } catch (e) { if ($("network-error")) $("network-error").textContent = e.text; }
}

async function loadBlockages() {
  let byVendor, byCategory;
  try {
    [byVendor, byCategory] = await Promise.all(["VENDOR", "CATEGORY"].map((g) =>
      gql(`{ blockages(groupBy: ${g}) { key count authorities rolloutIds } }`).then((d) => d.blockages)));
  } catch (e) { if ($("network-error")) $("network-error").textContent = e.text; return; }
  const box = $("blockage-list");
  if (!box) return;
  const table = (caption, groups, label, escalate) => el("table", { class: "data", id: caption === "Hersteller" ? "blockages-vendor" : "blockages-category" },
    el("caption", { class: "status", text: `Blockierte Anbindungen nach ${caption}` }),
    el("thead", {}, el("tr", {}, ...[caption, "Anbindungen", "Verwaltungen", ""].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, groups.map((g) => el("tr", { dataset: { key: g.key } },
      el("th", { scope: "row", text: label(g.key) }), el("td", { class: "num", text: String(g.count) }), el("td", { class: "num", text: String(g.authorities) }),
      el("td", {}, g.key && data.me.role !== "auditor" ? el("button", { type: "button", class: "secondary", "aria-label": `Eskalieren: ${label(g.key)}`,
        onclick: (ev) => escalateForm(escalate(g.key), label(g.key), ev.currentTarget) }, "Eskalieren …") : "")))));
  box.replaceChildren(
    table("Hersteller", byVendor, (k) => k || "ohne Angabe", (k) => ({ vendor: k })),
    table("Art", byCategory, (k) => BLOCK_CATEGORY[BLOCK_CATEGORY_STORED[k]] || "ohne Angabe", (k) => ({ category: BLOCK_CATEGORY_STORED[k] })));
}

function escalateForm(group, label, button) {
  document.getElementById("escalate-form")?.remove();
  const form = el("form", { class: "action", id: "escalate-form", "aria-label": `Eskalieren: ${label}` },
    el("div", { class: "field" }, el("label", { for: "escalate-reason", text: "Begründung und Empfänger (Pflicht)" }),
      el("textarea", { id: "escalate-reason", rows: 2, required: true, "aria-describedby": "escalate-note" }),
      el("span", { id: "escalate-note", class: "hint", text: "Steht im Verlauf jeder betroffenen Anbindung: keine personenbezogenen Daten eintragen." })),
    el("p", { id: "escalate-error", class: "alert", role: "alert" }),
    el("div", { class: "buttons" }, el("button", { type: "submit", text: "Eskalieren" })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const d = await gql("mutation($i: EscalateBlockagesInput!) { escalateBlockages(input: $i) { rolloutIds } }", { i: Object.assign({ reason: $("escalate-reason").value }, group) });
      form.replaceChildren(el("p", { class: "success", role: "status", text: `Eskaliert: ${d.escalateBlockages.rolloutIds.length} Anbindungen.` }));
    } catch (e) { $("escalate-error").textContent = e.text; }
  });
  button.closest("table").after(form);
}

// The map of the network: the Landkreise and kreisfreie Städte as the base, the peers' areas on
// top, each coloured by how far its rollout is (the table below says the same in words).
const K = Math.cos(52.4 * Math.PI / 180);
const project = ([lon, lat]) => [(lon - 11.2) * K * 100, (53.6 - lat) * 100];
const layers = {};
const layer = (name) => (layers[name] = layers[name] || fetch("/geo/" + name + ".geojson").then((r) => r.json()));
function pathOf(geometry) {
  const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let d = "";
  for (const poly of polys) for (const ring of poly) d += "M" + ring.map((c) => project(c).map((v) => v.toFixed(2)).join(",")).join("L") + "Z";
  return d;
}

async function drawNetworkMap(peers) {
  const m = $("network-map");
  if (!m) return;
  const [kreise, gemeinden] = await Promise.all([layer("kreise"), layer("verwaltungstraeger")]);
  if (!$("network-map")) return;
  const byArs = new Map(peers.map((p) => [p.authority.ars, p]));
  const mine = new Set((data.me.authorities || []));
  m.textContent = "";
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const draw = (f, base) => {
    const p = byArs.get(f.properties.ars);
    if (!base && !p && !mine.has(f.properties.ars)) return;
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) for (const c of poly[0]) {
      const [x, y] = project(c);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    const fill = p ? phaseColour({ status: p.status, phase: p.phase }).bg : mine.has(f.properties.ars) ? "#f0a500" : "#ececec";
    const label = p ? `${f.properties.name}: ${STATUS[p.status] || p.status}, ${phaseTitle(p.phase)}` : mine.has(f.properties.ars) ? `${f.properties.name} (eigene Verwaltung)` : f.properties.name;
    m.append(svg("path", { d: pathOf(f.geometry), fill, stroke: "#fff", "stroke-width": "0.3", "data-ars": f.properties.ars }, svg("title", {}, label)));
  };
  for (const f of kreise.features) draw(f, true);
  for (const f of gemeinden.features) if (f.properties.typ !== "kreisfreie_stadt") draw(f, false);
  if (minX < Infinity) m.setAttribute("viewBox", `${minX - 2} ${minY - 2} ${maxX - minX + 4} ${maxY - minY + 4}`);
}

registerView("network", (v, fresh) => fresh && showNetwork(v.params));
