// The map of the Land: the share of live rollouts per administration or Landkreis.

import { $, el, svg, select } from "./dom.js";
import { pct } from "./words.js";
import { data, serviceName, PROGRAMS, inProgram } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";

const layers = {};
async function layer(name) {
  if (!layers[name]) layers[name] = fetch("/geo/" + name + ".geojson").then((r) => r.json());
  return layers[name];
}

// Longitude/latitude to SVG units: an equirectangular projection scaled by cos(52.4°) — enough
// for one Land, and no library needed.
const K = Math.cos(52.4 * Math.PI / 180);
const project = ([lon, lat]) => [(lon - 11.2) * K * 100, (53.6 - lat) * 100];
function pathOf(geometry) {
  const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let d = "";
  for (const poly of polys) for (const ring of poly) {
    d += "M" + ring.map((c) => project(c).map((v) => v.toFixed(2)).join(",")).join("L") + "Z";
  }
  return d;
}

const map = { view: null, full: null };

function shareFor(arsList, service, program) {
  let live = 0, all = 0;
  const set = new Set(arsList);
  for (const r of data.rollouts.values()) {
    if (!set.has(r.ars) || (service && r.serviceKey !== service) || !inProgram(r.serviceKey, program) || r.status === "cancelled") continue;
    all++; if (r.status === "live") live++;
  }
  return { live, all, share: all ? live / all : null };
}

const shareColour = (s) => s === null ? "#e2e2e2" : `hsl(105 ${25 + 35 * s}% ${92 - 55 * s}%)`;

export async function showMap(params) {
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const box = el("div", { class: "filters" },
    select("m-program", "Programm", PROGRAMS, params.get("programm")),
    select("m-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    el("div", {}, el("label", { for: "m-layer", text: "Ebene" }),
      (() => { const s = el("select", { id: "m-layer" }); s.add(new Option("Verwaltungen", "verwaltungstraeger")); s.add(new Option("Landkreise und kreisfreie Städte", "kreise")); s.value = params.get("ebene") || "verwaltungstraeger"; return s; })()),
    el("div", { class: "zoom", role: "group", "aria-label": "Zoom" },
      el("button", { type: "button", class: "secondary", "aria-label": "Hineinzoomen", onclick: () => zoom(0.7) }, "+"),
      el("button", { type: "button", class: "secondary", "aria-label": "Herauszoomen", onclick: () => zoom(1 / 0.7) }, "−"),
      el("button", { type: "button", class: "secondary", onclick: () => zoom(0) }, "Ganzes Land")),
    el("div", { class: "scale", "aria-hidden": "true" }, "0 %", el("span", { class: "bar", id: "scale-bar" }), "100 % in Betrieb"));
  const info = el("div", { class: "map-info", id: "map-info", "aria-live": "polite" }, el("p", { class: "hint", text: "Fläche mit der Maus oder der Tab-Taste wählen; Enter öffnet die Anbindungen." }));
  setMain("Karte: Anteil der Anbindungen, die in Betrieb sind", box,
    el("div", { class: "map-layout" },
      el("figure", { style: null },
        svg("svg", { id: "map", class: "map", role: "group", "aria-label": "Karte von " + data.land }),
        el("figcaption", { class: "attribution", text: data.mapAttribution })),
      info));
  $("scale-bar").style.background = `linear-gradient(to right, ${shareColour(0)}, ${shareColour(0.5)}, ${shareColour(1)})`;
  $("m-service").addEventListener("change", updateMap);
  $("m-program").addEventListener("change", updateMap);
  $("m-layer").addEventListener("change", drawMap);
  const m = $("map");
  m.addEventListener("wheel", (ev) => { ev.preventDefault(); zoom(ev.deltaY < 0 ? 0.8 : 1.25, ev); }, { passive: false });
  let drag = null;
  m.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, view: [...map.view] }; });
  m.addEventListener("pointerup", () => { drag = null; });
  m.addEventListener("pointermove", (ev) => {
    if (!drag || !(ev.buttons & 1)) return;
    const scale = map.view[2] / m.getBoundingClientRect().width;
    const dx = (ev.clientX - drag.x) * scale, dy = (ev.clientY - drag.y) * scale;
    if (Math.abs(dx) + Math.abs(dy) < 1) return;
    map.view = [drag.view[0] - dx, drag.view[1] - dy, drag.view[2], drag.view[3]];
    m.setAttribute("viewBox", map.view.join(" "));
  });
  await drawMap();
}

