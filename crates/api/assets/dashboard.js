// efa-rollout dashboard: a client of the public GraphQL API (POST /graphql, the
// graphql-transport-ws subscription on GET /graphql) and of the map layers at /geo/. It uses
// nothing other tools cannot use. Views are addressed by the URL fragment:
//   #/                      programme overview (matrix of services × administrations)
//   #/karte                 map of Brandenburg, share of live rollouts
//   #/verlauf               progress over time (burn-up)
//   #/audit                 audit log with filters and CSV export
//   #/rollout/<id>          one rollout: steps, evidence, actions, history
//   #/verwaltung/<ars>      one administration and its rollouts
// A token passed as #token=... is moved into the session storage and removed from the URL.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- Words -------------------------------------------------------------------------------

const STATUS = { not_started: "nicht begonnen", in_progress: "in Arbeit", blocked: "blockiert", live: "live", cancelled: "beendet" };
const STEP_STATUS = {
  waiting: "wartet", ready: "bereit", in_progress: "in Arbeit", awaiting_confirmation: "wartet auf Bestätigung",
  done: "erledigt", not_required: "nicht erforderlich", not_applicable: "entfällt",
};
const ROLE = { admin: "Administration", "project-manager": "Projektleitung", "authority-staff": "Verwaltung", automation: "Automatisierung", auditor: "Prüfung" };
const KIND = {
  land: "Land", landkreis: "Landkreis", kreisfreie_stadt: "kreisfreie Stadt", amt: "Amt", verbandsgemeinde: "Verbandsgemeinde",
  mitverwaltende_gemeinde: "mitverwaltende Gemeinde", amtsfreie_gemeinde: "amtsfreie Gemeinde",
};
const EVENT = {
  RolloutStarted: "Anbindung begonnen", StepStarted: "Schritt begonnen", StepCompleted: "Schritt erledigt",
  StepConfirmed: "Schritt bestätigt (Vier-Augen-Prinzip)", StepReopened: "Schritt wieder geöffnet",
  StepMarkedNotRequired: "Schritt als nicht erforderlich markiert", RolloutBlocked: "blockiert", RolloutUnblocked: "Blockade aufgehoben",
  CommentAdded: "Kommentar", RolloutAssigned: "zugewiesen", DueDateSet: "Frist gesetzt", DefinitionMigrated: "auf neue Version umgestellt",
  RolloutCancelled: "beendet", LandStepChanged: "Schritt auf Landesebene geändert", StepOverdue: "Frist überschritten",
  RolloutTransferred: "übertragen (Gebietsänderung)", RolloutTakenOver: "übernommen (Gebietsänderung)",
  AuthorityRegistered: "Verwaltung registriert", AuthorityChanged: "Verwaltung geändert", AuthorityDissolved: "Verwaltung aufgelöst",
  ServiceRegistered: "Dienst registriert", ServiceChanged: "Dienst geändert", TokenIssued: "Token ausgegeben", TokenRevoked: "Token widerrufen",
};
const ACTION = {
  startStep: "Beginnen", completeStep: "Erledigt melden …", confirmStep: "Bestätigen …",
  reopenStep: "Wieder öffnen …", markStepNotRequired: "Nicht erforderlich …",
};
const ERROR = {
  REJECTED: "Abgelehnt", CONFLICT: "Inzwischen geändert", FORBIDDEN: "Nicht erlaubt", UNAUTHENTICATED: "Nicht angemeldet",
  BAD_USER_INPUT: "Ungültige Eingabe", NOT_FOUND: "Nicht gefunden", LIMIT_EXCEEDED: "Zu groß", INTERNAL: "Serverfehler",
};

const fmtTime = (iso) => iso ? new Date(iso).toLocaleString("de-DE", { dateStyle: "medium", timeStyle: "short" }) : "";
const fmtDate = (iso) => iso ? new Date(iso).toLocaleDateString("de-DE", { dateStyle: "medium" }) : "";
const pct = (x) => (Math.round(x * 10) / 10).toLocaleString("de-DE") + " %";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
  for (const c of children.flat()) if (c) e.append(c);
  return e;
}

// ---- The API -----------------------------------------------------------------------------

let token = sessionStorage.getItem("efa-token") || "";

class ApiError extends Error {
  constructor(error) {
    super(error.message);
    this.code = (error.extensions && error.extensions.code) || "";
    this.fields = (error.extensions && error.extensions.fields) || [];
  }
  // The error in words: what kind of refusal, then the server's reason.
  get text() { return (ERROR[this.code] ? ERROR[this.code] + ": " : "") + this.message; }
}

async function gql(query, variables) {
  const r = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " + token },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const answer = await r.json();
  if (answer.errors && answer.errors.length) throw new ApiError(answer.errors[0]);
  return answer.data;
}

async function allPages(query, field, variables) {
  const out = [];
  let after = null;
  do {
    const d = await gql(query, Object.assign({}, variables, { a: after }));
    for (const e of d[field].edges) out.push(e.node);
    after = d[field].pageInfo.hasNextPage ? d[field].pageInfo.endCursor : null;
  } while (after);
  return out;
}

// ---- What is loaded once after sign-in, and kept current ----------------------------------

