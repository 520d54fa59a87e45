// One administration: its rollouts, and its persons (contact people) with leaving and erasure.

import { $, el } from "./dom.js";
import { STATUS, KIND, fmtDate, fmtTime } from "./words.js";
import { gql } from "./api.js";
import { data, serviceName, phaseTitle } from "./data.js";
import { setMain, viewSeq, registerView } from "./routing.js";
import { download } from "./download.js";

const TOWN_STATUS = { grosse_kreisangehoerige_stadt: "Große kreisangehörige Stadt", mittlere_kreisangehoerige_stadt: "Mittlere kreisangehörige Stadt" };

export function showAuthority(ars) {
  const a = data.authorities.get(ars);
  if (!a) return setMain("Verwaltung nicht gefunden", el("p", { text: `Keine Verwaltung ${ars} für dieses Token.` }));
  const rows = [...data.rollouts.values()].filter((r) => r.ars === ars).sort((x, y) => x.serviceKey.localeCompare(y.serviceKey));
  const table = el("table", { class: "data", id: "authority-rollouts" },
    el("thead", {}, el("tr", {}, ...["Dienst", "Status", "Phase", "Schritte erledigt"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, rows.map((r) => el("tr", { dataset: { id: r.id } },
      el("td", {}, el("a", { href: "#/rollout/" + encodeURIComponent(r.id), text: serviceName(r.serviceKey) })),
      el("td", {}, el("span", { class: "pill " + r.status, text: STATUS[r.status] }), r.overdue ? el("span", { class: "pill overdue", text: "überfällig" }) : null),
      el("td", { text: phaseTitle(r.phase) }),
      el("td", { class: "num", text: `${r.stepsDone} / ${r.stepsApplicable}` })))));
  const persons = el("section", { "aria-labelledby": "h-persons", id: "persons" },
    el("h3", { id: "h-persons", text: "Personen" }),
    el("p", { class: "hint", text: "Namen und Kontaktdaten sind verschlüsselt gespeichert. Löschen (Art. 17 DSGVO) vernichtet den Schlüssel: überall steht dann „[gelöscht]“, der Verlauf zeigt weiter, was wann getan wurde." }),
    el("p", { id: "persons-message", role: "status" }),
    el("div", { id: "persons-list" }, el("p", { text: "Wird geladen …" })));
  setMain(a.name,
    el("dl", { class: "facts" },
      el("dt", { text: "Art" }), el("dd", { text: KIND[a.kind] || a.kind }),
      el("dt", { text: "ARS" }), el("dd", { text: a.ars }),
      el("dt", { text: "Landkreis" }), el("dd", { text: a.landkreis ? a.landkreis.name : "–" }),
      a.status ? el("dt", { text: "Status" }) : null, a.status ? el("dd", { text: TOWN_STATUS[a.status] || a.status }) : null),
    el("div", { class: "filters" },
      el("div", {}, el("button", { type: "button", class: "secondary", id: "steckbrief-xlsx", text: "Steckbrief (XLSX)",
        onclick: () => download(`/reports/steckbrief/${ars}.xlsx`, `steckbrief-${ars}.xlsx`, $("steckbrief-download"), "Steckbrief") })),
      el("div", {}, el("button", { type: "button", class: "secondary", id: "steckbrief-html", text: "Steckbrief zum Drucken",
        onclick: () => download(`/reports/steckbrief/${ars}.html`, `steckbrief-${ars}.html`, $("steckbrief-download"), "Steckbrief (HTML)") })),
      el("p", { id: "steckbrief-download", role: "status" })),
    rows.length ? table : el("p", { text: "Keine Anbindungen." }),
    persons);
  showPersons(ars);
}

const PERSONS = "query($a: String!) { persons(ars: $a) { id name function email phone erased erasedAt leftOn } }";

async function showPersons(ars) {
  const seq = viewSeq;
  let list;
  try { list = (await gql(PERSONS, { a: ars })).persons; } catch (e) { list = null; if (seq === viewSeq) $("persons-list").replaceChildren(el("p", { class: "alert", text: e.text })); return; }
  if (seq !== viewSeq || !$("persons-list")) return;
  const role = data.me.role;
  const mayErase = role === "admin";
  const mayChange = ["admin", "project-manager", "authority-staff", "association-staff"].includes(role);
  if (!list.length) return $("persons-list").replaceChildren(el("p", { text: "Keine Personen erfasst (oder keine, die dieses Token sehen darf)." }));
  const table = el("table", { class: "data", id: "persons-table" },
    el("thead", {}, el("tr", {}, ...["Name", "Funktion", "E-Mail", "Telefon", "Stand", "Aktionen"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, list.map((p) => {
      const state = p.erased ? `gelöscht am ${fmtTime(p.erasedAt)}` : p.leftOn ? `ausgeschieden am ${fmtDate(p.leftOn)}` : "aktiv";
      const tr = el("tr", { dataset: { person: p.id, erased: String(p.erased) } },
        el("th", { scope: "row", text: p.name }), el("td", { text: p.function || "–" }), el("td", { text: p.email || "–" }),
        el("td", { text: p.phone || "–" }), el("td", { text: state }), el("td"));
      const actions = el("div", { class: "actions" });
      if (!p.erased && mayChange && !p.leftOn) actions.append(el("button", { type: "button", class: "secondary", dataset: { action: "recordPersonLeft" },
        "aria-label": `Ausgeschieden: ${p.name}`, onclick: () => personForm(ars, p, "recordPersonLeft", tr) }, "Ausgeschieden …"));
      if (!p.erased && mayErase) actions.append(el("button", { type: "button", class: "secondary", dataset: { action: "erasePerson" },
        "aria-label": `Löschen: ${p.name}`, onclick: () => personForm(ars, p, "erasePerson", tr) }, "Löschen …"));
      tr.lastChild.append(actions);
      return tr;
    })));
  $("persons-list").replaceChildren(el("div", { class: "scroll-x" }, table));
}

function personForm(ars, p, mutation, row) {
  document.getElementById("person-form-row")?.remove();
  const erase = mutation === "erasePerson";
  const form = el("form", { class: "action", id: "person-form", "aria-label": `${erase ? "Löschen" : "Ausgeschieden"}: ${p.name}` },
    erase ? null : el("div", { class: "field" }, el("label", { for: "left-on", text: "Letzter Tag (Pflicht)" }), el("input", { id: "left-on", type: "date", required: true })),
    el("div", { class: "field" }, el("label", { for: "person-reason", text: erase ? "Grund, z. B. Antrag nach Art. 17 DSGVO (Pflicht)" : "Begründung (Pflicht)" }),
      el("textarea", { id: "person-reason", rows: 2, required: true, "aria-describedby": "person-reason-note" }),
      el("span", { id: "person-reason-note", class: "hint", text: "Bleibt im Protokoll: keine personenbezogenen Daten eintragen." })),
    el("p", { id: "person-error", class: "alert", role: "alert" }),
    el("div", { class: "buttons" }, el("button", { type: "submit", text: erase ? "Endgültig löschen" : "Speichern" }),
      el("button", { type: "button", class: "secondary", text: "Abbrechen", onclick: () => document.getElementById("person-form-row")?.remove() })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = { personId: p.id, reason: $("person-reason").value };
    if (!erase) input.leftOn = $("left-on").value;
    const type = erase ? "ErasePersonInput" : "RecordPersonLeftInput";
    try {
      await gql(`mutation($i: ${type}!) { ${mutation}(input: $i) { id } }`, { i: input });
      $("persons-message").textContent = erase ? "Gelöscht." : "Gespeichert.";
      await showPersons(ars);
    } catch (e) { $("person-error").textContent = e.text; }
  });
  row.after(el("tr", { id: "person-form-row" }, el("td", { colspan: 6 }, form)));
  form.querySelector("input, textarea").focus();
}

registerView("authority", (v) => showAuthority(v.arg));
