//! Variants: a definition that `extends = "<id>@<version>"` another.
//! - Top-level keys and a phase's keys given in the variant replace the base's.
//! - A step with a new id is added to its phase (a phase with a new id comes after the
//!   base's); a step with a base step's id changes that step: the keys it gives replace the
//!   base's (`evidence` replaces the whole list), `add_evidence = [...]` appends fields.
//! - `remove = ["step_id", "step_id.field_id", …]` removes base steps and evidence fields.
//!
//! The variant and its base are merged into one text (in the definition format), which is then
//! checked by [`parse`] like any file: validation sees the result. Every piece of the merged
//! text remembers where it came from, so each problem is reported at its position in the file
//! that caused it — the variant's, or the base's (`Diagnostic::origin`).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike};

use crate::definition::{item_span, parse, Definition, Diagnostic};

/// Top-level keys of a variant besides the definition's own.
pub const VARIANT_KEYS: &[&str] = &["extends", "remove"];

/// What a variant names as its base: `(id, version, span of the value in the variant)`.
pub fn extends_of(source: &str) -> Option<(String, u32, Range<usize>)> {
    let doc = ImDocument::parse(source).ok()?;
    let (_, item) = doc.as_table().get_key_value("extends")?;
    let span = item_span(item).unwrap_or(0..0);
    let text = item.as_str()?;
    let (id, version) = text.split_once('@')?;
    Some((id.to_owned(), version.parse().ok()?, span))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    Variant,
    Base,
}

/// The merged text, and for each piece of it the file and offset it was copied from.
struct Merged<'a> {
    text: String,
    pieces: Vec<(Range<usize>, From, usize)>,
    sources: [&'a str; 2],
}

impl<'a> Merged<'a> {
    fn source(&self, from: From) -> &'a str {
        self.sources[from as usize]
    }

    /// Copies `range` of `from`'s text.
    fn copy(&mut self, from: From, range: Range<usize>) {
        let start = self.text.len();
        self.text.push_str(&self.source(from)[range.clone()]);
        self.pieces.push((start..self.text.len(), from, range.start));
        self.text.push('\n');
    }

    /// Writes `text` of our own (a table header), reported at `at` of `from`.
    fn write(&mut self, text: &str, from: From, at: usize) {
        let start = self.text.len();
        self.text.push_str(text);
        self.pieces.push((start..self.text.len(), from, at));
        self.text.push('\n');
    }

    /// Every key of `table` but `skip`, each as its exact text (`key = value`).
    fn keys(&mut self, from: From, table: &dyn TableLike, skip: &[&str]) {
        for (key, item) in table.iter() {
            if skip.contains(&key) {
                continue;
            }
            let Some((k, _)) = table.get_key_value(key) else { continue };
            if let (Some(ks), Some(vs)) = (k.span(), item_span(item)) {
                self.copy(from, ks.start..vs.end);
            }
        }
    }

    /// Where a position of the merged text came from.
    fn locate(&self, at: usize) -> (From, usize) {
        let i = self.pieces.partition_point(|(r, _, _)| r.end < at).min(self.pieces.len().saturating_sub(1));
        match self.pieces.get(i) {
            Some((r, from, start)) => (*from, start + at.saturating_sub(r.start).min(r.len())),
            None => (From::Variant, 0),
        }
    }
}

type Tables<'t> = Vec<&'t dyn TableLike>;

