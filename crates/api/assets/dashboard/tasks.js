// My tasks: the steps the token may start, complete or confirm now, and the open questions
// addressed to it, ordered by due date (overdue first); counts for the start page. A project
// manager picks an administration or a Landkreis. Downloads as XLSX with the filter applied.

import { $, el, select } from "./dom.js";
import { ACTION, fmtDate, PARTY } from "./words.js";
import { gql } from "./api.js";
import { data, manager, authorityName, serviceName, byPlace, kreisOf } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";
import { download, queryOf } from "./download.js";

const TASKS = `query($f: TaskFilter, $a: String) { tasks(filter: $f, first: 200, after: $a) {
  totalCount overdueCount dueSoonCount waitingForCentralCount unreadQuestionCount
  pageInfo { hasNextPage endCursor }
  edges { node { id kind rollout { id serviceKey ars } step { id title } dueAt overdue readyBecause actions unreadQuestions
    question { id to messages { text } } } } } }`;

let filter = {};

export function showTasks(params) {
  filter = {};
  if (params.get("ars")) filter.ars = params.get("ars");
  if (params.get("landkreis")) filter.landkreisArs = params.get("landkreis");
  const controls = [];
  if (manager()) {
    const authorities = [...data.authorities.values()].sort((x, y) => byPlace(x.name, y.name));
    const kreise = new Map(authorities.map((a) => { const k = kreisOf(a); return [k.ars, k.name]; }));
    controls.push(el("form", { class: "filters", id: "task-filter", role: "search", "aria-label": "Aufgaben filtern",
      onsubmit: (ev) => { ev.preventDefault(); const q = new URLSearchParams(); if ($("t-ars").value) q.set("ars", $("t-ars").value); if ($("t-kreis").value) q.set("landkreis", $("t-kreis").value); location.hash = "#/aufgaben" + (q.toString() ? "?" + q : ""); } },
      select("t-ars", "Verwaltung", authorities.map((a) => [a.ars, a.name]), filter.ars),
      select("t-kreis", "Landkreis / kreisfreie Stadt", [...kreise].sort((x, y) => byPlace(x[1], y[1])), filter.landkreisArs),
      el("div", {}, el("button", { type: "submit", text: "Anzeigen" }))));
  }
  controls.push(el("div", { class: "actions" },
    el("button", { type: "button", class: "secondary", id: "tasks-xlsx", text: "Als Excel-Datei (XLSX) herunterladen",
      onclick: () => download("/exports/tasks.xlsx" + queryOf(filter), "aufgaben.xlsx", $("tasks-download"), "aufgaben.xlsx") }),
    el("span", { id: "tasks-download", role: "status" })));
  setMain("Meine Aufgaben", ...controls,
    el("ul", { class: "counts", id: "task-counts", "aria-label": "Aufgaben in Zahlen" }),
    el("p", { id: "tasks-error", class: "alert", role: "alert" }),
    el("div", { class: "scroll-x" }, el("table", { class: "data", id: "tasks" },
      el("caption", { class: "status", id: "tasks-caption", text: "Wird geladen …" }),
      el("thead", {}, el("tr", {}, ...["Fällig", "Anbindung", "Schritt", "Bereit, weil erledigt", "Möglich", "Rückfragen"].map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", { id: "task-rows" }))));
  loadTasks();
}

export async function loadTasks() {
  const seq = viewSeq;
  let nodes = [], t;
  try {
    let after = null;
    do {
      t = (await gql(TASKS, { f: filter, a: after })).tasks;
      nodes.push(...t.edges.map((e) => e.node));
      after = t.pageInfo.hasNextPage && nodes.length < 1000 ? t.pageInfo.endCursor : null;
    } while (after);
  } catch (e) {
    if (seq === viewSeq && $("tasks-error")) $("tasks-error").textContent = e.text;
    return;
  }
  if (seq !== viewSeq || !$("task-rows")) return;
  const count = (id, n, label, cls) => el("li", { id, class: cls || "" }, el("strong", { text: String(n) }), " ", label);
  $("task-counts").replaceChildren(
    count("count-overdue", t.overdueCount, "überfällig", t.overdueCount ? "alert-count" : ""),
    count("count-soon", t.dueSoonCount, "in den nächsten 14 Tagen fällig"),
    count("count-central", t.waitingForCentralCount, "warten auf das Land oder " + PARTY.ASSOCIATION),
    count("count-unread", t.unreadQuestionCount, "ungelesene Antworten und Rückfragen"));
  $("tasks-caption").textContent = `${t.totalCount} Aufgaben${nodes.length < t.totalCount ? `, die ersten ${nodes.length} angezeigt` : ""}, nach Fälligkeit (überfällige zuerst)`;
  const body = $("task-rows");
  body.textContent = "";
  for (const n of nodes) {
    const rollout = el("a", { href: "#/rollout/" + encodeURIComponent(n.rollout.id) + "?schritt=" + encodeURIComponent(n.step.id),
      text: `${serviceName(n.rollout.serviceKey)} · ${authorityName(n.rollout.ars)}` });
    const what = n.kind === "QUESTION"
      ? el("span", {}, el("span", { class: "pill question", text: `Rückfrage an ${PARTY[n.question.to] || n.question.to}` }), " ", el("q", { text: n.question.messages[0].text }))
      : (n.actions.map((a) => (ACTION[a] || a).replace(" …", "")).join(", "));
    body.append(el("tr", { dataset: { task: n.id, kind: n.kind, overdue: String(n.overdue) } },
      el("td", {}, n.dueAt ? fmtDate(n.dueAt) : "–", n.overdue ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
      el("td", {}, rollout),
      el("th", { scope: "row", text: n.step.title }),
      el("td", { text: n.readyBecause.map(readyWord).join(", ") }),
      el("td", {}, what),
      el("td", { class: "num" }, n.unreadQuestions ? el("span", { class: "pill unread", text: `${n.unreadQuestions} ungelesen` }) : "")));
  }
}

// A dependency in words: a step's title, or the Land's / the association's step (`land:<id>`).
function readyWord(id) {
  const steps = data.definitions.flatMap((d) => d.phases.flatMap((p) => p.steps));
  const central = id.startsWith("land:");
  const s = steps.find((x) => x.id === (central ? id.slice(5) : id));
  const title = s ? s.title : id;
  return central ? `${title} (zentral)` : title;
}

registerView("tasks", (v, fresh) => fresh ? showTasks(v.params) : loadTasks());
