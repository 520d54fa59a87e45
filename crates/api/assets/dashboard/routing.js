// Views are addressed by the URL fragment. This module owns the routing state (the current
// view, the navigation counter) and imports no view: each view registers how it is drawn
// (`registerView`), and main.js imports the views.

import { $, el } from "./dom.js";
import { data } from "./data.js";

// name → draw(view, fresh): `fresh` on navigation, not on a live redraw.
const views = new Map();

export function registerView(name, draw) {
  views.set(name, draw);
}

export function currentView() {
  const h = location.hash.replace(/^#/, "");
  const [path, query] = h.split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "aufgaben") return { name: "tasks", params };
  if (parts[0] === "bericht") return { name: "report", params };
  if (parts[0] === "netzwerk") return { name: "network", params };
  if (parts[0] === "angebote") return { name: "offers", params };
  if (parts[0] === "karte") return { name: "map", params };
  if (parts[0] === "verlauf") return { name: "burnup", params };
  if (parts[0] === "audit") return { name: "audit", params };
  if (parts[0] === "rollout" && parts[1]) return { name: "rollout", arg: parts[1], params };
  if (parts[0] === "verwaltung" && parts[1]) return { name: "authority", arg: parts[1], params };
  if (parts[0] === "ablaeufe") return { name: "definitions", params };
  if (parts[0] === "zugaenge") return { name: "access", params };
  if (parts[0] === "ablauf" && parts[1]) return { name: "definition", arg: parts[1], params };
  return { name: "overview", params };
}

// Incremented on every navigation: an answer that arrives after the user moved on is dropped
// instead of replacing the page they are on now.
export let viewSeq = 0;

export function route() {
  if (!data.me) return;
  viewSeq++;
  const view = currentView();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === view.name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  refreshView(view, true);
}

export function refreshView(view, fresh) {
  const draw = views.get(view.name) || views.get("overview");
  return draw && draw(view, fresh);
}

export function setMain(title, ...content) {
  const main = $("inhalt");
  main.textContent = "";
  $("state").textContent = ""; // each view says its own state
  main.append(el("h2", { text: title }), ...content);
  document.title = title + " · efa-rollout";
}
