// Workflow definitions ("Abläufe"): the list, one definition (phases, steps, dependencies,
// evidence, deadlines, roles, the services using it, its versions and what changed between
// two), and for project managers the publish form with the diagnostics at their lines.

import { $, el } from "./dom.js";
import { ROLE, fmtTime } from "./words.js";
import { gql } from "./api.js";
import { data } from "./data.js";
import { viewSeq, setMain, registerView } from "./routing.js";

const DEFINITION_FIELDS = `id version title description scope landDefinition contentHash source bundled
  publishedAt publishedBy { name } reason usedBy { key name }
  phases { id title steps { id title description roles dependsOn condition skippable automatable fourEyes deadlineHours
    evidence { id label type required values labels } } }`;

const SCOPE = { authority: "Verwaltung", land: "Land" };
const TYPE = { person: "Person (verschlüsselt, löschbar)", text: "Text", date: "Datum", url: "Adresse (URL)", uuid: "UUID", leika: "LeiKa-Schlüssel", ars: "ARS",
  document: "Dokument", enum: "Auswahl", boolean: "ja/nein", number: "Zahl" };

const mayPublish = (me) => me && ["admin", "project-manager"].includes(me.role);
const ref = (d) => `${d.id}@${d.version}`;
const link = (d) => el("a", { href: "#/ablauf/" + encodeURIComponent(ref(d)), text: `${d.title} (${ref(d)})` });

