// Zugänge (project managers and admins): who signed in with the organisation's account, with
// which role for which administrations, from which sign-in service, since when; the last
// sign-in and the sessions, each of which can be ended at once ("Sitzung beenden", with a
// reason that goes into the audit log).

import { $, el } from "./dom.js";
import { gql } from "./api.js";
import { ROLE } from "./words.js";
import { authorityName } from "./data.js";
import { setMain, registerView, viewSeq } from "./routing.js";

const when = (t) => (t ? new Date(t).toLocaleString("de-DE", { dateStyle: "medium", timeStyle: "short" }) : "–");

async function showAccess(message) {
  const seq = viewSeq;
  let list;
  try {
    list = (await gql("{ access { role administrations issuer since lastSignIn person { id name } sessions { id live started lastSeen expires ended } } }")).access;
  } catch (e) {
    setMain("Zugänge", el("p", { class: "error", role: "alert", text: e.text || e.message }));
    return;
  }
  if (seq !== viewSeq) return;
  const rows = list.map((a) => {
    const live = a.sessions.filter((s) => s.live);
    return el("tr", { dataset: { person: a.person ? a.person.id : "" } },
      el("th", { scope: "row", text: a.person ? a.person.name : "–" }),
      el("td", { text: ROLE[a.role] || a.role }),
      el("td", { text: a.administrations.map(authorityName).join(", ") || "–" }),
      el("td", { text: a.issuer }),
      el("td", { text: when(a.since) }),
      el("td", { text: when(a.lastSignIn) }),
      el("td", {}, live.length ? live.map((s) => sessionItem(a, s)) : el("span", { text: "keine aktive Sitzung" })));
  });
  setMain("Zugänge",
    el("p", { class: "hint", text: "Wer sich mit dem Konto seiner Organisation angemeldet hat, mit welcher Rolle für welche Verwaltungen. Rolle und Verwaltungen kommen aus dem Anmeldedienst; jede Änderung steht im Prüfprotokoll. Eine beendete Sitzung gilt sofort auf allen Servern nicht mehr." }),
    el("p", { id: "access-status", role: "status", text: message || "" }),
    list.length
      ? el("table", { class: "list", id: "access-list" },
        el("thead", {}, el("tr", {}, ...["Person", "Rolle", "Verwaltungen", "Anmeldedienst", "seit", "letzte Anmeldung", "Sitzungen"].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", {}, rows))
      : el("p", { text: "Noch hat sich niemand mit einem Anmeldedienst angemeldet." }));
}

function sessionItem(a, s) {
  const reason = el("input", { type: "text", "aria-label": "Grund", placeholder: "Grund", required: true });
  const form = el("form", { class: "inline", dataset: { session: s.id } },
    el("span", { text: `seit ${when(s.started)}, zuletzt ${when(s.lastSeen)}, bis ${when(s.expires)} ` }),
    reason, el("button", { type: "submit", class: "secondary", text: "Sitzung beenden" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await gql("mutation($id: ID!, $reason: String!) { revokeSession(id: $id, reason: $reason) }", { id: s.id, reason: reason.value });
      showAccess(`Die Sitzung von ${a.person.name} ist beendet.`);
    } catch (e) {
      $("access-status").textContent = e.text || e.message;
    }
  });
  return form;
}

registerView("access", () => showAccess());