/// Writes one step: the base's (`base`), the variant's (`variant`), or the base's changed by
/// the variant's keys; `add_evidence` appends fields, `removed` (`step.field`) drops some.
fn step(
    m: &mut Merged<'_>,
    base: Option<&dyn TableLike>,
    variant: Option<&dyn TableLike>,
    removed: &HashSet<String>,
) {
    let (header_from, header_table) = match (variant, base) {
        (Some(v), _) => (From::Variant, v),
        (None, Some(b)) => (From::Base, b),
        (None, None) => return,
    };
    m.write("[[phases.steps]]", header_from, id_at(header_table, 0));
    let given: Vec<&str> = variant.map(|v| v.iter().map(|(k, _)| k).collect()).unwrap_or_default();
    if let Some(v) = variant {
        m.keys(From::Variant, v, &["evidence", "add_evidence"]);
    }
    if let Some(b) = base {
        let mut skip = vec!["evidence"];
        skip.extend(given.iter().copied());
        m.keys(From::Base, b, &skip);
    }
    // The evidence list: the variant's, or the base's without the removed fields; then the
    // added fields.
    let id = id_of(header_table).unwrap_or("");
    let (list_from, list) = match (
        variant.and_then(|v| v.get_key_value("evidence")),
        base.and_then(|b| b.get_key_value("evidence")),
    ) {
        (Some(v), _) => (From::Variant, Some(v)),
        (None, Some(b)) => (From::Base, Some(b)),
        (None, None) => (From::Variant, None),
    };
    let added = variant.and_then(|v| v.get("add_evidence")).and_then(Item::as_array);
    let filtering = list_from == From::Base && removed.iter().any(|r| r.starts_with(&format!("{id}.")));
    match (list, added) {
        (Some((k, item)), None) if !filtering => {
            if let (Some(ks), Some(vs)) = (k.span(), item_span(item)) {
                m.copy(list_from, ks.start..vs.end);
            }
        }
        (list, added) => {
            let at = list.and_then(|(k, _)| k.span()).map_or(id_at(header_table, 0), |s| s.start);
            m.write("evidence = [", list_from, at);
            if let Some(array) = list.and_then(|(_, item)| item.as_array()) {
                for field in array.iter() {
                    let field_id = field
                        .as_inline_table()
                        .and_then(|t| t.get("id"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("");
                    if list_from == From::Base && removed.contains(&format!("{id}.{field_id}")) {
                        continue;
                    }
                    if let Some(span) = field.span() {
                        m.copy(list_from, span);
                        m.write(",", list_from, at);
                    }
                }
            }
            for field in added.into_iter().flat_map(|a| a.iter()) {
                if let Some(span) = field.span() {
                    m.copy(From::Variant, span);
                    m.write(",", From::Variant, at);
                }
            }
            m.write("]", list_from, at);
        }
    }
}

fn tables<'t>(table: &'t dyn TableLike, key: &str) -> Tables<'t> {
    match table.get(key) {
        Some(Item::ArrayOfTables(a)) => a.iter().map(|t| t as &dyn TableLike).collect(),
        Some(Item::Value(toml_edit::Value::Array(a))) => {
            a.iter().filter_map(|v| v.as_inline_table()).map(|t| t as &dyn TableLike).collect()
        }
        _ => Vec::new(),
    }
}

fn id_of(table: &dyn TableLike) -> Option<&str> {
    table.get("id").and_then(Item::as_str)
}

/// The position of `table`'s `id` (or `fallback`): where a table we write is reported.
fn id_at(table: &dyn TableLike, fallback: usize) -> usize {
    table.get_key_value("id").and_then(|(k, _)| k.span()).map_or(fallback, |s| s.start)
}

fn at(span: Option<Range<usize>>) -> Range<usize> {
    span.unwrap_or(0..0)
}

