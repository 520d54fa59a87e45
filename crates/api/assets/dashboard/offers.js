// Angebote: who is responsible for a service and who wants it. A clerk answers the offers made
// to their administration ("Angebot annehmen", "ablehnen", "später", "eigene Lösung"); an
// interest starts the rollout, a decline ends nothing and can be revised. The Land picks a
// service, offers it to every responsible administration and sees who has not answered yet.

import { $, el, select } from "./dom.js";
import { gql } from "./api.js";
import { STATUS } from "./words.js";
import { data, manager, writer, serviceName, authorityName, byPlace } from "./data.js";
import { setMain, registerView, viewSeq } from "./routing.js";

export const ANSWER = { INTERESTED: "Interesse", DECLINED: "abgelehnt", DEFERRED: "zurückgestellt", OWN_SOLUTION: "eigene Lösung" };
const CATEGORY = { OWN_SOLUTION: "eigene Lösung", NO_DEMAND: "kein Bedarf", NO_CAPACITY: "keine Kapazität", COSTS: "Kosten", TECHNICAL: "technische Gründe", OTHER: "sonstige Gründe" };
const OFFER_FIELDS = "from conditions contact { name email } reason at";

async function showOffers(params, message) {
  const seq = viewSeq;
  const parts = [];
  if (data.me.role === "authority-staff") {
    const d = await gql(`{ myOffers { serviceKey ars answer until text rolloutStatus offer { ${OFFER_FIELDS} } } }`);
    if (seq !== viewSeq) return;
    parts.push(el("section", { "aria-labelledby": "h-mine" }, el("h3", { id: "h-mine", text: "Angebote an meine Verwaltung" }), myOffers(d.myOffers)));
  }
  if (manager()) {
    const services = [...data.services.values()].map((s) => [s.key, s.name]).sort((x, y) => x[1].localeCompare(y[1], "de"));
    const chosen = params.get("dienst") || (services[0] || [""])[0];
    const pick = select("o-service", "Dienst", services, chosen);
    pick.querySelector("select").addEventListener("change", (ev) => { location.hash = "#/angebote?dienst=" + encodeURIComponent(ev.target.value); });
    parts.push(el("section", { "aria-labelledby": "h-land" }, el("h3", { id: "h-land", text: "Angebot und Antworten je Dienst" }),
      el("div", { class: "filters" }, pick), el("div", { id: "o-land" }, el("p", { text: "Wird geladen …" }))));
  }
  setMain("Angebote", el("p", { class: "hint", text: "Ein Interesse startet den Rollout. Eine Ablehnung oder Zurückstellung beendet nichts und kann jederzeit geändert werden." }),
    el("p", { id: "o-status", role: "status", text: message || "" }), ...parts);
  if (manager()) await landView(params.get("dienst") || ($("o-service") || {}).value);
}

function myOffers(offers) {
  if (!offers.length) return el("p", { text: "Zurzeit liegen keine Angebote vor." });
  const rows = offers.sort((x, y) => serviceName(x.serviceKey).localeCompare(serviceName(y.serviceKey), "de")).map((o) => {
    const state = o.answer ? ANSWER[o.answer] + (o.until ? ` bis ${o.until}` : "") : "noch keine Antwort";
    return el("tr", { dataset: { service: o.serviceKey } },
      el("th", { scope: "row", text: serviceName(o.serviceKey) }),
      el("td", { text: authorityName(o.ars) }),
      el("td", {}, el("div", { text: `ab ${o.offer.from}` }), o.offer.conditions ? el("div", { class: "hint", text: o.offer.conditions }) : null,
        o.offer.contact ? el("div", { class: "hint", text: "Ansprechperson: " + o.offer.contact.name + (o.offer.contact.email ? ` (${o.offer.contact.email})` : "") }) : null),
      el("td", { class: "o-answer", text: state }),
      el("td", { text: o.rolloutStatus ? STATUS[o.rolloutStatus] : "kein Rollout" }),
      el("td", {}, writer() ? answerForm(o) : null));
  });
  return el("table", { class: "list", id: "my-offers" },
    el("thead", {}, el("tr", {}, ...["Dienst", "Verwaltung", "Angebot", "Antwort", "Rollout", ""].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, rows));
}

// The four answers; a decline asks for a category, "später" for a date, "eigene Lösung" for which.
function answerForm(o) {
  const id = `a-${o.serviceKey}-${o.ars}`;
  const extra = el("div", { class: "o-extra", hidden: true });
  const send = async (answer, more) => {
    const status = $("o-status");
    status.textContent = "wird gesendet …";
    try {
      const r = await gql("mutation($i: AnswerOfferInput!) { answerOffer(input: $i) { answer rolloutStarted } }",
        { i: { serviceKey: o.serviceKey, ars: o.ars, answer, ...more } });
      // The list again, with what was saved.
      showOffers(new URLSearchParams(location.hash.split("?")[1] || ""),
        `${serviceName(o.serviceKey)}: ${ANSWER[answer]} gespeichert` + (r.answerOffer.rolloutStarted ? "; der Rollout ist gestartet." : "."));
    } catch (e) {
      status.textContent = "Nicht gespeichert: " + (e.text || e.message);
    }
  };
  const ask = (answer) => {
    extra.hidden = false;
    extra.replaceChildren();
    const text = el("input", { id: id + "-text", type: "text", maxlength: "2000" });
    const fields = [];
    if (answer === "DECLINED") {
      const c = el("select", { id: id + "-cat" });
      for (const [v, t] of Object.entries(CATEGORY)) c.add(new Option(t, v));
      fields.push(el("label", { for: c.id, text: "Grund" }), c, el("label", { for: text.id, text: "Erläuterung" }), text);
    } else if (answer === "DEFERRED") {
      fields.push(el("label", { for: id + "-until", text: "Zurückstellen bis" }), el("input", { id: id + "-until", type: "date", required: true }));
    } else {
      fields.push(el("label", { for: text.id, text: "Welche Lösung?" }), text);
    }
    const ok = el("button", { type: "submit", text: "Antwort senden" });
    const form = el("form", {}, ...fields, ok);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      ok.disabled = true;
      const more = { text: text.value || null };
      if (answer === "DECLINED") more.category = $(id + "-cat").value;
      if (answer === "DEFERRED") more.until = $(id + "-until").value || null;
      send(answer, more);
    });
    extra.append(form);
  };
  return el("div", { class: "o-actions" },
    el("button", { type: "button", text: "Angebot annehmen", onclick: (ev) => { ev.target.disabled = true; send("INTERESTED", {}); } }),
    el("button", { type: "button", class: "secondary", text: "ablehnen", onclick: () => ask("DECLINED") }),
    el("button", { type: "button", class: "secondary", text: "später", onclick: () => ask("DEFERRED") }),
    el("button", { type: "button", class: "secondary", text: "eigene Lösung", onclick: () => ask("OWN_SOLUTION") }),
    extra);
}