const data = {
  me: null,
  rollouts: new Map(),     // id -> { id status phase serviceKey ars stepsDone stepsApplicable blockedReason }
  authorities: new Map(),  // ars -> { ars name kind landkreis }
  services: new Map(),     // key -> { key name }
  definitions: [],         // with phases
  phases: new Map(),       // phase id -> { title, index, of }
  overdue: new Set(),
};
const ROLLOUT_FIELDS = "id status phase serviceKey ars stepsDone stepsApplicable blockedReason";
const manager = () => data.me && ["admin", "project-manager", "auditor"].includes(data.me.role);
const writer = () => data.me && data.me.role !== "auditor";

async function loadAll() {
  const [me, defs] = await Promise.all([
    gql("{ me { id name role authorities services } }"),
    gql("{ definitions { id version title phases { id title steps { id title roles evidence { id label type required values pattern maxLength } skippable fourEyes } } } }"),
  ]);
  data.me = me.me;
  data.definitions = defs.definitions;
  data.phases.clear();
  for (const d of data.definitions) {
    d.phases.forEach((p, i) => { if (!data.phases.has(p.id)) data.phases.set(p.id, { title: p.title, index: i, of: d.phases.length }); });
  }
  const [rollouts, authorities, services, overdue] = await Promise.all([
    allPages(`query($a: String) { rollouts(first: 500, after: $a) { edges { node { ${ROLLOUT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, "rollouts"),
    allPages("query($a: String) { authorities(first: 500, after: $a) { edges { node { ars name kind landkreis { ars name } } } pageInfo { hasNextPage endCursor } } }", "authorities"),
    allPages("query($a: String) { services(first: 500, after: $a) { edges { node { key name } } pageInfo { hasNextPage endCursor } } }", "services"),
    gql("{ overdue(first: 500) { rolloutId } }"),
  ]);
  data.rollouts = new Map(rollouts.map((r) => [r.id, r]));
  data.authorities = new Map(authorities.map((a) => [a.ars, a]));
  data.services = new Map(services.map((s) => [s.key, s]));
  data.overdue = new Set(overdue.overdue.map((o) => o.rolloutId));
}

const authorityName = (ars) => (data.authorities.get(ars) || { name: ars }).name;
const serviceName = (key) => (data.services.get(key) || { name: key }).name;
const kreisOf = (a) => a.landkreis ? a.landkreis : { ars: a.ars, name: a.name };
const phaseTitle = (id) => (data.phases.get(id) || { title: id }).title;

// Colour of a rollout's cell: its phase on a light-to-dark blue scale; live green, cancelled grey.
function phaseColour(r) {
  if (r.status === "live") return { bg: "var(--live)", dark: true };
  if (r.status === "cancelled") return { bg: "var(--cancelled)", dark: true };
  if (r.status === "not_started") return { bg: "var(--none)", dark: false };
  const p = data.phases.get(r.phase) || { index: 0, of: 1 };
  const t = p.of > 1 ? p.index / (p.of - 1) : 0;
  const light = 88 - t * 55;
  return { bg: `hsl(212 65% ${light}%)`, dark: light < 55 };
}

// ---- Live updates --------------------------------------------------------------------------

let socket = null;
let refreshTimer = null;
const pendingIds = new Set();

function followLive() {
  if (socket) socket.close();
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql", "graphql-transport-ws");
  socket = ws;
  ws.onopen = async () => {
    ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer " + token } }));
    const head = (await gql("{ head { position } }")).head.position;
    ws.send(JSON.stringify({ id: "live", type: "subscribe", payload: {
      query: "subscription($p: Int!) { events(afterPosition: $p) { position streamId type } }", variables: { p: head } } }));
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type !== "next" || !msg.payload.data) return;
    const stream = msg.payload.data.events.streamId;
    if (!stream.startsWith("rollout-")) return;
    pendingIds.add(stream.slice("rollout-".length));
    // Several events of one command arrive together: refresh once.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshChanged, 60);
  };
  ws.onclose = () => { if (socket === ws && token) setTimeout(followLive, 2000); };
}

async function refreshChanged() {
  const ids = [...pendingIds];
  pendingIds.clear();
  for (const id of ids) {
    const d = await gql(`query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} } }`, { id });
    if (d.rollout) data.rollouts.set(id, d.rollout);
  }
  const o = await gql("{ overdue(first: 500) { rolloutId } }");
  data.overdue = new Set(o.overdue.map((x) => x.rolloutId));
  const view = currentView();
  if (view.name === "rollout" && ids.includes(view.arg)) {
    // A form being filled in is not thrown away: the page says the rollout changed and is
    // redrawn when the form closes (a submission against the old version is a conflict).
    if (document.getElementById("action-form")) {
      staleRollout = true;
      $("rollout-success").textContent = "Diese Anbindung wurde soeben geändert. Die Ansicht wird aktualisiert, sobald das Formular geschlossen ist.";
    } else showRollout(view.arg, { keepMessages: true });
  }
  else if (["overview", "map", "authority"].includes(view.name)) refreshView(view);
}

// ---- Routing -------------------------------------------------------------------------------

function currentView() {
  const h = location.hash.replace(/^#/, "");
  const [path, query] = h.split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "karte") return { name: "map", params };
  if (parts[0] === "verlauf") return { name: "burnup", params };
  if (parts[0] === "audit") return { name: "audit", params };
  if (parts[0] === "rollout" && parts[1]) return { name: "rollout", arg: parts[1], params };
  if (parts[0] === "verwaltung" && parts[1]) return { name: "authority", arg: parts[1], params };
  return { name: "overview", params };
}

// Incremented on every navigation: an answer that arrives after the user moved on is dropped
// instead of replacing the page they are on now.
let viewSeq = 0;

function route() {
  if (!data.me) return;
  viewSeq++;
  const view = currentView();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === view.name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  refreshView(view, true);
}

function refreshView(view, fresh) {
  const main = $("inhalt");
  switch (view.name) {
    case "map": return fresh ? showMap(view.params) : updateMap();
    case "burnup": return fresh && showBurnup();
    case "audit": return fresh && showAudit(view.params);
    case "rollout": return showRollout(view.arg);
    case "authority": return showAuthority(view.arg);
    default:
      if (fresh || !main.querySelector("#matrix")) return showOverview(view.params);
      return renderMatrix();
  }
}

function setMain(title, ...content) {
  const main = $("inhalt");
  main.textContent = "";
  main.append(el("h2", { text: title }), ...content);
  document.title = title + " · efa-rollout";
}

// ---- Overview ------------------------------------------------------------------------------

function select(id, label, options, value) {
  const s = el("select", { id });
  s.add(new Option("alle", ""));
  for (const [v, text] of options) s.add(new Option(text, v));
  s.value = value || "";
  return el("div", {}, el("label", { for: id, text: label }), s);
}

function kreise() {
  const m = new Map();
  for (const r of data.rollouts.values()) {
    const a = data.authorities.get(r.ars);
    if (a) { const k = kreisOf(a); m.set(k.ars, k.name); }
  }
  return [...m.entries()].sort((x, y) => x[1].localeCompare(y[1], "de"));
}

function showOverview(params) {
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const phases = [...data.phases.entries()].sort((x, y) => x[1].index - y[1].index).map(([id, p]) => [id, p.title]);
  const filters = el("div", { class: "filters", role: "search", "aria-label": "Filter" },
    select("f-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    select("f-kreis", "Landkreis", kreise(), params.get("kreis")),
    select("f-phase", "Phase", phases, params.get("phase")),
    select("f-status", "Status", Object.entries(STATUS), params.get("status")));
  const legend = el("ul", { class: "legend", "aria-label": "Legende" },
    el("li", {}, el("span", { class: "swatch", dataset: { c: "none" } }), "nicht begonnen"),
    ...phases.filter(([id]) => [...data.rollouts.values()].some((r) => r.phase === id && !["live", "cancelled", "not_started"].includes(r.status)))
      .map(([id, title]) => el("li", {}, el("span", { class: "swatch", dataset: { phase: id } }), title)),
    el("li", {}, el("span", { class: "swatch", dataset: { c: "live" } }), "live"),
    el("li", {}, el("span", { class: "swatch", dataset: { c: "cancelled" } }), "beendet"),
    el("li", {}, "▣ rot umrandet: blockiert"),
    el("li", {}, "! überfällig"));
  for (const s of legend.querySelectorAll(".swatch")) {
    s.style.background = s.dataset.phase
      ? phaseColour({ status: "in_progress", phase: s.dataset.phase }).bg
      : `var(--${s.dataset.c})`;
  }
  setMain("Übersicht der Anbindungen", filters, legend,
    el("div", { class: "wrap" }, el("table", { id: "matrix", class: "matrix" })));
  for (const id of ["f-service", "f-kreis", "f-phase", "f-status"]) $(id).addEventListener("change", renderMatrix);
  renderMatrix();
}

function renderMatrix() {
  const table = $("matrix");
  if (!table) return;
  const fs = $("f-service").value, fk = $("f-kreis").value, fp = $("f-phase").value, fst = $("f-status").value;
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort().filter((s) => !fs || s === fs);
  const byArs = new Map();
  for (const r of data.rollouts.values()) {
    if (!services.includes(r.serviceKey) || (fst && r.status !== fst) || (fp && r.phase !== fp)) continue;
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
  head.append(el("th", { scope: "col", class: "total", text: "live / gesamt" }));
  const body = table.createTBody();
  const colLive = services.map(() => 0), colAll = services.map(() => 0);
  let shown = 0;
  for (const [, g] of [...groups.entries()].sort((x, y) => x[1].name.localeCompare(y[1].name, "de"))) {
    const kr = body.insertRow(); kr.className = "kreis";
    kr.append(el("th", { colspan: services.length + 2, scope: "rowgroup", text: g.name }));
    for (const a of g.rows.sort((x, y) => x.name.localeCompare(y.name, "de"))) {
      const tr = body.insertRow(); tr.dataset.ars = a.ars;
      tr.append(el("th", { scope: "row" }, el("a", { href: "#/verwaltung/" + a.ars, text: a.name })));
      let live = 0, all = 0;
      services.forEach((s, i) => {
        const td = tr.insertCell(); td.className = "cell";
        const r = byArs.get(a.ars).get(s);
        if (!r) return;
        shown++; all++; colAll[i]++;
        if (r.status === "live") { live++; colLive[i]++; }
        const late = data.overdue.has(r.id);
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
  foot.append(el("th", { scope: "row", text: "live / gesamt" }));
  services.forEach((_, i) => foot.append(el("td", { class: "total", text: `${colLive[i]}/${colAll[i]}` })));
  foot.append(el("td", { class: "total", text: `${colLive.reduce((a, b) => a + b, 0)}/${colAll.reduce((a, b) => a + b, 0)}` }));
  $("state").textContent = `${byArs.size} Verwaltungen, ${shown} Anbindungen angezeigt (von ${data.rollouts.size}).`;
}

// ---- One administration ------------------------------------------------------------------

function showAuthority(ars) {
  const a = data.authorities.get(ars);
  if (!a) return setMain("Verwaltung nicht gefunden", el("p", { text: `Keine Verwaltung ${ars} für dieses Token.` }));
  const rows = [...data.rollouts.values()].filter((r) => r.ars === ars).sort((x, y) => x.serviceKey.localeCompare(y.serviceKey));
  const table = el("table", { class: "data", id: "authority-rollouts" },
    el("thead", {}, el("tr", {}, ...["Dienst", "Status", "Phase", "Schritte erledigt"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, rows.map((r) => el("tr", { dataset: { id: r.id } },
      el("td", {}, el("a", { href: "#/rollout/" + encodeURIComponent(r.id), text: serviceName(r.serviceKey) })),
      el("td", {}, el("span", { class: "pill " + r.status, text: STATUS[r.status] }), data.overdue.has(r.id) ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
      el("td", { text: phaseTitle(r.phase) }),
      el("td", { class: "num", text: `${r.stepsDone} / ${r.stepsApplicable}` })))));
  setMain(a.name,
    el("dl", { class: "facts" },
      el("dt", { text: "Art" }), el("dd", { text: KIND[a.kind] || a.kind }),
      el("dt", { text: "ARS" }), el("dd", { text: a.ars }),
      el("dt", { text: "Landkreis" }), el("dd", { text: a.landkreis ? a.landkreis.name : "–" })),
    rows.length ? table : el("p", { text: "Keine Anbindungen." }));
}

// ---- One rollout -----------------------------------------------------------------------------

const ROLLOUT_QUERY = `query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} version definition
  steps { id title phase status evidence completedBy { name kind } completedAt dueAt actions }
  history(first: 500) { event { position type recordedAt actor { id name kind } data } statusAfter phaseAfter stepChanges { stepId from to } } } }`;

let rolloutMessages = { error: "", success: "" };

async function showRollout(id, opts) {
  if (!(opts && opts.keepMessages)) rolloutMessages = { error: "", success: "" };
  staleRollout = false;
  const seq = viewSeq;
  let r;
  try { r = (await gql(ROLLOUT_QUERY, { id })).rollout; } catch (e) { return seq === viewSeq && setMain("Fehler", el("p", { class: "alert", text: e.text })); }
  if (seq !== viewSeq) return;
  if (!r) return setMain("Anbindung nicht gefunden", el("p", { text: `Keine Anbindung ${id} für dieses Token.` }));
  data.rollouts.set(r.id, Object.fromEntries(ROLLOUT_FIELDS.split(" ").map((k) => [k, r[k]])));
  const def = data.definitions.find((d) => r.definition === d.id + "@" + d.version) || { phases: [] };
  const stepDef = new Map(def.phases.flatMap((p) => p.steps).map((s) => [s.id, s]));
  const late = data.overdue.has(r.id);
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Status" }), el("dd", {}, el("span", { class: "pill " + r.status, text: STATUS[r.status] }), late ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
    el("dt", { text: "Phase" }), el("dd", { text: phaseTitle(r.phase) }),
    el("dt", { text: "Fortschritt" }), el("dd", { text: `${r.stepsDone} von ${r.stepsApplicable} Schritten erledigt` }),
    r.blockedReason ? el("dt", { text: "Blockiert" }) : null, r.blockedReason ? el("dd", { text: r.blockedReason }) : null,
    el("dt", { text: "Verwaltung" }), el("dd", {}, el("a", { href: "#/verwaltung/" + r.ars, text: authorityName(r.ars) }), ` (ARS ${r.ars})`),
    el("dt", { text: "Ablauf" }), el("dd", { text: `${r.definition}, Version der Anbindung ${r.version}` }));
  const steps = el("table", { class: "data", id: "steps" },
    el("caption", { class: "status", text: "Schritte nach Phasen, mit Nachweisen und Fristen" }),
    el("thead", {}, el("tr", {}, ...["Schritt", "Status", "Nachweise", "Erledigt von", "Frist", "Aktionen"].map((t) => el("th", { scope: "col", text: t })))));
  const body = el("tbody");
  steps.append(body);
  let lastPhase = null;
  for (const s of r.steps) {
    if (s.phase !== lastPhase) {
      lastPhase = s.phase;
      body.append(el("tr", { class: "phase" }, el("th", { colspan: 6, scope: "rowgroup", text: phaseTitle(s.phase) })));
    }
    const overdue = s.dueAt && !["done", "not_required", "not_applicable", "waiting"].includes(s.status) && new Date(s.dueAt) < new Date();
    const evidence = Object.entries(s.evidence || {});
    const d = stepDef.get(s.id) || { evidence: [] };
    const labelOf = (k) => (d.evidence.find((f) => f.id === k) || { label: k }).label;
    const tr = el("tr", { dataset: { step: s.id, status: s.status } },
      el("th", { scope: "row" }, s.title),
      el("td", {}, el("span", { class: "pill " + s.status, text: STEP_STATUS[s.status] || s.status })),
      el("td", {}, evidence.length ? el("dl", { class: "evidence" }, evidence.flatMap(([k, v]) => [el("dt", { text: labelOf(k) + ":" }), el("dd", { text: String(v) })])) : ""),
      el("td", {}, s.completedBy ? `${s.completedBy.name}, ${fmtTime(s.completedAt)}` : ""),
      el("td", {}, s.dueAt ? fmtDate(s.dueAt) : "", overdue ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
      el("td", {}, el("div", { class: "actions" }, s.actions.map((a) => el("button", {
        type: "button", class: "secondary", dataset: { action: a }, "aria-label": `${ACTION[a].replace(" …", "")}: ${s.title}`,
        onclick: () => openAction(r, s, d, a, tr),
      }, ACTION[a] || a)))));
    body.append(tr);
  }
  const rolloutActions = el("div", { class: "actions", id: "rollout-actions" });
  if (writer() && data.me.role !== "automation") {
    const add = (mutation, label, needsReason) => rolloutActions.append(el("button", { type: "button", class: "secondary", dataset: { action: mutation },
      onclick: (ev) => openRolloutAction(r, mutation, label, needsReason, ev.currentTarget) }, label));
    if (r.status !== "cancelled") {
      if (r.blockedReason) add("unblockRollout", "Blockade aufheben …", true); else add("blockRollout", "Blockieren …", true);
    }
  }
  if (writer()) rolloutActions.append(el("button", { type: "button", class: "secondary", dataset: { action: "addComment" },
    onclick: (ev) => openRolloutAction(r, "addComment", "Kommentieren …", true, ev.currentTarget) }, "Kommentieren …"));
  setMain(`${serviceName(r.serviceKey)} · ${authorityName(r.ars)}`,
    el("p", { id: "rollout-error", class: "alert", role: "alert", text: rolloutMessages.error }),
    el("p", { id: "rollout-success", class: "success", role: "status", text: rolloutMessages.success }),
    el("div", { class: "columns" },
      el("section", { "aria-labelledby": "h-steps" }, facts, rolloutActions, el("h3", { id: "h-steps", text: "Schritte" }), el("div", { class: "scroll-x" }, steps)),
      el("section", { "aria-labelledby": "h-history" }, el("h3", { id: "h-history", text: "Verlauf" }), timeline(r.history, stepDef))));
  $("inhalt").dataset.rollout = r.id;
  $("inhalt").dataset.version = String(r.version);
}

function timeline(history, stepDef) {
  // Steps of this rollout's definition, else of any (the Land-level steps it waits for).
  const title = (id) => (stepDef.get(id) || data.definitions.flatMap((d) => d.phases.flatMap((p) => p.steps)).find((s) => s.id === id) || { title: id }).title;
  const list = el("ol", { class: "timeline", id: "history", "aria-label": "neueste zuerst" });
  for (const h of [...history].reverse()) {
    const e = h.event, d = e.data || {};
    const why = d.reason || d.comment || d.text || "";
    const what = EVENT[e.type] || e.type;
    const step = d.step ? ` – ${title(d.step)}` : "";
    list.append(el("li", { dataset: { position: String(e.position), type: e.type } },
      el("div", {}, el("strong", { text: what + step })),
      el("div", { class: "meta" }, `${fmtTime(e.recordedAt)} · ${e.actor.name} (${e.actor.kind === "person" ? "Person" : e.actor.kind === "automation" ? "Automatisierung" : "System"}) · Status danach: ${STATUS[h.statusAfter]}`),
      why ? el("div", {}, "Begründung: ", el("q", { text: why })) : null,
      stepChanges(h.stepChanges, title)));
  }
  return list;
}

function stepChanges(changes, title) {
  if (!changes.length) return null;
  const list = el("ul", { class: "changes" }, changes.map((c) =>
    el("li", { text: `${title(c.stepId)}: ${c.from ? (STEP_STATUS[c.from] || c.from) + " → " : ""}${STEP_STATUS[c.to] || c.to}` })));
  return changes.length > 4 ? el("details", {}, el("summary", { text: `${changes.length} Schritte geändert` }), list) : list;
}

function fieldInput(f) {
  const id = "ev-" + f.id;
  let input;
  if (f.type === "enum") {
    input = el("select", { id, name: f.id, required: f.required });
    if (!f.required) input.add(new Option("–", ""));
    for (const v of f.values) input.add(new Option(v, v));
  } else if (f.type === "boolean") {
    input = el("input", { id, name: f.id, type: "checkbox" });
  } else {
    const type = { date: "date", url: "url", number: "number" }[f.type] || "text";
    // The browser checks what it can before sending, in the user's language; the server checks
    // everything again.
    input = el("input", { id, name: f.id, type, required: f.required, pattern: f.pattern, maxlength: f.maxLength, dataset: { type: f.type } });
  }
  input.dataset.type = f.type;
  const hint = { leika: "14 Ziffern", ars: "12 Ziffern", uuid: "z. B. 4f6bd8b0-…", url: "https://…", document: "Aktenzeichen oder Dokument" }[f.type];
  return el("div", { class: "field" }, el("label", { for: id, text: f.label + (f.required ? " (Pflicht)" : "") + (hint ? ` – ${hint}` : "") }), input,
    el("span", { id: id + "-error", class: "field-error", role: "alert" }));
}

let staleRollout = false;

function closeForms() {
  for (const f of document.querySelectorAll("form.action")) f.closest("tr.form-row, div.form-box")?.remove();
  const view = currentView();
  if (staleRollout && view.name === "rollout") { staleRollout = false; showRollout(view.arg, { keepMessages: true }); }
}

function openAction(r, s, d, mutation, row) {
  closeForms();
  if (mutation === "startStep") return submit(r, mutation, { rolloutId: r.id, stepId: s.id, expectedVersion: r.version }, null);
  const form = el("form", { class: "action", id: "action-form", "aria-label": `${ACTION[mutation].replace(" …", "")}: ${s.title}` });
  const needsReason = mutation === "reopenStep" || mutation === "markStepNotRequired";
  if (mutation === "completeStep") for (const f of d.evidence) form.append(fieldInput(f));
  form.append(el("div", { class: "field" },
    el("label", { for: "reason", text: needsReason ? "Begründung (Pflicht)" : "Kommentar (freiwillig)" }),
    el("textarea", { id: "reason", name: "reason", rows: 2, required: needsReason })));
  form.append(el("div", { class: "buttons" }, el("button", { type: "submit", text: ACTION[mutation].replace(" …", "") }),
    el("button", { type: "button", class: "secondary", text: "Abbrechen", onclick: () => closeForms() })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = form.elements.reason.value.trim();
    const input = { rolloutId: r.id, stepId: s.id, expectedVersion: r.version };
    if (mutation === "completeStep") {
      const evidence = {};
      for (const f of d.evidence) {
        const e = form.elements[f.id];
        if (f.type === "boolean") evidence[f.id] = e.checked;
        else if (e.value.trim() !== "") evidence[f.id] = f.type === "number" ? Number(e.value) : e.value.trim();
      }
      input.evidence = evidence;
      if (reason) input.comment = reason;
    } else if (reason) input.reason = reason;
    submit(r, mutation, input, form);
  });
  const cell = el("td", { colspan: 6 }, form);
  const formRow = el("tr", { class: "form-row" }, cell);
  row.after(formRow);
  form.querySelector("input, select, textarea").focus();
}

function openRolloutAction(r, mutation, label, needsReason, button) {
  closeForms();
  const form = el("form", { class: "action", id: "action-form", "aria-label": label.replace(" …", "") },
    el("div", { class: "field" }, el("label", { for: "reason", text: mutation === "addComment" ? "Kommentar" : "Begründung (Pflicht)" }),
      el("textarea", { id: "reason", name: "reason", rows: 2, required: needsReason })),
    el("div", { class: "buttons" }, el("button", { type: "submit", text: label.replace(" …", "") }),
      el("button", { type: "button", class: "secondary", text: "Abbrechen", onclick: () => closeForms() })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit(r, mutation, { rolloutId: r.id, reason: form.elements.reason.value, expectedVersion: r.version }, form);
  });
  button.parentElement.after(el("div", { class: "form-box" }, form));
  form.elements.reason.focus();
}

const INPUT_TYPE = { completeStep: "CompleteStepInput", blockRollout: "RolloutCommandInput", unblockRollout: "RolloutCommandInput", addComment: "RolloutCommandInput" };

async function submit(r, mutation, input, form) {
  const type = INPUT_TYPE[mutation] || "StepCommandInput";
  for (const b of (form ? form.querySelectorAll("button") : [])) b.disabled = true;
  try {
    await gql(`mutation($i: ${type}!) { ${mutation}(input: $i) { rollout { id version } } }`, { i: input });
    rolloutMessages = { error: "", success: "Gespeichert." };
    await showRollout(r.id, { keepMessages: true });
  } catch (e) {
    for (const b of (form ? form.querySelectorAll("button") : [])) b.disabled = false;
    rolloutMessages = { error: e.text, success: "" };
    if (form) {
      for (const f of e.fields) {
        const input = form.elements[f.field];
        if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", "ev-" + f.field + "-error"); }
        const msg = document.getElementById("ev-" + f.field + "-error");
        if (msg) msg.textContent = f.problem;
      }
    }
    if (e.code === "CONFLICT" || !form) {
      rolloutMessages.error = e.code === "CONFLICT"
        ? "Inzwischen geändert: jemand anderes hat diese Anbindung geändert. Unten steht jetzt der aktuelle Stand; bitte prüfen und erneut versuchen."
        : e.text;
      await showRollout(r.id, { keepMessages: true });
    } else {
      $("rollout-error").textContent = e.text;
      $("rollout-success").textContent = "";
    }
  }
}

// ---- Map -------------------------------------------------------------------------------------

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

function shareFor(arsList, service) {
  let live = 0, all = 0;
  const set = new Set(arsList);
  for (const r of data.rollouts.values()) {
    if (!set.has(r.ars) || (service && r.serviceKey !== service) || r.status === "cancelled") continue;
    all++; if (r.status === "live") live++;
  }
  return { live, all, share: all ? live / all : null };
}

const shareColour = (s) => s === null ? "#e2e2e2" : `hsl(105 ${25 + 35 * s}% ${92 - 55 * s}%)`;

async function showMap(params) {
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const box = el("div", { class: "filters" },
    select("m-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    el("div", {}, el("label", { for: "m-layer", text: "Ebene" }),
      (() => { const s = el("select", { id: "m-layer" }); s.add(new Option("Verwaltungen", "verwaltungstraeger")); s.add(new Option("Landkreise und kreisfreie Städte", "kreise")); s.value = params.get("ebene") || "verwaltungstraeger"; return s; })()),
    el("div", { class: "zoom", role: "group", "aria-label": "Zoom" },
      el("button", { type: "button", class: "secondary", "aria-label": "Hineinzoomen", onclick: () => zoom(0.7) }, "+"),
      el("button", { type: "button", class: "secondary", "aria-label": "Herauszoomen", onclick: () => zoom(1 / 0.7) }, "−"),
      el("button", { type: "button", class: "secondary", onclick: () => zoom(0) }, "Ganzes Land")),
    el("div", { class: "scale", "aria-hidden": "true" }, "0 %", el("span", { class: "bar", id: "scale-bar" }), "100 % live"));
  const info = el("div", { class: "map-info", id: "map-info", "aria-live": "polite" }, el("p", { class: "hint", text: "Fläche mit der Maus oder der Tab-Taste wählen; Enter öffnet die Anbindungen." }));
  setMain("Karte: Anteil der Anbindungen, die live sind", box,
    el("div", { class: "map-layout" },
      el("figure", { style: null },
        svg("svg", { id: "map", class: "map", role: "group", "aria-label": "Karte von Brandenburg" }),
        el("figcaption", { class: "attribution", text: "Verwaltungsgrenzen: © GeoBasis-DE / BKG (2025, 2016), dl-de/by-2-0 (www.govdata.de/dl-de/by-2-0); Daten verändert (Ausschnitt Brandenburg, vereinfacht, Gemeindestand 2025 nachgeführt)" })),
      info));
  $("scale-bar").style.background = `linear-gradient(to right, ${shareColour(0)}, ${shareColour(0.5)}, ${shareColour(1)})`;
  $("m-service").addEventListener("change", updateMap);
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

function updateMap() {
  const m = $("map");
  if (!m) return;
  const service = $("m-service").value;
  let seen = 0;
  for (const p of m.querySelectorAll("path")) {
    const ars = p.dataset.ars;
    const visible = areaMembers(ars).some((a) => data.authorities.has(a));
    const s = visible ? shareFor(areaMembers(ars), service) : { live: 0, all: 0, share: null };
    p.setAttribute("fill", shareColour(s.share));
    p.dataset.live = String(s.live); p.dataset.all = String(s.all);
    p.dataset.share = s.share === null ? "" : String(s.share);
    const label = s.all ? `${p.dataset.name}: ${s.live} von ${s.all} Anbindungen live (${pct(100 * s.share)})` : `${p.dataset.name}: keine Anbindungen${visible ? "" : " sichtbar"}`;
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
    el("p", { text: p.dataset.all !== "0" ? `${p.dataset.live} von ${p.dataset.all} Anbindungen live (${pct(100 * Number(p.dataset.share))})` : "keine Anbindungen" }),
    p.dataset.all !== "0" ? el("p", { class: "hint", text: "Klick oder Enter öffnet die Anbindungen." }) : null);
}

function openArea(p) {
  if (p.dataset.all === "0") return;
  if ($("m-layer").value === "kreise") {
    const a = data.authorities.get(p.dataset.ars);
    location.hash = a && a.kind === "kreisfreie_stadt" ? "#/verwaltung/" + p.dataset.ars : "#/?kreis=" + p.dataset.ars;
  } else location.hash = "#/verwaltung/" + p.dataset.ars;
}

// ---- Progress over time (burn-up) ---------------------------------------------------------

async function showBurnup() {
  if (!manager()) {
    return setMain("Verlauf", el("p", { text: "Der Verlauf über alle Anbindungen steht der Projektleitung, der Administration und der Prüfung zur Verfügung." }));
  }
  const services = [...new Set([...data.rollouts.values()].map((r) => r.serviceKey))].sort();
  const choose = el("div", { class: "filters" },
    el("div", {}, el("label", { for: "b-service", text: "Dienst" }),
      (() => { const s = el("select", { id: "b-service" }); s.add(new Option("ganzes Programm", "")); for (const k of services) s.add(new Option(serviceName(k), k)); return s; })()));
  setMain("Verlauf: Verwaltungen je Phase und live, Woche für Woche", choose,
    el("figure", {}, el("div", { id: "burnup-box" }), el("figcaption", { class: "hint", text: "Aus dem Ereignisprotokoll berechnet: Stand am Ende jeder Woche." })));
  $("b-service").addEventListener("change", drawBurnup);
  $("state").textContent = "Verlauf wird aus dem Protokoll berechnet …";
  const seq = viewSeq;
  const first = await gql("{ events(first: 1, filter: { types: [\"RolloutStarted\"] }) { edges { node { recordedAt } } } }");
  const start = first.events.edges.length ? new Date(first.events.edges[0].node.recordedAt) : new Date();
  start.setUTCHours(0, 0, 0, 0);
  const d = await gql("query($f: String!) { progressOverTime(groupBy: SERVICE, from: $f, everyDays: 7) { at groups { key rollouts byPhaseStatus { phase status count } } } }", { f: start.toISOString() });
  // The last point is now, so the chart ends with the current state.
  const now = await gql("{ progress(groupBy: SERVICE) { key rollouts byPhaseStatus { phase status count } } }");
  if (seq !== viewSeq) return;
  burnupData = d.progressOverTime.concat([{ at: new Date().toISOString(), groups: now.progress }]);
  drawBurnup();
}

let burnupData = [];

function drawBurnup() {
  const box = $("burnup-box");
  if (!box) return;
  const service = $("b-service").value;
  // Series: phases in order (not live, not cancelled), then live.
  const phaseIds = [...data.phases.entries()].sort((x, y) => x[1].index - y[1].index).map(([id]) => id);
  const rows = burnupData.map((p) => {
    const counts = { live: 0 };
    for (const id of phaseIds) counts[id] = 0;
    for (const g of p.groups) {
      if (service && g.key !== service) continue;
      for (const c of g.byPhaseStatus) {
        if (c.status === "live") counts.live += c.count;
        else if (c.status !== "cancelled" && c.status !== "not_started") counts[c.phase] = (counts[c.phase] || 0) + c.count;
      }
    }
    return { at: p.at, counts };
  });
  const series = phaseIds.filter((id) => rows.some((r) => r.counts[id] > 0)).concat(["live"]);
  const W = 960, H = 380, L = 48, R = 250, T = 12, B = 36;
  const max = Math.max(1, ...rows.map((r) => series.reduce((s, k) => s + r.counts[k], 0)));
  const x = (i) => L + (rows.length > 1 ? i / (rows.length - 1) : 0) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const chart = svg("svg", { id: "burnup", class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "burnup-title burnup-desc" });
  const last = rows[rows.length - 1] || { counts: { live: 0 } };
  chart.append(svg("title", { id: "burnup-title" }), svg("desc", { id: "burnup-desc" }));
  chart.querySelector("title").textContent = `Burn-up ${service ? serviceName(service) : "ganzes Programm"}`;
  chart.querySelector("desc").textContent = `Heute ${last.counts.live} Verwaltungen live von ${series.reduce((s, k) => s + last.counts[k], 0)} in Arbeit oder live. Die Tabelle unter der Grafik enthält alle Werte.`;
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
    const t = svg("text", { x: W - R + 30, y: ly }); t.textContent = k === "live" ? "live" : phaseTitle(k); chart.append(t);
  });
  const step = Math.max(1, Math.ceil(rows.length / 8));
  rows.forEach((r, i) => {
    const lastX = x(rows.length - 1);
    if (i !== rows.length - 1 && (i % step || lastX - x(i) < 70)) return;
    const t = svg("text", { x: x(i), y: H - B + 16, "text-anchor": "middle" }); t.textContent = fmtDate(r.at); chart.append(t);
  });
  const table = el("table", { class: "data", id: "burnup-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Stand" }), series.map((k) => el("th", { scope: "col", text: k === "live" ? "live" : phaseTitle(k) })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, el("th", { scope: "row", text: fmtDate(r.at) }), series.map((k) => el("td", { class: "num", text: String(r.counts[k]) }))))));
  box.textContent = "";
  box.append(chart, el("details", { class: "table" }, el("summary", { text: "Werte als Tabelle" }), table));
  $("state").textContent = `${rows.length} Wochen, heute ${last.counts.live} live.`;
}

// ---- Audit log ------------------------------------------------------------------------------

const audit = { filter: {}, after: null, rows: [] };
const AUDIT_FIELDS = "position streamId version type recordedAt actor { id name kind } data correlationId hash";

function showAudit(params) {
  const staff = data.me.role === "authority-staff";
  const ownArs = staff ? data.me.authorities : null;
  const services = [...data.services.keys()].sort();
  const authorities = [...data.authorities.values()].filter((a) => !ownArs || ownArs.includes(a.ars)).sort((x, y) => x.name.localeCompare(y.name, "de"));
  const form = el("form", { class: "filters", id: "audit-filter", role: "search", "aria-label": "Ereignisse filtern" },
    el("div", {}, el("label", { for: "a-actor", text: "Akteur (z. B. token:…, system)" }), el("input", { id: "a-actor", name: "actor", value: params.get("actor") || "" })),
    el("div", {}, el("label", { for: "a-from", text: "von" }), el("input", { id: "a-from", name: "from", type: "datetime-local" })),
    el("div", {}, el("label", { for: "a-until", text: "bis" }), el("input", { id: "a-until", name: "until", type: "datetime-local" })),
    select("a-service", "Dienst", services.map((s) => [s, serviceName(s)]), params.get("service")),
    select("a-ars", "Verwaltung", authorities.map((a) => [a.ars, a.name]), params.get("ars") || (ownArs ? ownArs[0] : "")),
    select("a-type", "Ereignis", Object.entries(EVENT).sort((x, y) => x[1].localeCompare(y[1], "de")), params.get("type")),
    el("div", {}, el("button", { type: "submit", text: "Anzeigen" })),
    el("div", {}, el("button", { type: "button", id: "audit-export", class: "secondary", text: "Als CSV exportieren", onclick: exportCsv })));
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
        el("td", {}, subject), el("td", { class: "data", text: JSON.stringify(e.data) })));
    }
    $("audit-more").hidden = !audit.after;
    $("audit-count").textContent = `${audit.rows.length} Ereignisse${audit.after ? " (weitere vorhanden)" : ""}`;
  } catch (e) {
    $("audit-error").textContent = e.text;
  }
}

const csvCell = (v) => { const s = String(v === null || v === undefined ? "" : v); return /[",\n\r;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };

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

// ---- Sign-in and start -----------------------------------------------------------------------

async function start() {
  $("state").textContent = "lädt …";
  try {
    await loadAll();
  } catch (e) {
    $("state").textContent = "Anmeldung fehlgeschlagen: " + (e.text || e.message);
    data.me = null;
    return;
  }
  $("signin").hidden = true;
  $("whoami").hidden = false;
  $("me").textContent = `Angemeldet: ${data.me.name} (${ROLE[data.me.role] || data.me.role})`;
  const audit = document.querySelector("nav a[data-view='audit']");
  if (audit) audit.parentElement.hidden = data.me.role === "automation";
  route();
  followLive();
}

function signOut() {
  sessionStorage.removeItem("efa-token");
  token = "";
  if (socket) { const s = socket; socket = null; s.close(); }
  location.hash = "#/";
  location.reload();
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("efa-token", token);
    start();
  });
  $("signout").addEventListener("click", signOut);
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    token = fragment.get("token");
    sessionStorage.setItem("efa-token", token);
    history.replaceState(null, "", location.pathname + "#/");
  }
  if (token) start();
});
