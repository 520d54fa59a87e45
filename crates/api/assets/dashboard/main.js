// efa-rollout dashboard (the entry module): a client of the public GraphQL API (POST /graphql, the
// graphql-transport-ws subscription on GET /graphql) and of the map layers at /geo/. It uses
// nothing other tools cannot use. Views are addressed by the URL fragment:
//   #/ or #/uebersicht      programme overview (matrix of services × administrations)
//   #/aufgaben              my tasks (a staff token's start page), with counts and questions
//   #/bericht               the programme report (XLSX, CSV, printable A4 page)
//   #/netzwerk?dienst=<key> the OZG network: who is how far, contacts, solutions, blockages
//   #/karte                 map of Brandenburg, share of live rollouts
//   #/verlauf               progress over time (burn-up)
//   #/audit                 audit log with filters and CSV export
//   #/rollout/<id>          one rollout: steps, evidence, actions, history
//   #/verwaltung/<ars>      one administration and its rollouts
//   #/ablaeufe              workflow definitions; project managers publish new versions here
//   #/ablauf/<id>@<version> one definition: phases, steps, services using it, versions compared
// A token passed as #token=... is moved into the session storage and removed from the URL.
import { $ } from "./dom.js";
import { ROLE } from "./words.js";
import { getToken, setToken } from "./api.js";
import { data, loadAll } from "./data.js";
import { followLive, stopLive } from "./live.js";
import { route } from "./routing.js";

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
  const report = document.querySelector("nav a[data-view='report']");
  if (report) report.parentElement.hidden = !["admin", "project-manager", "auditor"].includes(data.me.role);
  // Staff start on their tasks.
  if (["authority-staff", "association-staff"].includes(data.me.role) && ["", "#", "#/"].includes(location.hash)) {
    history.replaceState(null, "", location.pathname + "#/aufgaben");
  }
  route();
  followLive();
}

function signOut() {
  setToken("");
  stopLive();
  location.hash = "#/";
  location.reload();
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
  if (fragment.get("token")) {
    setToken(fragment.get("token"));
    history.replaceState(null, "", location.pathname + "#/");
  }
  if (getToken()) start();
});
