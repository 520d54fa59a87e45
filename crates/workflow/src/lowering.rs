//! Lowering a definition file: `toml_edit` gives the document with spans, and [`parse`] walks
//! it, collecting every problem (unknown keys, wrong types, bad references, cycles, ...)
//! instead of stopping at the first.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::duration::Deadline;
use crate::evidence::FieldType;
use crate::limits::{
    DEFINITION_BYTES_MAX, DEPENDENCIES_PER_STEP_MAX, FIELDS_PER_STEP_MAX, PHASES_MAX, STEPS_MAX,
};
use crate::shape::*;

/// Parses and validates a definition file's bytes. Returns every problem found.
pub fn parse(bytes: &[u8]) -> Result<Definition, Vec<Diagnostic>> {
    if bytes.len() > DEFINITION_BYTES_MAX {
        return Err(vec![Diagnostic {
            origin: None,
            span: 0..0,
            message: format!(
                "the file has {} bytes; a definition has at most {DEFINITION_BYTES_MAX}",
                bytes.len()
            ),
        }]);
    }
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let at = e.valid_up_to();
            return Err(vec![Diagnostic {
                origin: None,
                span: at..at,
                message: format!("the file is not UTF-8 text (invalid byte at offset {at})"),
            }]);
        }
    };
    let doc = match ImDocument::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            return Err(vec![Diagnostic {
                origin: None,
                span,
                message: format!("not valid TOML: {message}"),
            }]);
        }
    };
    let mut cx = Lowering { diags: Vec::new(), source };
    let definition = cx.definition(doc.as_table());
    match definition {
        Some(mut d) if cx.diags.is_empty() => {
            d.content_hash = blake3::hash(bytes).to_hex().to_string();
            Ok(d)
        }
        _ => {
            cx.diags.sort_by_key(|d| (d.span.start, d.span.end));
            cx.diags.dedup();
            Err(cx.diags)
        }
    }
}

pub(crate) struct Lowering<'s> {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) source: &'s str,
}

/// A step as read, before references are resolved.
pub(crate) struct RawStep {
    pub(crate) step: Step,
    pub(crate) id_span: Range<usize>,
    pub(crate) deps: Vec<(String, Range<usize>)>,
    /// The condition's text and span, checked once every step's evidence fields are known.
    pub(crate) condition: Option<(String, Range<usize>)>,
}

/// The steps `i` waits for, directly or through others.
pub(crate) fn transitive_dependencies(steps: &[RawStep], i: usize) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut todo: Vec<usize> = steps[i].step.depends_on.clone();
    while let Some(j) = todo.pop() {
        if seen.insert(j) {
            todo.extend(steps[j].step.depends_on.iter().copied());
        }
    }
    seen
}

pub(crate) fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        Item::Value(v) => v.span(),
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span(),
        Item::None => None,
    }
}