function zoom(factor, ev) {
  const m = $("map");
  if (!m || !map.full) return;
  if (factor === 0) map.view = [...map.full];
  else {
    const [x, y, w, h] = map.view;
    let cx = x + w / 2, cy = y + h / 2;
    if (ev) { const b = m.getBoundingClientRect(); cx = x + (ev.clientX - b.left) / b.width * w; cy = y + (ev.clientY - b.top) / b.height * h; }
    const nw = Math.min(map.full[2] * 1.5, Math.max(map.full[2] / 20, w * factor)), nh = nw * h / w;
    map.view = [cx - (cx - x) * nw / w, cy - (cy - y) * nh / h, nw, nh];
  }
  m.setAttribute("viewBox", map.view.join(" "));
}

async function drawMap() {
  const name = $("m-layer").value;
  const seq = viewSeq;
  const geo = await layer(name);
  const m = $("map");
  if (!m || seq !== viewSeq || $("m-layer").value !== name) return;
  m.textContent = "";
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of geo.features) {
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const p of polys) for (const c of p[0]) {
      const [x, y] = project(c);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    m.append(svg("path", { d: pathOf(f.geometry), "data-ars": f.properties.ars, "data-name": f.properties.name }));
  }
  map.full = [minX - 2, minY - 2, maxX - minX + 4, maxY - minY + 4];
  map.view = [...map.full];
  m.setAttribute("viewBox", map.view.join(" "));
  for (const p of m.querySelectorAll("path")) {
    p.addEventListener("mouseenter", () => mapInfo(p));
    p.addEventListener("focus", () => mapInfo(p));
    p.addEventListener("click", () => openArea(p));
    p.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); openArea(p); } });
  }
  updateMap();
}

// The administrations an area stands for: itself, or (on the Landkreis layer) itself and all
// administrations of the Landkreis.
function areaMembers(ars) {
  if ($("m-layer").value !== "kreise") return [ars];
  return [...data.authorities.values()].filter((a) => a.ars === ars || (a.landkreis && a.landkreis.ars === ars)).map((a) => a.ars);
}

export function updateMap() {
  const m = $("map");
  if (!m) return;
  const service = $("m-service").value;
  const program = $("m-program").value;
  let seen = 0;
  for (const p of m.querySelectorAll("path")) {
    const ars = p.dataset.ars;
    const visible = areaMembers(ars).some((a) => data.authorities.has(a));
    const s = visible ? shareFor(areaMembers(ars), service, program) : { live: 0, all: 0, share: null };
    p.setAttribute("fill", shareColour(s.share));
    p.dataset.live = String(s.live); p.dataset.all = String(s.all);
    p.dataset.share = s.share === null ? "" : String(s.share);
    const label = s.all ? `${p.dataset.name}: ${s.live} von ${s.all} Anbindungen in Betrieb (${pct(100 * s.share)})` : `${p.dataset.name}: keine Anbindungen${visible ? "" : " sichtbar"}`;
    p.setAttribute("aria-label", label);
    let t = p.querySelector("title");
    if (!t) { t = svg("title"); p.append(t); }
    t.textContent = label;
    if (s.all) { p.setAttribute("tabindex", "0"); p.setAttribute("role", "link"); p.classList.remove("hidden-data"); seen++; }
    else { p.removeAttribute("tabindex"); p.removeAttribute("role"); p.classList.add("hidden-data"); }
  }
  $("state").textContent = `${seen} Flächen mit Anbindungen${service ? " für " + serviceName(service) : ""}.`;
}

function mapInfo(p) {
  const info = $("map-info");
  info.textContent = "";
  info.append(el("h3", { text: p.dataset.name }),
    el("p", { text: p.dataset.all !== "0" ? `${p.dataset.live} von ${p.dataset.all} Anbindungen in Betrieb (${pct(100 * Number(p.dataset.share))})` : "keine Anbindungen" }),
    p.dataset.all !== "0" ? el("p", { class: "hint", text: "Klick oder Enter öffnet die Anbindungen." }) : null);
}

function openArea(p) {
  if (p.dataset.all === "0") return;
  if ($("m-layer").value === "kreise") {
    const a = data.authorities.get(p.dataset.ars);
    location.hash = a && a.kind === "kreisfreie_stadt" ? "#/verwaltung/" + p.dataset.ars : "#/?kreis=" + p.dataset.ars;
  } else location.hash = "#/verwaltung/" + p.dataset.ars;
}

registerView("map", (v, fresh) => fresh ? showMap(v.params) : updateMap());