/// The steps and fields `remove` names (`step` or `step.field`), each one of the base's; what
/// is wrong with it goes to `problems`.
fn removals(
    v: &dyn TableLike,
    base_step_tables: &HashMap<&str, &dyn TableLike>,
    base_ref: &str,
    problems: &mut Vec<Diagnostic>,
) -> (HashSet<String>, HashSet<String>) {
    let diag = |span: Range<usize>, message: String| Diagnostic { span, message, origin: None };
    let mut removed: HashSet<String> = HashSet::new();
    let mut removed_fields: HashSet<String> = HashSet::new();
    let Some((_, item)) = v.get_key_value("remove") else { return (removed, removed_fields) };
    match item.as_array() {
        None => problems.push(diag(at(item_span(item)), "`remove` must be a list of step ids".into())),
        Some(list) => {
            for value in list.iter() {
                let field = value.as_str().and_then(|t| t.split_once('.'));
                if let Some((step, field)) = field {
                    let known = base_step_tables
                        .get(step)
                        .and_then(|s| s.get("evidence"))
                        .and_then(Item::as_array)
                        .is_some_and(|a| {
                            a.iter().any(|f| {
                                f.as_inline_table().and_then(|t| t.get("id")).and_then(|v| v.as_str())
                                    == Some(field)
                            })
                        });
                    if known {
                        removed_fields.insert(format!("{step}.{field}"));
                    } else {
                        problems.push(diag(
                            at(value.span()),
                            format!("`remove` names field `{field}` of step `{step}`, which {base_ref} does not have"),
                        ));
                    }
                    continue;
                }
                match value.as_str() {
                    Some(id) if base_step_tables.contains_key(id) => {
                        removed.insert(id.to_owned());
                    }
                    Some(id) => problems.push(diag(
                        at(value.span()),
                        format!("`remove` names `{id}`, which {base_ref} has no step of"),
                    )),
                    None => problems.push(diag(at(value.span()), "`remove` holds step ids (text)".into())),
                }
            }
        }
    }
    (removed, removed_fields)
}

/// What a variant's merge works from: the two documents' top tables, the variant's phases (and
/// by id), the steps it replaces, and what it removes.
struct Parts<'d> {
    v: &'d dyn TableLike,
    b: &'d dyn TableLike,
    v_phases: &'d [&'d dyn TableLike],
    v_phase_by_id: &'d HashMap<&'d str, &'d dyn TableLike>,
    replacing: &'d HashMap<&'d str, &'d dyn TableLike>,
    removed: &'d HashSet<String>,
    removed_fields: &'d HashSet<String>,
}

/// The merged text: the variant's top-level keys, then the base's it does not override; the
/// base's phases with the variant's changes; the variant's own phases after them.
fn merge<'s>(sources: [&'s str; 2], p: &Parts<'_>) -> Merged<'s> {
    let mut m = Merged { text: String::new(), pieces: Vec::new(), sources };
    // Top-level keys: the variant's first (its id and version), then the base's it does not
    // override.
    m.keys(From::Variant, p.v, &["phases", "extends", "remove"]);
    let overridden: Vec<&str> = p.v.iter().map(|(k, _)| k).collect();
    let mut skip = vec!["phases", "id", "version"];
    skip.extend(overridden.iter().copied());
    m.keys(From::Base, p.b, &skip);
    for bp in tables(p.b, "phases") {
        let vp = id_of(bp).and_then(|id| p.v_phase_by_id.get(id).copied());
        m.write("[[phases]]", From::Base, id_at(bp, 0));
        match vp {
            Some(vp) => {
                let own: Vec<&str> = vp.iter().map(|(k, _)| k).filter(|k| *k != "steps").collect();
                m.keys(From::Variant, vp, &["steps"]);
                let mut skip = vec!["steps"];
                skip.extend(own);
                m.keys(From::Base, bp, &skip);
            }
            None => m.keys(From::Base, bp, &["steps"]),
        }
        for bs in tables(bp, "steps") {
            let id = id_of(bs).unwrap_or("");
            if p.removed.contains(id) {
                continue;
            }
            step(&mut m, Some(bs), p.replacing.get(id).copied(), p.removed_fields);
        }
        if let Some(vp) = vp {
            for vs in tables(vp, "steps")
                .into_iter()
                .filter(|s| !id_of(*s).is_some_and(|id| p.replacing.contains_key(id)))
            {
                step(&mut m, None, Some(vs), p.removed_fields);
            }
        }
    }
    // The variant's own phases, after the base's.
    let base_phase_ids: HashSet<&str> = tables(p.b, "phases").into_iter().filter_map(id_of).collect();
    for vp in p.v_phases.iter().filter(|p| !id_of(**p).is_some_and(|id| base_phase_ids.contains(id))) {
        m.write("[[phases]]", From::Variant, id_at(*vp, 0));
        m.keys(From::Variant, *vp, &["steps"]);
        for vs in tables(*vp, "steps")
            .into_iter()
            .filter(|s| !id_of(*s).is_some_and(|id| p.replacing.contains_key(id)))
        {
            step(&mut m, None, Some(vs), p.removed_fields);
        }
    }
    m
}