impl Lowering<'_> {
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags.push(Diagnostic { origin: None, span, message: message.into() });
    }

    pub(crate) fn unknown_keys(&mut self, table: &dyn TableLike, allowed: &[&str], what: &str) {
        for (key, _) in table.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let span = table.get_key_value(key).and_then(|(k, _)| k.span()).unwrap_or(0..0);
            let hint = match allowed.iter().find(|a| edit_distance(a, key) <= 2) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!("; known keys: {}", allowed.join(", ")),
            };
            self.error(span, format!("unknown key `{key}` in {what}{hint}"));
        }
    }

    pub(crate) fn get<'t>(
        &mut self,
        table: &'t dyn TableLike,
        key: &str,
    ) -> Option<(&'t Item, Range<usize>)> {
        let (_, item) = table.get_key_value(key)?;
        Some((item, item_span(item).unwrap_or(0..0)))
    }

    pub(crate) fn string(
        &mut self,
        table: &dyn TableLike,
        key: &str,
        what: &str,
        at: &Range<usize>,
    ) -> Option<(String, Range<usize>)> {
        match self.get(table, key) {
            None => {
                self.error(at.clone(), format!("{what} needs `{key}`"));
                None
            }
            Some((item, span)) => match item.as_str() {
                Some(s) => Some((s.to_owned(), span)),
                None => {
                    self.error(span, format!("`{key}` of {what} must be text"));
                    None
                }
            },
        }
    }

    pub(crate) fn opt_string(
        &mut self,
        table: &dyn TableLike,
        key: &str,
        what: &str,
    ) -> Option<(String, Range<usize>)> {
        let (item, span) = self.get(table, key)?;
        match item.as_str() {
            Some(s) => Some((s.to_owned(), span)),
            None => {
                self.error(span, format!("`{key}` of {what} must be text"));
                None
            }
        }
    }

    pub(crate) fn opt_bool(&mut self, table: &dyn TableLike, key: &str, what: &str) -> bool {
        let Some((item, span)) = self.get(table, key) else { return false };
        match item.as_bool() {
            Some(b) => b,
            None => {
                self.error(span, format!("`{key}` of {what} must be true or false"));
                false
            }
        }
    }

    pub(crate) fn string_list(
        &mut self,
        table: &dyn TableLike,
        key: &str,
        what: &str,
    ) -> Vec<(String, Range<usize>)> {
        let Some((item, span)) = self.get(table, key) else { return Vec::new() };
        let Some(array) = item.as_array() else {
            self.error(span, format!("`{key}` of {what} must be a list of texts"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            let vspan = v.span().unwrap_or(span.clone());
            match v.as_str() {
                Some(s) => out.push((s.to_owned(), vspan)),
                None => self.error(vspan, format!("`{key}` of {what} must be a list of texts")),
            }
        }
        out
    }

    /// The tables of `key`: an array of tables (`[[key]]`) or a list of inline tables.
    pub(crate) fn tables<'t>(
        &mut self,
        table: &'t dyn TableLike,
        key: &str,
        what: &str,
    ) -> Vec<(&'t dyn TableLike, Range<usize>)> {
        let Some((item, span)) = self.get(table, key) else { return Vec::new() };
        if let Some(aot) = item.as_array_of_tables() {
            return aot.iter().map(|t| (t as &dyn TableLike, t.span().unwrap_or(span.clone()))).collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for v in array.iter() {
                match v {
                    Value::InlineTable(t) => {
                        out.push((t as &dyn TableLike, t.span().unwrap_or(span.clone())))
                    }
                    other => self.error(
                        other.span().unwrap_or(span.clone()),
                        format!("`{key}` of {what} must hold tables"),
                    ),
                }
            }
            return out;
        }
        self.error(span, format!("`{key}` of {what} must be a list of tables ([[{key}]])"));
        Vec::new()
    }

    pub(crate) fn id(
        &mut self,
        table: &dyn TableLike,
        what: &str,
        at: &Range<usize>,
    ) -> Option<(String, Range<usize>)> {
        let (id, span) = self.string(table, "id", what, at)?;
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && id.as_bytes()[0].is_ascii_lowercase();
        if !valid {
            self.error(
                span.clone(),
                format!("id `{id}` of {what}: 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter"),
            );
        }
        Some((id, span))
    }

    fn definition(&mut self, top: &dyn TableLike) -> Option<Definition> {
        let whole = 0..0;
        self.unknown_keys(top, TOP_KEYS, "the definition");
        let id = self.id(top, "the definition", &whole);
        let version = self.version(top, &whole);
        let title = self.string(top, "title", "the definition", &whole);
        let description =
            self.opt_string(top, "description", "the definition").map(|s| s.0).unwrap_or_default();
        let scope = self.scope(top);
        let land_definition = self.opt_string(top, "land_definition", "the definition");
        if let (Scope::Land, Some((_, span))) = (scope, &land_definition) {
            self.error(span.clone(), "a Land-level definition cannot name a `land_definition`");
        }

        let (phases, mut raw_steps) = self.phases(top, &whole, scope);

        let dep_spans = self.dependencies(&mut raw_steps, scope, land_definition.is_some());
        self.cycles(&raw_steps, &dep_spans);
        self.conditions(&mut raw_steps);

        let live_phase = self.live_phase(top, &phases);
        let retention = self.retention(top);
        let (id, version, title) = (id?, version?, title?);
        Some(Definition {
            id: id.0,
            version,
            title: title.0,
            description,
            scope,
            land_definition: land_definition.map(|l| l.0),
            phases,
            steps: raw_steps.into_iter().map(|r| r.step).collect(),
            live_phase,
            retention,
            content_hash: String::new(),
        })
    }

    /// `version`: a whole number from 1.
    fn version(&mut self, top: &dyn TableLike, whole: &Range<usize>) -> Option<u32> {
        match self.get(top, "version") {
            None => {
                self.error(whole.clone(), "the definition needs `version` (a whole number from 1)");
                None
            }
            Some((item, span)) => {
                match item.as_integer().and_then(|v| u32::try_from(v).ok()).filter(|v| *v >= 1) {
                    Some(v) => Some(v),
                    None => {
                        self.error(span, "`version` must be a whole number from 1");
                        None
                    }
                }
            }
        }
    }

    /// `scope`: `authority` (the default) or `land`.
    fn scope(&mut self, top: &dyn TableLike) -> Scope {
        match self.opt_string(top, "scope", "the definition") {
            None => Scope::Authority,
            Some((s, _)) if s == "authority" => Scope::Authority,
            Some((s, _)) if s == "land" => Scope::Land,
            Some((s, span)) => {
                self.error(span, format!("unknown scope `{s}`; it is `authority` or `land`"));
                Scope::Authority
            }
        }
    }

    /// The phases and their steps (each step lowered, not yet resolved).
    fn phases(
        &mut self,
        top: &dyn TableLike,
        whole: &Range<usize>,
        scope: Scope,
    ) -> (Vec<Phase>, Vec<RawStep>) {
        let phase_tables = self.tables(top, "phases", "the definition");
        if top.get("phases").is_none() {
            self.error(whole.clone(), "the definition has no phases ([[phases]])");
        }
        if phase_tables.len() > PHASES_MAX {
            self.error(
                phase_tables[PHASES_MAX].1.clone(),
                format!("a definition has at most {PHASES_MAX} phases"),
            );
        }
        let mut phases = Vec::new();
        let mut raw_steps: Vec<RawStep> = Vec::new();
        let mut phase_ids: HashMap<String, Range<usize>> = HashMap::new();
        for (phase_table, phase_span) in phase_tables.into_iter().take(PHASES_MAX) {
            let what = "a phase";
            self.unknown_keys(phase_table, PHASE_KEYS, what);
            let pid = self.id(phase_table, what, &phase_span);
            if let Some((pid, span)) = &pid {
                if phase_ids.insert(pid.clone(), span.clone()).is_some() {
                    self.error(span.clone(), format!("phase id `{pid}` is used twice"));
                }
            }
            let ptitle =
                self.string(phase_table, "title", what, &phase_span).map(|s| s.0).unwrap_or_default();
            let pdesc = self.opt_string(phase_table, "description", what).map(|s| s.0).unwrap_or_default();
            let phase_index = phases.len();
            let start = raw_steps.len();
            let step_tables = self.tables(phase_table, "steps", what);
            if step_tables.is_empty() {
                let name = pid.as_ref().map(|p| p.0.clone()).unwrap_or_default();
                self.error(phase_span.clone(), format!("phase `{name}` has no steps ([[phases.steps]])"));
            }
            for (step_table, step_span) in step_tables {
                if raw_steps.len() >= STEPS_MAX {
                    self.error(step_span, format!("a definition has at most {STEPS_MAX} steps"));
                    break;
                }
                if let Some(raw) = self.step(step_table, step_span, phase_index, scope) {
                    raw_steps.push(raw);
                }
            }
            phases.push(Phase {
                id: pid.map(|p| p.0).unwrap_or_default(),
                title: ptitle,
                description: pdesc,
                steps: start..raw_steps.len(),
            });
        }

        (phases, raw_steps)
    }

    /// Step ids unique across the definition, and every `depends_on` resolved (a `land:` one
    /// needs a `land_definition`); the span of each dependency, for the cycle check.
    fn dependencies(
        &mut self,
        raw_steps: &mut [RawStep],
        scope: Scope,
        has_land_definition: bool,
    ) -> Vec<HashMap<usize, Range<usize>>> {
        // Step ids are unique across the definition.
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, raw) in raw_steps.iter().enumerate() {
            if index.contains_key(&raw.step.id) {
                self.error(raw.id_span.clone(), format!("step id `{}` is used twice", raw.step.id));
            } else {
                index.insert(raw.step.id.clone(), i);
            }
        }
        // Resolve dependencies.
        let mut dep_spans: Vec<HashMap<usize, Range<usize>>> = vec![HashMap::new(); raw_steps.len()];
        for i in 0..raw_steps.len() {
            let deps = std::mem::take(&mut raw_steps[i].deps);
            for (dep, span) in deps {
                if let Some(land_step) = dep.strip_prefix("land:") {
                    if scope == Scope::Land {
                        self.error(span, "a Land-level definition cannot depend on `land:` steps");
                    } else if !has_land_definition {
                        self.error(span, format!("`{dep}` needs `land_definition` at the top of the file"));
                    } else {
                        raw_steps[i].step.land_depends_on.push(land_step.to_owned());
                    }
                    continue;
                }
                match index.get(&dep) {
                    None => {
                        let hint = index
                            .keys()
                            .find(|k| edit_distance(k, &dep) <= 2)
                            .map(|k| format!("; did you mean `{k}`?"))
                            .unwrap_or_default();
                        self.error(
                            span,
                            format!("step `{}` depends on unknown step `{dep}`{hint}", raw_steps[i].step.id),
                        );
                    }
                    Some(&j) => {
                        if raw_steps[j].step.phase > raw_steps[i].step.phase {
                            self.error(
                                span.clone(),
                                format!(
                                    "step `{}` depends on `{dep}` of a later phase; dependencies point to the same or an earlier phase",
                                    raw_steps[i].step.id
                                ),
                            );
                        }
                        if !raw_steps[i].step.depends_on.contains(&j) {
                            raw_steps[i].step.depends_on.push(j);
                            dep_spans[i].insert(j, span);
                        }
                    }
                }
            }
        }
        dep_spans
    }

    /// `live_after`: the phase after which a rollout is live (default: the last).
    fn live_phase(&mut self, top: &dyn TableLike, phases: &[Phase]) -> usize {
        match self.opt_string(top, "live_after", "the definition") {
            None => phases.len().saturating_sub(1),
            Some((name, span)) => match phases.iter().position(|p| p.id == name) {
                Some(i) => i,
                None => {
                    self.error(span, format!("`live_after` names unknown phase `{name}`"));
                    0
                }
            },
        }
    }

    /// `retention`: how long after its rollouts ended the persons a definition names are kept.
    fn retention(&mut self, top: &dyn TableLike) -> Option<crate::duration::Period> {
        self.opt_string(top, "retention", "the definition").and_then(|(text, span)| {
            match text.parse::<crate::duration::Period>() {
                Ok(period) => Some(period),
                Err(why) => {
                    self.error(span, why);
                    None
                }
            }
        })
    }

    /// A step's roles, each known and listed once.
    fn roles(&mut self, t: &dyn TableLike, what: &str) -> Vec<Role> {
        let mut roles = Vec::new();
        for (name, span) in self.string_list(t, "roles", what) {
            match Role::from_name(&name) {
                Some(r) if !roles.contains(&r) => roles.push(r),
                Some(_) => self.error(span, format!("role `{name}` is listed twice")),
                None => {
                    self.error(span, format!("unknown role `{name}`; roles are {}", Role::NAMES.join(", ")))
                }
            }
        }
        roles
    }

    /// A step's evidence fields (at most [`FIELDS_PER_STEP_MAX`]).
    fn evidence(&mut self, t: &dyn TableLike, what: &str) -> Vec<Field> {
        let mut evidence = Vec::new();
        let mut field_ids = HashSet::new();
        let field_tables = self.tables(t, "evidence", what);
        if field_tables.len() > FIELDS_PER_STEP_MAX {
            self.error(
                field_tables[FIELDS_PER_STEP_MAX].1.clone(),
                format!("a step has at most {FIELDS_PER_STEP_MAX} evidence fields"),
            );
        }
        for (ft, fspan) in field_tables.into_iter().take(FIELDS_PER_STEP_MAX) {
            evidence.extend(self.field(ft, fspan, &mut field_ids));
        }
        evidence
    }

    /// One evidence field of a step (its id unique among `field_ids`).
    fn field(
        &mut self,
        ft: &dyn TableLike,
        fspan: Range<usize>,
        field_ids: &mut HashSet<String>,
    ) -> Option<Field> {
        let fwhat = "an evidence field";
        self.unknown_keys(ft, FIELD_KEYS, fwhat);
        let fid = self.id(ft, fwhat, &fspan);
        if let Some((fid, span)) = &fid {
            if !field_ids.insert(fid.clone()) {
                self.error(span.clone(), format!("evidence field id `{fid}` is used twice in this step"));
            }
        }
        let label = self.string(ft, "label", fwhat, &fspan).map(|s| s.0).unwrap_or_default();
        let required = match self.get(ft, "required") {
            None => true,
            Some(_) => self.opt_bool(ft, "required", fwhat),
        };
        let values: Vec<(String, Range<usize>)> = self.string_list(ft, "values", fwhat);
        let labels: Vec<(String, Range<usize>)> = self.string_list(ft, "labels", fwhat);
        if !labels.is_empty() && labels.len() != values.len() {
            self.error(
                labels[0].1.clone(),
                format!(
                    "`labels` names {} values, `values` has {}: one label per value",
                    labels.len(),
                    values.len()
                ),
            );
        }
        let ty = self.string(ft, "type", fwhat, &fspan).and_then(|(name, span)| {
            let ty = FieldType::from_name(&name, values.iter().map(|v| v.0.clone()).collect());
            match &ty {
                None => self.error(
                    span,
                    format!("unknown field type `{name}`; types are {}", FieldType::NAMES.join(", ")),
                ),
                Some(FieldType::Enumeration(v)) if v.is_empty() => {
                    self.error(span, "an `enum` field needs `values = [...]`")
                }
                Some(other) if !matches!(other, FieldType::Enumeration(_)) && !values.is_empty() => self
                    .error(
                        values[0].1.clone(),
                        format!("`values` only go with `type = \"enum\"`, not `{name}`"),
                    ),
                _ => {}
            }
            ty
        });
        let (fid, ty) = (fid?, ty?);
        let value_labels = labels.into_iter().map(|l| l.0).collect();
        Some(Field { id: fid.0, label, ty, required, value_labels })
    }

    fn step(&mut self, t: &dyn TableLike, at: Range<usize>, phase: usize, scope: Scope) -> Option<RawStep> {
        let what = "a step";
        self.unknown_keys(t, STEP_KEYS, what);
        let id = self.id(t, what, &at);
        let title = self.string(t, "title", what, &at).map(|s| s.0).unwrap_or_default();
        let description = self.opt_string(t, "description", what).map(|s| s.0).unwrap_or_default();
        let roles = self.roles(t, what);
        let automatable = self.opt_bool(t, "automatable", what);
        if roles.is_empty() && !automatable {
            let span = self.get(t, "roles").map(|(_, s)| s).unwrap_or(at.clone());
            self.error(span, "no one may complete this step: give it `roles` or make it `automatable`");
        }
        if scope == Scope::Land && roles.contains(&Role::AuthorityStaff) {
            let span = self.get(t, "roles").map(|(_, s)| s).unwrap_or(at.clone());
            self.error(span, "a Land-level step cannot be completed by `authority-staff`");
        }
        let deps = self.string_list(t, "depends_on", what);
        if deps.len() > DEPENDENCIES_PER_STEP_MAX {
            self.error(
                deps[DEPENDENCIES_PER_STEP_MAX].1.clone(),
                format!("a step has at most {DEPENDENCIES_PER_STEP_MAX} dependencies"),
            );
        }
        let condition_src = self.opt_string(t, "condition", what);
        let deadline = self.opt_string(t, "deadline", what).and_then(|(s, span)| match Deadline::parse(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span, e);
                None
            }
        });
        let skippable = self.opt_bool(t, "skippable", what);
        let four_eyes = self.opt_bool(t, "four_eyes", what);
        let evidence = self.evidence(t, what);
        let (id, id_span) = id?;
        Some(RawStep {
            step: Step {
                id,
                phase,
                title,
                description,
                roles,
                evidence,
                depends_on: Vec::new(),
                land_depends_on: Vec::new(),
                condition: None,
                skippable,
                deadline,
                automatable,
                four_eyes,
            },
            id_span,
            deps,
            condition: condition_src,
        })
    }
}

/// Where the text of a string value starts in the file, when the file holds it verbatim
/// (no escapes): after one quote, or after three for a multi-line string.
pub(crate) fn content_offset(source: &str, text: &str, span: &Range<usize>) -> Option<usize> {
    let raw = source.get(span.clone())?;
    let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") { 3 } else { 1 };
    let inner = raw.get(quote..raw.len().checked_sub(quote)?)?;
    (inner == text).then_some(span.start + quote)
}

/// Levenshtein distance, for "did you mean" hints (short names only).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}
