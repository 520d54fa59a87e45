// One rollout: steps, evidence, the actions the token may take, the history.

import { $, el, svg } from "./dom.js";
import { STATUS, STEP_STATUS, EVENT, ACTION, BLOCK_CATEGORY, fmtTime, fmtDate } from "./words.js";
import { peersRow } from "./network.js";
import { gql } from "./api.js";
import { data, ROLLOUT_FIELDS, writer, authorityName, serviceName, phaseTitle } from "./data.js";
import { currentView, viewSeq, setMain, registerView } from "./routing.js";
import { questionsSection } from "./questions.js";
import { onLive } from "./live.js";

const ROLLOUT_QUERY = `query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} version definition
  responsible populationServed actsFor endToEnd usage { month count source }
  steps { id title phase status evidence completedBy { name kind } completedAt dueAt overdue actions }
  history(first: 500) { event { position type recordedAt actor { id name kind } data } statusAfter phaseAfter stepChanges { stepId from to } } } }`;

let rolloutMessages = { error: "", success: "" };

export async function showRollout(id, opts) {
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
  const names = await personNames(r, stepDef);
  if (seq !== viewSeq) return;
  const late = r.overdue;
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Status" }), el("dd", {}, el("span", { class: "pill " + r.status, text: STATUS[r.status] }), late ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
    el("dt", { text: "Phase" }), el("dd", { text: phaseTitle(r.phase) }),
    el("dt", { text: "Fortschritt" }), el("dd", { text: `${r.stepsDone} von ${r.stepsApplicable} Schritten erledigt` }),
    r.blockedReason ? el("dt", { text: "Blockiert" }) : null, r.blockedReason ? el("dd", { text: r.blockedReason }) : null,
    el("dt", { text: "Verwaltung" }), el("dd", {}, el("a", { href: "#/verwaltung/" + r.ars, text: authorityName(r.ars) }), ` (ARS ${r.ars})`),
    el("dt", { text: "Ablauf" }), el("dd", {}, el("a", { href: "#/ablauf/" + encodeURIComponent(r.definition), text: r.definition }), `, Version der Anbindung ${r.version}`),
    el("dt", { text: "Zuständig" }), el("dd", { text: r.responsible
      ? `ja, für ${r.populationServed.toLocaleString("de-DE")} Einwohner` + (r.actsFor.length ? ` (auch für ${r.actsFor.map(authorityName).join(", ")})` : "")
      : "nein (zentraler Rollout oder Zuständigkeit gewechselt)" }),
    el("dt", { text: "Ende-zu-Ende" }), el("dd", { id: "end-to-end", text: r.endToEnd === null ? "noch nicht angegeben" : r.endToEnd ? "ja: Anträge erreichen das Fachverfahren digital" : "nein: Anträge werden ausgedruckt oder abgetippt" }),
    el("dt", { text: "Anträge online" }), el("dd", { id: "usage" }, usageLine(r.usage)));
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
    const evidence = Object.entries(s.evidence || {});
    const d = stepDef.get(s.id) || { evidence: [] };
    const labelOf = (k) => (d.evidence.find((f) => f.id === k) || { label: k }).label;
    // An enum's value in words, as the definition names it; a person by name.
    const shown = (k, v) => {
      const f = d.evidence.find((f) => f.id === k);
      if (f && f.type === "person") return names.get(v) || NOT_SHARED;
      const i = f && f.values ? f.values.indexOf(v) : -1;
      return i >= 0 && f.labels && f.labels[i] ? f.labels[i] : String(v);
    };
    const tr = el("tr", { dataset: { step: s.id, status: s.status } },
      el("th", { scope: "row" }, s.title),
      el("td", {}, el("span", { class: "pill " + s.status, text: STEP_STATUS[s.status] || s.status })),
      el("td", {}, evidence.length ? el("dl", { class: "evidence" }, evidence.flatMap(([k, v]) => [el("dt", { text: labelOf(k) + ":" }), el("dd", { text: shown(k, v) })])) : ""),
      el("td", {}, s.completedBy ? `${s.completedBy.name}, ${fmtTime(s.completedAt)}` : ""),
      el("td", {}, s.dueAt ? fmtDate(s.dueAt) : "", s.overdue ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
      el("td", {}, el("div", { class: "actions" }, s.actions.map((a) => el("button", {
        type: "button", class: "secondary", dataset: { action: a }, "aria-label": `${ACTION[a].replace(" …", "")}: ${s.title}`,
        onclick: () => openAction(r, s, d, a, tr),
      }, ACTION[a] || a)),
      el("button", { type: "button", class: "secondary", dataset: { peers: s.id }, "aria-label": `Wer hat das schon geschafft? ${s.title}`,
        onclick: () => peersRow(r, s, tr) }, "Wer hat das schon geschafft?"))));
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
      el("section", { "aria-labelledby": "h-steps" }, facts, rolloutActions, el("h3", { id: "h-steps", text: "Schritte" }), el("div", { class: "scroll-x" }, steps),
        questionsSection(r, currentView().params.get("schritt"))),
      el("section", { "aria-labelledby": "h-history" }, el("h3", { id: "h-history", text: "Verlauf" }), timeline(r.history, stepDef))));
  $("inhalt").dataset.rollout = r.id;
  $("inhalt").dataset.version = String(r.version);
}