/// The merged text parsed; a problem is reported in the file its text came from, at its place.
fn relocated(m: &Merged<'_>, variant: &str, base_ref: &str) -> Result<Definition, Vec<Diagnostic>> {
    match parse(m.text.as_bytes()) {
        Ok(mut d) => {
            d.content_hash = blake3::hash(variant.as_bytes()).to_hex().to_string();
            Ok(d)
        }
        Err(diags) => Err(diags
            .into_iter()
            .map(|d| {
                let (from, start) = m.locate(d.span.start);
                let len = d.span.len().min(m.source(from).len().saturating_sub(start));
                Diagnostic {
                    span: start..start + len,
                    message: d.message,
                    origin: (from == From::Base).then(|| base_ref.to_owned()),
                }
            })
            .collect()),
    }
}

/// Checks a variant against its base (`base_ref` is `id@version`, `base` its text). On
/// success the definition's `content_hash` is the hash of the variant's own text.
pub fn parse_variant(variant: &str, base_ref: &str, base: &str) -> Result<Definition, Vec<Diagnostic>> {
    let diag = |span: Range<usize>, message: String| Diagnostic { span, message, origin: None };
    let v_doc = match ImDocument::parse(variant) {
        Ok(d) => d,
        // The plain parser says what is wrong with the text, at its position.
        Err(_) => return parse(variant.as_bytes()),
    };
    let b_doc = match ImDocument::parse(base) {
        Ok(d) => d,
        Err(e) => {
            return Err(vec![Diagnostic {
                span: at(e.span()),
                message: format!("the base is not valid TOML: {}", e.message().trim()),
                origin: Some(base_ref.to_owned()),
            }])
        }
    };
    let (v, b) = (v_doc.as_table(), b_doc.as_table());
    let mut problems = Vec::new();

    // Steps and fields to remove: each must be one of the base's.
    let base_step_tables: HashMap<&str, &dyn TableLike> = tables(b, "phases")
        .into_iter()
        .flat_map(|p| tables(p, "steps"))
        .filter_map(|s| Some((id_of(s)?, s)))
        .collect();
    let base_steps: HashSet<&str> = base_step_tables.keys().copied().collect();
    let (removed, removed_fields) = removals(v, &base_step_tables, base_ref, &mut problems);
    // The variant's phases by id, and its steps by id (a step replaces the base's step of that
    // id wherever it is).
    let v_phases = tables(v, "phases");
    let v_phase_by_id: HashMap<&str, &dyn TableLike> =
        v_phases.iter().filter_map(|p| Some((id_of(*p)?, *p))).collect();
    let mut replacing: HashMap<&str, &dyn TableLike> = HashMap::new();
    for p in &v_phases {
        for s in tables(*p, "steps") {
            if let Some(id) = id_of(s).filter(|id| base_steps.contains(id)) {
                if removed.contains(id) {
                    let span = s.get_key_value("id").and_then(|(k, _)| k.span());
                    problems.push(diag(at(span), format!("step `{id}` is both removed and replaced")));
                }
                replacing.insert(id, s);
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let parts = Parts {
        v,
        b,
        v_phases: &v_phases,
        v_phase_by_id: &v_phase_by_id,
        replacing: &replacing,
        removed: &removed,
        removed_fields: &removed_fields,
    };
    let m = merge([variant, base], &parts);
    relocated(&m, variant, base_ref)
}
