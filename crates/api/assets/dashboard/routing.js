// Views are addressed by the URL fragment.

import { $, el } from "./dom.js";
import { data } from "./data.js";
import { showOverview, renderMatrix } from "./overview.js";
import { showAuthority } from "./authority.js";
import { showRollout } from "./rollout.js";
import { showMap, updateMap } from "./map.js";
import { showBurnup } from "./burnup.js";
import { showAudit } from "./audit.js";
import { showDefinitions, showDefinition } from "./definitions.js";
import { showTasks, loadTasks } from "./tasks.js";
import { showReport } from "./report.js";
import { showNetwork } from "./network.js";

export function currentView() {
  const h = location.hash.replace(/^#/, "");
  const [path, query] = h.split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "aufgaben") return { name: "tasks", params };
  if (parts[0] === "bericht") return { name: "report", params };
  if (parts[0] === "netzwerk") return { name: "network", params };
  if (parts[0] === "karte") return { name: "map", params };
  if (parts[0] === "verlauf") return { name: "burnup", params };
  if (parts[0] === "audit") return { name: "audit", params };
  if (parts[0] === "rollout" && parts[1]) return { name: "rollout", arg: parts[1], params };
  if (parts[0] === "verwaltung" && parts[1]) return { name: "authority", arg: parts[1], params };
  if (parts[0] === "ablaeufe") return { name: "definitions", params };
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
  const main = $("inhalt");
  switch (view.name) {
    case "map": return fresh ? showMap(view.params) : updateMap();
    case "burnup": return fresh && showBurnup();
    case "audit": return fresh && showAudit(view.params);
    case "tasks": return fresh ? showTasks(view.params) : loadTasks();
    case "report": return fresh && showReport();
    case "network": return fresh && showNetwork(view.params);
    case "rollout": return showRollout(view.arg);
    case "authority": return showAuthority(view.arg);
    case "definitions": return fresh && showDefinitions(data.me);
    case "definition": return fresh && showDefinition(view.arg, data.me, view.params);
    default:
      if (fresh || !main.querySelector("#matrix")) return showOverview(view.params);
      return renderMatrix();
  }
}

export function setMain(title, ...content) {
  const main = $("inhalt");
  main.textContent = "";
  $("state").textContent = ""; // each view says its own state
  main.append(el("h2", { text: title }), ...content);
  document.title = title + " · efa-rollout";
}
