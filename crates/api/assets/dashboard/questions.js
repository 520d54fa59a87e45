// Questions on a rollout's steps (Rückfragen): threads with answers, resolved or open, read by
// whom; asking, answering, resolving; a thread opened is marked read. Every message is an event.

import { $, el } from "./dom.js";
import { fmtTime, PARTY } from "./words.js";
import { gql } from "./api.js";
import { data, writer } from "./data.js";
import { onLive } from "./live.js";

const QUESTIONS = `query($id: ID!) { rollout(id: $id) { questions { id stepId to open resolvedAt resolvedBy { name }
  messages { position at actor { id name } text } readBy { actor { id name } messages at } unread } } }`;
const FIELDS = "id open unread";

// The rollout whose questions are shown (the live feed reloads them).
let current = null;

// A question of rollout `id` changed (the live feed): its threads are read again.
export function questionsChanged(id) {
  if (current && current.id === id && $("question-list")) loadQuestions(current);
}

// The section of the rollout page: its threads and the form to ask one.
export function questionsSection(r, focusStep) {
  current = r;
  const section = el("section", { "aria-labelledby": "h-questions", id: "questions" },
    el("h3", { id: "h-questions", text: "Rückfragen" }),
    el("p", { id: "questions-error", class: "alert", role: "alert" }),
    el("div", { id: "question-list" }, el("p", { text: "Wird geladen …" })));
  if (writer() && data.me.role !== "automation") section.append(askForm(r, focusStep));
  loadQuestions(r, focusStep);
  return section;
}

export async function loadQuestions(r, focusStep) {
  let list;
  try { list = (await gql(QUESTIONS, { id: r.id })).rollout.questions; } catch (e) { if ($("questions-error")) $("questions-error").textContent = e.text; return; }
  const box = $("question-list");
  if (!box) return;
  // What is open and typed stays so when the threads are drawn again.
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.question));
  const typed = new Map([...box.querySelectorAll("textarea")].filter((t) => t.value).map((t) => [t.id, t.value]));
  const title = (id) => (r.steps.find((s) => s.id === id) || { title: id }).title;
  if (!list.length) return box.replaceChildren(el("p", { text: "Keine Rückfragen zu dieser Anbindung." }));
  box.replaceChildren(...list.map((q) => thread(r, q, title(q.stepId), open.has(q.id) || (focusStep && q.stepId === focusStep && q.open))));
  for (const [id, value] of typed) if ($(id)) $(id).value = value;
}

function thread(r, q, stepTitle, expanded) {
  const summary = el("summary", {},
    el("strong", { text: stepTitle }), ` · an ${PARTY[q.to] || q.to} · `,
    el("span", { class: "pill " + (q.open ? "in_progress" : "done"), text: q.open ? "offen" : "erledigt" }),
    ` · ${q.messages.length} ${q.messages.length === 1 ? "Nachricht" : "Nachrichten"}`,
    q.unread ? el("span", { class: "pill unread", text: `${q.unread} ungelesen` }) : "");
  const messages = el("ol", { class: "thread" }, q.messages.map((m, i) => el("li", {},
    el("div", { class: "meta", text: `${i === 0 ? "Frage" : "Antwort"} von ${m.actor.name}, ${fmtTime(m.at)}` }),
    el("p", { text: m.text }))));
  const reads = q.readBy.length
    ? el("p", { class: "meta", text: "Gelesen: " + q.readBy.map((x) => `${x.actor.name} (${fmtTime(x.at)})`).join("; ") }) : null;
  const resolved = q.resolvedAt ? el("p", { class: "meta", text: `Erledigt von ${q.resolvedBy.name}, ${fmtTime(q.resolvedAt)}` }) : null;
  const d = el("details", { dataset: { question: q.id, open: String(q.open) } }, summary, messages, reads, resolved);
  if (expanded) d.open = true;
  if (writer() && data.me.role !== "automation") {
    const id = "answer-" + q.id;
    const form = el("form", { class: "action", "aria-label": `Antwort: ${stepTitle}` },
      el("div", { class: "field" }, el("label", { for: id, text: "Antwort" }),
        el("textarea", { id, rows: 2, required: true, "aria-describedby": id + "-note" }),
        el("span", { id: id + "-note", class: "hint", text: "Arbeitsnotiz im Protokoll: keine personenbezogenen Daten eintragen." })),
      el("div", { class: "actions" },
        el("button", { type: "submit", text: "Antworten" }),
        el("button", { type: "button", class: "secondary", text: q.open ? "Als erledigt markieren" : "Wieder öffnen",
          onclick: () => act(r, q.open ? "resolveQuestion" : "reopenQuestion", { questionId: q.id }) })));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); act(r, "answerQuestion", { questionId: q.id, text: $(id).value }); });
    d.append(form);
  }
  // Opened: read (once per new message; auditors read without a mark).
  d.addEventListener("toggle", () => { if (d.open && q.unread && writer()) act(r, "markQuestionRead", { questionId: q.id }); });
  return d;
}

async function act(r, mutation, input) {
  try {
    await gql(`mutation($i: ${mutation[0].toUpperCase() + mutation.slice(1)}Input!) { ${mutation}(input: $i) { ${FIELDS} } }`, { i: input });
    if ($("questions-error")) $("questions-error").textContent = "";
    loadQuestions(r);
  } catch (e) { if ($("questions-error")) $("questions-error").textContent = e.text; }
}

function askForm(r, focusStep) {
  const form = el("form", { class: "action", id: "ask-question", "aria-label": "Rückfrage stellen" },
    el("h4", { text: "Rückfrage stellen" }),
    el("div", { class: "field" }, el("label", { for: "q-step", text: "Schritt" }),
      el("select", { id: "q-step" }, r.steps.map((s) => new Option(s.title, s.id, false, s.id === focusStep)))),
    el("div", { class: "field" }, el("label", { for: "q-to", text: "An" }),
      el("select", { id: "q-to" }, Object.entries(PARTY).map(([v, t]) => new Option(t, v, false, v === (data.me.role === "authority-staff" ? "LAND" : "ADMINISTRATION"))))),
    el("div", { class: "field" }, el("label", { for: "q-text", text: "Frage" }),
      el("textarea", { id: "q-text", rows: 3, required: true, "aria-describedby": "q-text-note" }),
      el("span", { id: "q-text-note", class: "hint", text: "Arbeitsnotiz im Protokoll: keine personenbezogenen Daten eintragen." })),
    el("div", { class: "actions" }, el("button", { type: "submit", text: "Rückfrage senden" })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await gql("mutation($i: AskQuestionInput!) { askQuestion(input: $i) { id } }", { i: { rolloutId: r.id, stepId: $("q-step").value, to: $("q-to").value, text: $("q-text").value } });
      $("q-text").value = "";
      $("questions-error").textContent = "";
      loadQuestions(r);
    } catch (e) { $("questions-error").textContent = e.text; }
  });
  return form;
}

onLive("questions", questionsChanged);
