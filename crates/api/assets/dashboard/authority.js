// One administration and its rollouts.

import { el } from "./dom.js";
import { STATUS, KIND } from "./words.js";
import { data, serviceName, phaseTitle } from "./data.js";
import { setMain } from "./routing.js";

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
  setMain(a.name,
    el("dl", { class: "facts" },
      el("dt", { text: "Art" }), el("dd", { text: KIND[a.kind] || a.kind }),
      el("dt", { text: "ARS" }), el("dd", { text: a.ars }),
      el("dt", { text: "Landkreis" }), el("dd", { text: a.landkreis ? a.landkreis.name : "–" })),
    rows.length ? table : el("p", { text: "Keine Anbindungen." }));
}