// What a token that may not read a person sees in its place.
const NOT_SHARED = "[nicht freigegeben]";

// The names of the persons the rollout's `person` evidence names, by id (erased: "[gelöscht]";
// one the token may not read is missing).
async function personNames(r, stepDef) {
  const ids = new Set();
  for (const s of r.steps) {
    const d = stepDef.get(s.id);
    if (!d) continue;
    for (const f of d.evidence) if (f.type === "person" && s.evidence && s.evidence[f.id]) ids.add(s.evidence[f.id]);
  }
  const names = new Map();
  if (!ids.size) return names;
  const list = [...ids];
  const query = "query(" + list.map((_, i) => `$p${i}: ID!`).join(", ") + ") { " + list.map((_, i) => `p${i}: person(id: $p${i}) { id name }`).join(" ") + " }";
  try {
    const found = await gql(query, Object.fromEntries(list.map((id, i) => ["p" + i, id])));
    for (const p of Object.values(found)) if (p) names.set(p.id, p.name);
  } catch { /* shown as not shared */ }
  return names;
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

// A `person` field: one of the administration's registered persons, or a new one (name and
// contact details, registered when the form is sent; kept encrypted and erasable).
function personInput(f, persons) {
  const id = "ev-" + f.id;
  const input = el("select", { id, name: f.id, required: f.required, dataset: { person: "1" } });
  if (!f.required) input.add(new Option("–", ""));
  for (const p of persons) if (!p.erased) input.add(new Option(p.function ? `${p.name} (${p.function})` : p.name, p.id));
  input.add(new Option("Neue Person erfassen …", NEW_PERSON));
  const fresh = el("fieldset", { class: "new-person", id: id + "-new" },
    el("legend", { text: "Neue Person" }),
    ...[["name", "Name (Pflicht)", "text"], ["function", "Funktion", null], ["email", "E-Mail", null], ["phone", "Telefon", null]].map(([k, label, type]) =>
      el("div", { class: "field" }, el("label", { for: `${id}-${k}`, text: label }),
        el("input", { id: `${id}-${k}`, name: `${f.id}-${k}`, type: k === "email" ? "email" : k === "phone" ? "tel" : "text", dataset: type ? { type } : {} }))));
  const sync = () => { fresh.hidden = input.value !== NEW_PERSON; fresh.disabled = fresh.hidden; };
  input.addEventListener("change", sync);
  sync();
  return el("div", { class: "field" }, el("label", { for: id, text: f.label + (f.required ? " (Pflicht)" : "") }), input,
    el("span", { id: id + "-error", class: "field-error", role: "alert" }), fresh);
}

const NEW_PERSON = "__neu__";

// The note beside every free-text field that the log keeps in plain text for good.
const WORK_NOTE = "Arbeitsnotiz: keine personenbezogenen Daten eintragen (Namen, E-Mail, Telefon gehören in eine Person).";

function fieldInput(f) {
  const id = "ev-" + f.id;
  let input;
  if (f.type === "enum") {
    input = el("select", { id, name: f.id, required: f.required });
    if (!f.required) input.add(new Option("–", ""));
    f.values.forEach((v, i) => input.add(new Option((f.labels && f.labels[i]) || v, v)));
  } else if (f.type === "boolean") {
    input = el("input", { id, name: f.id, type: "checkbox" });
  } else {
    const type = { date: "date", url: "url", email: "email", number: "number" }[f.type] || "text";
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

// The persons of an administration the token may read (for a `person` field's choice).
async function personsOf(ars) {
  try {
    return (await gql("query($a: String!) { persons(ars: $a) { id name function erased } }", { a: ars })).persons;
  } catch { return []; }
}

async function openAction(r, s, d, mutation, row) {
  closeForms();
  if (mutation === "startStep") return submit(r, mutation, { rolloutId: r.id, stepId: s.id, expectedVersion: r.version }, null);
  const form = el("form", { class: "action", id: "action-form", "aria-label": `${ACTION[mutation].replace(" …", "")}: ${s.title}` });
  const needsReason = mutation === "reopenStep" || mutation === "markStepNotRequired";
  const persons = mutation === "completeStep" && d.evidence.some((f) => f.type === "person") ? await personsOf(r.ars) : [];
  if (mutation === "completeStep") for (const f of d.evidence) form.append(f.type === "person" ? personInput(f, persons) : fieldInput(f));
  form.append(el("div", { class: "field" },
    el("label", { for: "reason", text: needsReason ? "Begründung (Pflicht)" : "Kommentar (freiwillig)" }),
    el("textarea", { id: "reason", name: "reason", rows: 2, required: needsReason, "aria-describedby": "reason-note" }),
    el("span", { id: "reason-note", class: "hint", text: WORK_NOTE })));
  form.append(el("div", { class: "buttons" }, el("button", { type: "submit", text: ACTION[mutation].replace(" …", "") }),
    el("button", { type: "button", class: "secondary", text: "Abbrechen", onclick: () => closeForms() })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = form.elements.reason.value.trim();
    const input = { rolloutId: r.id, stepId: s.id, expectedVersion: r.version };
    if (mutation === "completeStep") {
      const evidence = {};
      for (const f of d.evidence) {
        const e = form.elements[f.id];
        if (f.type === "person" && e.value === NEW_PERSON) {
          const value = (k) => form.elements[`${f.id}-${k}`].value.trim() || null;
          try {
            const p = (await gql("mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
              { i: { ars: r.ars, name: value("name") || "", function: value("function"), email: value("email"), phone: value("phone") } })).registerPerson;
            evidence[f.id] = p.id;
          } catch (err) {
            rolloutMessages = { error: `${f.label}: ${err.text}`, success: "" };
            $("rollout-error").textContent = rolloutMessages.error;
            return;
          }
        } else if (f.type === "boolean") evidence[f.id] = e.checked;
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
      el("textarea", { id: "reason", name: "reason", rows: 2, required: needsReason, "aria-describedby": "reason-note" }),
      el("span", { id: "reason-note", class: "hint", text: WORK_NOTE })),
    mutation === "blockRollout" ? el("div", { class: "field" }, el("label", { for: "block-category", text: "Art der Blockade" }),
      el("select", { id: "block-category", name: "category" }, new Option("– bitte wählen –", ""), ...Object.entries(BLOCK_CATEGORY).map(([v, t]) => new Option(t, v)))) : null,
    mutation === "blockRollout" ? el("div", { class: "field" }, el("label", { for: "block-vendor", text: "Hersteller oder Produkt (optional)" }),
      el("input", { id: "block-vendor", name: "vendor" })) : null,
    mutation === "blockRollout" ? el("div", { class: "field" }, el("label", { for: "block-step", text: "Aufgehaltener Schritt (optional)" }),
      el("select", { id: "block-step", name: "step" }, new Option("–", ""), ...r.steps.filter((s) => !["done", "not_required", "not_applicable"].includes(s.status)).map((s) => new Option(s.title, s.id)))) : null,
    mutation === "unblockRollout" ? el("div", { class: "field" }, el("label", { for: "unblock-solution", text: "Wie wurde es gelöst? (für das OZG-Netzwerk, optional)" }),
      el("textarea", { id: "unblock-solution", name: "solution", rows: 2, "aria-describedby": "reason-note" })) : null,
    mutation === "unblockRollout" ? el("div", { class: "field checkbox" }, el("input", { id: "unblock-share", name: "share", type: "checkbox" }),
      el("label", { for: "unblock-share", text: "Unsere Verwaltung darf beim Lösungsweg genannt werden" })) : null,
    el("div", { class: "buttons" }, el("button", { type: "submit", text: label.replace(" …", "") }),
      el("button", { type: "button", class: "secondary", text: "Abbrechen", onclick: () => closeForms() })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = { rolloutId: r.id, reason: form.elements.reason.value, expectedVersion: r.version };
    if (mutation === "blockRollout") {
      if (form.elements.category.value) input.category = form.elements.category.value;
      if (form.elements.vendor.value.trim()) input.vendor = form.elements.vendor.value.trim();
      if (form.elements.step.value) input.stepId = form.elements.step.value;
    }
    if (mutation === "unblockRollout" && form.elements.solution.value.trim()) {
      input.solution = form.elements.solution.value.trim();
      input.shareName = form.elements.share.checked;
    }
    submit(r, mutation, input, form);
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

// The open rollout changed (the live feed): redraw it — unless a form is being filled in, which
// is not thrown away: the page says so and is redrawn when the form closes (a submission
// against the old version is a conflict).
export function rolloutChanged(id) {
  if (document.getElementById("action-form")) {
    staleRollout = true;
    $("rollout-success").textContent = "Diese Anbindung wurde soeben geändert. Die Ansicht wird aktualisiert, sobald das Formular geschlossen ist.";
  } else showRollout(id, { keepMessages: true });
}

registerView("rollout", (v) => showRollout(v.arg));

onLive("rollout", rolloutChanged);

// Applications received online per month: a sparkline and the sum (the figures in its label).
function usageLine(usage) {
  if (!usage.length) return "noch keine Zahlen";
  const W = 120, H = 24, max = Math.max(1, ...usage.map((u) => u.count));
  const x = (i) => usage.length > 1 ? 2 + i * (W - 4) / (usage.length - 1) : W / 2;
  const y = (n) => H - 2 - (n / max) * (H - 4);
  const label = usage.map((u) => `${u.month}: ${u.count}`).join(", ");
  const line = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Anträge je Monat: ${label}`, class: "sparkline" },
    svg("polyline", { points: usage.map((u, i) => `${x(i)},${y(u.count)}`).join(" "), fill: "none", stroke: "currentColor", "stroke-width": 1.5 }));
  const sum = usage.reduce((s, u) => s + u.count, 0);
  return el("span", {}, line, ` ${sum.toLocaleString("de-DE")} in ${usage.length} Monaten (Quelle: ${usage[usage.length - 1].source})`);
}
