// efa-rollout dashboard (the entry module): a client of the public GraphQL API (POST /graphql, the
// graphql-transport-ws subscription on GET /graphql) and of the map layers at /geo/. It uses
// nothing other tools cannot use. Views are addressed by the URL fragment:
//   #/ or #/uebersicht      programme overview (matrix of services × administrations)
//   #/aufgaben              my tasks (a staff token's start page), with counts and questions
//   #/bericht               the programme report (XLSX, CSV, printable A4 page)
//   #/netzwerk?dienst=<key> the OZG network: who is how far, contacts, solutions, blockages
//   #/angebote?dienst=<key> offers: a clerk answers them; the Land offers and sees who answered
//   #/karte                 map of the Land, share of live rollouts
//   #/verlauf               progress over time (burn-up)
//   #/audit                 audit log with filters and CSV export
//   #/rollout/<id>          one rollout: steps, evidence, actions, history
//   #/verwaltung/<ars>      one administration and its rollouts
//   #/ablaeufe              workflow definitions; project managers publish new versions here
//   #/ablauf/<id>@<version> one definition: phases, steps, services using it, versions compared
// A token passed as #token=... is never used by itself: it is taken out of the URL, put into the
// sign-in field, and the page says whose token it is; the visitor signs in with it only by
// pressing „Anmelden“ (a link must not make someone work as another without noticing).
import { $, el } from "./dom.js";
import { ROLE } from "./words.js";
import { getToken, gql, setToken } from "./api.js";
import { data, loadAll } from "./data.js";
import { followLive, stopLive } from "./live.js";
import { route } from "./routing.js";
// The views register themselves with routing.js.
import "./overview.js";
import "./authority.js";
import "./rollout.js";
import "./map.js";
import "./burnup.js";
import "./audit.js";
import "./definitions.js";
import "./tasks.js";
import "./report.js";
import "./network.js";
import "./offers.js";
import "./access.js";

async function start() {
  $("state").textContent = "lädt …";
  try {
    await loadAll();
  } catch (e) {
    $("state").textContent = "Anmeldung fehlgeschlagen: " + (e.text || e.message);
    data.me = null;
    return;
  }
  $("land").textContent = "Anbindung der Online-Dienste in " + data.land;
  $("signin-area").hidden = true;
  $("whoami").hidden = false;
  const who = data.me.authMethod === "oidc" && data.me.person ? data.me.person.name : data.me.name;
  $("me").textContent = `Angemeldet: ${who} (${ROLE[data.me.role] || data.me.role})`;
  const access = document.querySelector("nav a[data-view='access']");
  if (access) access.parentElement.hidden = !["admin", "project-manager"].includes(data.me.role);
  const audit = document.querySelector("nav a[data-view='audit']");
  if (audit) audit.parentElement.hidden = data.me.role === "automation";
  const report = document.querySelector("nav a[data-view='report']");
  if (report) report.parentElement.hidden = !["admin", "project-manager", "auditor"].includes(data.me.role);
  // Staff start on their tasks.
  if (["authority-staff", "association-staff"].includes(data.me.role) && ["", "#", "#/"].includes(location.hash)) {
    history.replaceState(null, "", location.pathname + "#/aufgaben");
  }
  route();
  followLive();
  showLogHead();
}

// The footer: how far the log goes and its head's hash, as the report and `rollout export` print it.
async function showLogHead() {
  try {
    const { head } = await gql("{ head { position hash } }");
    const footer = $("log-head");
    footer.textContent = `Ereignisprotokoll bis Position ${head.position}, Hash ${head.hash}`;
    footer.hidden = false;
  } catch (e) { /* the footer stays hidden */ }
}

function signOut() {
  stopLive();
  if (data.me && data.me.authMethod === "oidc") {
    // Ends the session here, then at the organisation's sign-in service where it offers that.
    fetch("/auth/logout", { method: "POST", headers: { accept: "application/json" } })
      .then((r) => r.json())
      .then((answer) => { location.href = answer.redirect || "/"; })
      .catch(() => { location.href = "/"; });
    return;
  }
  setToken("");
  location.hash = "#/";
  location.reload();
}

// "Anmelden mit …": one button per sign-in service the server trusts; the token form stays
// under "Mit API-Token anmelden" (open when there is no sign-in service).
async function showProviders() {
  let providers = [];
  try {
    providers = (await (await fetch("/auth/providers")).json()).providers || [];
  } catch (e) { /* tokens only */ }
  const back = encodeURIComponent(location.hash && location.hash !== "#/" ? "/" + location.hash : "/");
  $("providers").replaceChildren(...providers.map((p) =>
    el("a", { class: "button", href: `/auth/login?issuer=${encodeURIComponent(p.id)}&return=${back}`, dataset: { issuer: p.id }, text: "Anmelden mit " + p.label })));
  if (!providers.length) $("token-signin").open = true;
}

// Signed in with the organisation's account: the session cookie answers `me`.
async function signedInByCookie() {
  try {
    const r = await fetch("/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ me { role } }" }) });
    const answer = await r.json();
    return Boolean(answer.data && answer.data.me);
  } catch (e) {
    return false;
  }
}

// The token of a link, offered for signing in: whose it is, asked of the server with that token.
async function offerLinkedToken(linked) {
  $("token").value = linked;
  $("token-signin").open = true;
  let who = "ein unbekanntes oder ungültiges Token";
  try {
    const r = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + linked },
      body: JSON.stringify({ query: "{ me { name role } }" }),
    });
    const answer = await r.json();
    if (answer.data && answer.data.me) who = `„${answer.data.me.name}“ (${ROLE[answer.data.me.role] || answer.data.me.role})`;
  } catch (e) { /* the notice says it is unknown */ }
  const current = getToken() && getToken() !== linked ? " Ihre bisherige Anmeldung bleibt, bis Sie sich mit diesem Token anmelden." : "";
  const note = document.createElement("span");
  note.id = "link-token-note";
  note.textContent = `Ein Link hat ein Token übergeben: ${who}. Prüfen Sie, ob es Ihres ist, und melden Sie sich mit „Anmelden“ an.${current}`;
  $("state").replaceChildren(note);
  $("token").focus();
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken($("token").value.trim());
    start();
  });
  $("signout").addEventListener("click", signOut);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const linked = fragment.get("token");
  if (linked) {
    history.replaceState(null, "", location.pathname + "#/");
    offerLinkedToken(linked);
    return;
  }
  if (getToken()) {
    start();
    return;
  }
  signedInByCookie().then((yes) => (yes ? start() : showProviders()));
});