export async function showDefinitions(me) {
  const seq = viewSeq;
  let defs;
  try { defs = (await gql(`{ definitions { ${DEFINITION_FIELDS} } }`)).definitions; } catch (e) { return seq === viewSeq && setMain("Fehler", el("p", { class: "alert", text: e.text })); }
  if (seq !== viewSeq) return;
  const table = el("table", { class: "data", id: "definitions" },
    el("caption", { class: "status", text: "Alle Versionen aller Abläufe, mit den Diensten, die sie nutzen" }),
    el("thead", {}, el("tr", {}, ...["Ablauf", "Ebene", "Schritte", "Genutzt von", "Veröffentlicht"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, defs.map((d) => el("tr", { dataset: { ref: ref(d) } },
      el("th", { scope: "row" }, link(d)),
      el("td", { text: SCOPE[d.scope] || d.scope }),
      el("td", { class: "num", text: String(d.phases.reduce((n, p) => n + p.steps.length, 0)) }),
      el("td", { text: d.usedBy.length ? `${d.usedBy.length} Dienste` : "–" }),
      el("td", { text: d.publishedAt ? `${fmtTime(d.publishedAt)}, ${d.publishedBy.name}` : "mitgeliefert, noch nicht im Protokoll" })))));
  setMain("Abläufe", el("div", { class: "scroll-x" }, table), mayPublish(me) ? publishForm() : null);
}

export async function showDefinition(name, me, params) {
  const seq = viewSeq;
  const [id, version] = name.split("@");
  let defs;
  try { defs = (await gql(`{ definitions { ${DEFINITION_FIELDS} } }`)).definitions; } catch (e) { return seq === viewSeq && setMain("Fehler", el("p", { class: "alert", text: e.text })); }
  if (seq !== viewSeq) return;
  const versions = defs.filter((d) => d.id === id).sort((a, b) => a.version - b.version);
  const d = versions.find((v) => String(v.version) === version);
  if (!d) return setMain("Ablauf nicht gefunden", el("p", { text: `Kein Ablauf ${name}.` }));
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Kennung" }), el("dd", { text: ref(d) }),
    el("dt", { text: "Ebene" }), el("dd", { text: SCOPE[d.scope] || d.scope }),
    d.landDefinition ? el("dt", { text: "Landesablauf" }) : null, d.landDefinition ? el("dd", { text: d.landDefinition }) : null,
    el("dt", { text: "Veröffentlicht" }), el("dd", { text: d.publishedAt ? `${fmtTime(d.publishedAt)} von ${d.publishedBy.name}: ${d.reason}` : "mitgeliefert, noch nicht im Protokoll" }),
    el("dt", { text: "Genutzt von" }), el("dd", { id: "used-by" }, d.usedBy.length ? d.usedBy.map((s) => s.name).join(", ") : "keinem Dienst (für neue Anbindungen)"),
    el("dt", { text: "Inhalts-Hash" }), el("dd", { class: "mono", text: d.contentHash.slice(0, 16) + "…" }));
  const steps = el("table", { class: "data", id: "definition-steps" },
    el("caption", { class: "status", text: "Schritte nach Phasen" }),
    el("thead", {}, el("tr", {}, ...["Schritt", "Wer", "Wartet auf", "Nachweise", "Frist", "Bedingung"].map((t) => el("th", { scope: "col", text: t })))));
  const body = el("tbody");
  steps.append(body);
  for (const p of d.phases) {
    body.append(el("tr", { class: "phase" }, el("th", { colspan: 6, scope: "rowgroup", text: p.title })));
    for (const s of p.steps) {
      const who = s.roles.map((r) => ROLE[r] || r).concat(s.automatable ? ["Automatisierung"] : []).join(", ");
      body.append(el("tr", { dataset: { step: s.id } },
        el("th", { scope: "row" }, s.title, s.fourEyes ? el("span", { class: "pill", text: "Vier Augen" }) : null, s.skippable ? el("span", { class: "pill", text: "verzichtbar" }) : null),
        el("td", { text: who }),
        el("td", { text: s.dependsOn.join(", ") || "–" }),
        el("td", {}, s.evidence.length ? el("ul", { class: "plain" }, s.evidence.map((f) => el("li", { text: `${f.label} (${TYPE[f.type] || f.type}${f.required ? ", Pflicht" : ""})${f.values.length ? ": " + f.values.map((v, i) => f.labels[i] || v).join(", ") : ""}` }))) : "–"),
        el("td", { text: s.deadlineHours ? `${Math.round(s.deadlineHours / 24)} Tage` : "–" }),
        el("td", { class: "mono", text: s.condition || "–" })));
    }
  }
  const sections = [
    el("section", { "aria-labelledby": "h-def" }, facts, el("h3", { id: "h-def", text: "Phasen und Schritte" }), el("div", { class: "scroll-x" }, steps)),
  ];
  if (versions.length > 1) sections.push(versionsSection(versions, d, params));
  sections.push(el("section", { "aria-labelledby": "h-source" }, el("h3", { id: "h-source", text: "Text der Definition" }),
    el("details", {}, el("summary", { text: "TOML anzeigen" }), el("pre", { class: "source", id: "definition-source", tabindex: "0", role: "region", "aria-label": "Text der Definition (TOML)" }, d.source))));
  setMain(d.title, ...sections);
}

// What changed from one version to another: steps added, removed and changed (title, roles,
// dependencies, evidence, deadline, condition).
export function diff(from, to) {
  const steps = (d) => new Map(d.phases.flatMap((p) => p.steps.map((s) => [s.id, s])));
  const [a, b] = [steps(from), steps(to)];
  const added = [...b.keys()].filter((k) => !a.has(k));
  const removed = [...a.keys()].filter((k) => !b.has(k));
  const changed = [];
  for (const [k, s] of b) {
    const o = a.get(k);
    if (!o) continue;
    const what = [];
    if (o.title !== s.title) what.push("Titel");
    if (o.roles.join() !== s.roles.join()) what.push("Rollen");
    if (o.dependsOn.join() !== s.dependsOn.join()) what.push("Abhängigkeiten");
    if (JSON.stringify(o.evidence) !== JSON.stringify(s.evidence)) what.push("Nachweise");
    if (o.deadlineHours !== s.deadlineHours) what.push("Frist");
    if (o.condition !== s.condition) what.push("Bedingung");
    if (what.length) changed.push([k, what]);
  }
  return { added, removed, changed };
}

function versionsSection(versions, d, params) {
  const other = params.get("vergleich") || String(versions.find((v) => v.version !== d.version).version);
  const from = versions.find((v) => String(v.version) === other) || versions[0];
  const pick = el("select", { id: "compare-version" }, versions.filter((v) => v.version !== d.version).map((v) => new Option(`Version ${v.version}`, String(v.version))));
  pick.value = String(from.version);
  pick.addEventListener("change", () => { location.hash = `#/ablauf/${encodeURIComponent(ref(d))}?vergleich=${pick.value}`; });
  const c = diff(from, d);
  const list = el("ul", { id: "changes" },
    c.added.map((s) => el("li", { text: `neu: ${s}` })),
    c.removed.map((s) => el("li", { text: `entfällt: ${s}` })),
    c.changed.map(([s, what]) => el("li", { text: `geändert: ${s} (${what.join(", ")})` })));
  return el("section", { "aria-labelledby": "h-versions" }, el("h3", { id: "h-versions", text: "Versionen" }),
    el("p", {}, ...versions.map((v, i) => [i ? " · " : "", v.version === d.version ? el("strong", { text: `Version ${v.version}` }) : link(v)])),
    el("div", { class: "field" }, el("label", { for: "compare-version", text: `Version ${d.version} verglichen mit` }), pick),
    list.children.length ? list : el("p", { text: "Keine Änderungen an den Schritten." }));
}

// Publishing: the text and a reason; on problems, the text with its lines numbered and each
// problem beside its line.
function publishForm() {
  const form = el("form", { id: "publish-form", "aria-labelledby": "h-publish" },
    el("div", { class: "field" }, el("label", { for: "publish-source", text: "Text der Definition (TOML, Format wie in workflows/)" }),
      el("textarea", { id: "publish-source", rows: 14, required: true, spellcheck: "false", class: "mono" })),
    el("div", { class: "field" }, el("label", { for: "publish-reason", text: "Begründung (Pflicht)" }), el("input", { id: "publish-reason", required: true })),
    el("div", { class: "buttons" }, el("button", { type: "submit", text: "Veröffentlichen" })),
    el("p", { id: "publish-result", class: "alert", role: "alert" }),
    el("ol", { id: "publish-lines", class: "source-lines", hidden: true, "aria-label": "Text mit den gefundenen Problemen" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const source = $("publish-source").value;
    const result = $("publish-result");
    const lines = $("publish-lines");
    result.textContent = "";
    lines.hidden = true;
    lines.textContent = "";
    $("publish-source").removeAttribute("aria-invalid");
    try {
      const d = (await gql("mutation($s: String!, $r: String!) { publishDefinition(input: { source: $s, reason: $r }) { published definition { id version } } }",
        { s: source, r: $("publish-reason").value })).publishDefinition;
      result.className = "success";
      result.textContent = d.published ? `Veröffentlicht: ${ref(d.definition)}.` : `${ref(d.definition)} ist mit genau diesem Text schon veröffentlicht.`;
      result.append(" ", el("a", { href: "#/ablauf/" + encodeURIComponent(ref(d.definition)), text: "Zum Ablauf" }));
    } catch (e) {
      result.className = "alert";
      result.textContent = e.text;
      const diags = (e.diagnostics || []).filter((d) => !d.base);
      if (!diags.length) return;
      $("publish-source").setAttribute("aria-invalid", "true");
      const at = new Map();
      for (const d of diags) at.set(d.line, (at.get(d.line) || []).concat(`Spalte ${d.column}: ${d.message}`));
      source.split("\n").forEach((text, i) => {
        const problems = at.get(i + 1);
        lines.append(el("li", { class: problems ? "problem" : null, dataset: { line: String(i + 1) } },
          el("code", { text: text || " " }), problems ? el("span", { class: "diagnostic", text: " ← " + problems.join("; ") }) : null));
      });
      for (const d of (e.diagnostics || []).filter((d) => d.base)) {
        lines.append(el("li", { class: "problem" }, el("span", { class: "diagnostic", text: `In der Basis ${d.base}, Zeile ${d.line}, Spalte ${d.column}: ${d.message}` })));
      }
      lines.hidden = false;
    }
  });
  return el("section", { "aria-labelledby": "h-publish" }, el("h3", { id: "h-publish", text: "Neue Version veröffentlichen" }),
    el("p", { class: "hint", text: "Der Text wird wie von „rollout workflow check“ geprüft; bei einem Problem wird nichts gespeichert. Ein geänderter Text braucht eine neue Versionsnummer." }), form);
}

registerView("definitions", (v, fresh) => fresh && showDefinitions(data.me));
registerView("definition", (v, fresh) => fresh && showDefinition(v.arg, data.me, v.params));