async function landView(service) {
  const seq = viewSeq;
  if (!service) return;
  const d = await gql(`query($s: String!) { offers(serviceKey: $s) { offers { to ${OFFER_FIELDS} } administrations { ars name offered answer category until text rolloutStatus } }
    progress(groupBy: SERVICE, serviceKey: $s) { key responsible offered interested declined deferred ownSolution noAnswer onboarding inOperation coverage populationCoverage flaechendeckend } }`, { s: service });
  if (seq !== viewSeq || !$("o-land")) return;
  const p = d.progress[0] || { responsible: 0, offered: 0, interested: 0, declined: 0, deferred: 0, ownSolution: 0, noAnswer: 0, onboarding: 0, inOperation: 0, coverage: 0, populationCoverage: 0, flaechendeckend: false };
  const figures = el("dl", { class: "figures", id: "o-figures" },
    ...[["Zuständig", p.responsible], ["Angeboten", p.offered], ["Interesse", p.interested], ["Abgelehnt", p.declined], ["Zurückgestellt", p.deferred],
      ["Eigene Lösung", p.ownSolution], ["Keine Antwort", p.noAnswer], ["In Anbindung", p.onboarding], ["In Betrieb", p.inOperation],
      ["Abdeckung", `${p.coverage.toLocaleString("de-DE")} %`], ["Abdeckung nach Einwohnern", `${p.populationCoverage.toLocaleString("de-DE")} %`],
      ["Flächendeckend", p.flaechendeckend ? "ja" : "nein"]]
      .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { dataset: { figure: k }, text: String(v) })]));
  const offered = d.offers.offers.length
    ? el("p", { text: `Angeboten ab ${d.offers.offers[d.offers.offers.length - 1].from} (${d.offers.offers.length} Angebot(e)).` })
    : el("p", { text: "Dieser Dienst wurde noch nicht angeboten." });
  const offerButton = writer() ? el("button", { type: "button", id: "o-offer", text: "Allen zuständigen Verwaltungen anbieten", onclick: () => offerAll(service) }) : null;
  const onlyOpen = el("input", { type: "checkbox", id: "o-open" });
  const rows = d.offers.administrations.sort((x, y) => byPlace(x.name, y.name));
  const body = el("tbody");
  const draw = () => body.replaceChildren(...rows.filter((a) => !onlyOpen.checked || !a.answer).map((a) => el("tr", { dataset: { ars: a.ars } },
    el("th", { scope: "row" }, el("a", { href: "#/verwaltung/" + a.ars, text: a.name })),
    el("td", { text: a.offered ? "ja" : "nein" }),
    el("td", { text: a.answer ? ANSWER[a.answer] : "keine Antwort" }),
    el("td", { text: [a.category ? CATEGORY[a.category] : "", a.until ? "bis " + a.until : "", a.text || ""].filter(Boolean).join(" · ") }),
    el("td", { text: a.rolloutStatus ? STATUS[a.rolloutStatus] : "–" }))));
  onlyOpen.addEventListener("change", draw);
  draw();
  $("o-land").replaceChildren(figures, offered, offerButton || "",
    el("div", {}, onlyOpen, el("label", { for: "o-open", text: " nur Verwaltungen ohne Antwort" })),
    el("table", { class: "list", id: "o-table" },
      el("thead", {}, el("tr", {}, ...["Zuständige Verwaltung", "Angeboten", "Antwort", "Begründung", "Rollout"].map((t) => el("th", { scope: "col", text: t })))),
      body));
}

async function offerAll(service) {
  const status = $("o-status");
  const reason = prompt("Begründung des Angebots", "Der EfA-Dienst ist bereit: nachnutzungsinteressierte Kommunen gesucht");
  if (!reason) return;
  try {
    await gql("mutation($i: OfferServiceInput!) { offerService(input: $i) { from } }",
      { i: { serviceKey: service, from: new Date().toISOString().slice(0, 10), reason } });
    status.textContent = `${serviceName(service)} wurde allen zuständigen Verwaltungen angeboten.`;
    landView(service);
  } catch (e) {
    status.textContent = "Nicht angeboten: " + (e.text || e.message);
  }
}

registerView("offers", (v, fresh) => fresh && showOffers(v.params));
