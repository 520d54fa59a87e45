// What is loaded once after sign-in and kept current by the live feed.

import { gql, allPages } from "./api.js";
import { PARTY, ROLE } from "./words.js";

export const data = {
  me: null,
  land: "",               // the Land's name (its profile)
  mapAttribution: "",     // the map layers' source and licence
  central: new Set(),      // the central parties' ARS (the Land, the association): their rollouts are
                           // the services' central rollouts, never an administration's
  rollouts: new Map(),     // id -> { id status phase serviceKey ars stepsDone stepsApplicable blockedReason }
  authorities: new Map(),  // ars -> { ars name kind landkreis }
  services: new Map(),     // key -> { key name }
  definitions: [],         // with phases
  phases: new Map(),       // phase id -> { title, index, of }
};
export const ROLLOUT_FIELDS = "id status phase serviceKey ars stepsDone stepsApplicable blockedReason overdue";
export const manager = () => data.me && ["admin", "project-manager", "auditor"].includes(data.me.role);
export const writer = () => data.me && data.me.role !== "auditor";

export async function loadAll() {
  const [me, defs] = await Promise.all([
    gql("{ me { id name role authorities services authMethod person { name } } profile { name landArs associationArs associationName mapAttribution } }"),
    gql("{ definitions { id version title phases { id title steps { id title roles evidence { id label type required values labels pattern maxLength } skippable fourEyes } } } }"),
  ]);
  data.me = me.me;
  // The Land's and the association's names come from the Land's profile.
  data.land = me.profile.name;
  data.mapAttribution = me.profile.mapAttribution;
  data.central = new Set([me.profile.landArs, me.profile.associationArs].filter(Boolean));
  if (me.profile.associationName) ROLE["association-staff"] = me.profile.associationName;
  PARTY.ASSOCIATION = me.profile.associationName || "der Verband";
  PROGRAMS[1][1] = "Formularserver (" + (me.profile.associationName || "Verband") + ")";
  data.definitions = defs.definitions;
  data.phases.clear();
  for (const d of data.definitions) {
    d.phases.forEach((p, i) => { if (!data.phases.has(p.id)) data.phases.set(p.id, { title: p.title, index: i, of: d.phases.length }); });
  }
  const [rollouts, authorities, services] = await Promise.all([
    allPages(`query($a: String) { rollouts(first: 500, after: $a) { edges { node { ${ROLLOUT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, "rollouts"),
    allPages("query($a: String) { authorities(first: 500, after: $a) { edges { node { ars name kind status landkreis { ars name } } } pageInfo { hasNextPage endCursor } } }", "authorities"),
    allPages("query($a: String) { services(first: 500, after: $a) { edges { node { key name program } } pageInfo { hasNextPage endCursor } } }", "services"),
  ]);
  data.rollouts = new Map(rollouts.map((r) => [r.id, r]));
  data.authorities = new Map(authorities.map((a) => [a.ars, a]));
  data.services = new Map(services.map((s) => [s.key, s]));
}

// Names are shown as people say them ("Stadt Bernau bei Berlin", "Amt Peitz"); lists sort them
// by the place, not by the kind in front.
const KIND_PREFIX = /^(Landeshauptstadt|Stadt|Amt|Landkreis|Verbandsgemeinde|Gemeinde) /;
export const byPlace = (x, y) => x.replace(KIND_PREFIX, "").localeCompare(y.replace(KIND_PREFIX, ""), "de") || x.localeCompare(y, "de");
// A service's central rollout (the Land's, or the association's model): shown as what it is and
// never counted as an administration.
export const isCentral = (r) => data.central.has(r.ars);
export const authorityName = (ars) => (data.authorities.get(ars) || { name: ars }).name;
export const serviceName = (key) => (data.services.get(key) || { name: key }).name;
// The programme switch of the overview, map and burn-up: EfA, the form server, or both ("").
export const PROGRAMS = [["EFA", "EfA-Dienste"], ["FORMULARSERVER", "Formularserver"]];
export const inProgram = (key, program) => !program || (data.services.get(key) || { program: "EFA" }).program === program;
export const kreisOf = (a) => a.landkreis ? a.landkreis : { ars: a.ars, name: a.name };
export const phaseTitle = (id) => (data.phases.get(id) || { title: id }).title;

// Colour of a rollout's cell: its phase on a light-to-dark blue scale; live green, cancelled grey.
// `dark`: white text has the contrast (WCAG 4.5:1), decided from the colour's luminance.
export function phaseColour(r) {
  if (r.status === "live") return { bg: "var(--live)", dark: true };
  if (r.status === "cancelled") return { bg: "var(--cancelled)", dark: true };
  if (r.status === "not_started") return { bg: "var(--none)", dark: false };
  const p = data.phases.get(r.phase) || { index: 0, of: 1 };
  const t = p.of > 1 ? p.index / (p.of - 1) : 0;
  const light = 88 - t * 55;
  return { bg: `hsl(212 65% ${light}%)`, dark: luminance(212, 0.65, light / 100) < 0.18 };
}

// Relative luminance (WCAG) of an HSL colour.
function luminance(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => { const k = (n + h / 30) % 12; return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)); };
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(f(0)) + 0.7152 * lin(f(8)) + 0.0722 * lin(f(4));
}
