//! Workflow definitions: the file format (TOML), its lowering into a validated [`Definition`],
//! and diagnostics with their positions.
//!
//! Two layers, as in cargo's manifest handling: `toml_edit` gives the document with spans, and
//! [`parse`] (`lowering.rs`) walks it, collecting every problem (unknown keys, wrong types, bad
//! references, cycles, ...) instead of stopping at the first. What a checked definition is:
//! `shape.rs`. Reference: `workflows/README.md`.

use std::collections::HashMap;

pub(crate) use crate::lowering::item_span;
pub use crate::lowering::parse;
pub use crate::shape::*;

/// Checks the `land:` dependencies of authority-scope definitions against the Land-level
/// definitions among `all`. Returns (index into `all`, diagnostic) pairs.
pub fn check_land_references(all: &[(&Definition, &str)]) -> Vec<(usize, Diagnostic)> {
    let lands: HashMap<&str, &Definition> =
        all.iter().filter(|(d, _)| d.scope == Scope::Land).map(|(d, _)| (d.id.as_str(), *d)).collect();
    let mut out = Vec::new();
    for (i, (d, source)) in all.iter().enumerate() {
        let Some(land_id) = &d.land_definition else { continue };
        let Some(land) = lands.get(land_id.as_str()) else { continue };
        for step in &d.steps {
            for dep in &step.land_depends_on {
                if land.step_index(dep).is_none() {
                    let needle = format!("land:{dep}");
                    let at = source.find(&needle).unwrap_or(0);
                    out.push((
                        i,
                        Diagnostic {
                            origin: None,
                            span: at..at + needle.len(),
                            message: format!(
                                "step `{}` depends on `land:{dep}`, but `{land_id}` has no step `{dep}`",
                                step.id
                            ),
                        },
                    ));
                }
            }
        }
    }
    out
}
