//! The checks of a lowered definition that need all its steps: conditions read only evidence
//! recorded before they are decided, and no step waits for itself.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::condition::Condition;
use crate::evidence::FieldType;
use crate::lowering::{content_offset, transitive_dependencies, Lowering, RawStep};

impl Lowering<'_> {
    /// Checks every step's condition, knowing the evidence facts of all steps
    /// (`evidence.<step>.<field>`). A condition may read the evidence of a step it waits for
    /// (directly or through others) only: that evidence is recorded before it is decided.
    pub(crate) fn conditions(&mut self, steps: &mut [RawStep]) {
        use crate::condition::{EvidenceFact, Type};
        let facts: Vec<EvidenceFact> = steps
            .iter()
            .flat_map(|r| {
                r.step.evidence.iter().map(move |f| {
                    let (ty, values) = match &f.ty {
                        FieldType::Enumeration(v) => (Type::Text, v.clone()),
                        FieldType::Boolean => (Type::Bool, Vec::new()),
                        FieldType::Number => (Type::Number, Vec::new()),
                        _ => (Type::Text, Vec::new()),
                    };
                    EvidenceFact { name: format!("evidence.{}.{}", r.step.id, f.id), ty, values }
                })
            })
            .collect();
        for i in 0..steps.len() {
            let Some((src, span)) = steps[i].condition.take() else { continue };
            // Positions inside the condition map onto the file when the string has no escapes.
            let offset = content_offset(self.source, &src, &span);
            let c = match Condition::parse_with(&src, &facts) {
                Ok(c) => c,
                Err(e) => {
                    let at = match offset {
                        Some(o) => o + e.at.start..o + e.at.end,
                        None => span,
                    };
                    self.error(at, format!("in the condition: {}", e.message));
                    continue;
                }
            };
            if c.constant() == Some(false) {
                self.error(span.clone(), "the condition is always false: the step would never apply");
            }
            let waits_for = transitive_dependencies(steps, i);
            for read in c.evidence_steps() {
                let known = steps.iter().position(|r| r.step.id == read);
                if !known.is_some_and(|j| waits_for.contains(&j)) {
                    self.error(
                        span.clone(),
                        format!(
                            "the condition reads the evidence of `{read}`, which step `{}` does not wait for; add it to `depends_on`",
                            steps[i].step.id
                        ),
                    );
                }
            }
            steps[i].step.condition = Some(c);
        }
    }

    /// Names every dependency cycle once, and every step that waits on one.
    pub(crate) fn cycles(&mut self, steps: &[RawStep], dep_spans: &[HashMap<usize, Range<usize>>]) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            i: usize,
            steps: &[RawStep],
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
            cycles: &mut Vec<Vec<usize>>,
        ) {
            marks[i] = Mark::Active;
            stack.push(i);
            for &j in &steps[i].step.depends_on {
                match marks[j] {
                    Mark::New => visit(j, steps, marks, stack, cycles),
                    Mark::Active => {
                        let from = stack.iter().position(|&s| s == j).unwrap_or(0);
                        cycles.push(stack[from..].to_vec());
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks[i] = Mark::Done;
        }
        let mut marks = vec![Mark::New; steps.len()];
        let mut cycles = Vec::new();
        for i in 0..steps.len() {
            if marks[i] == Mark::New {
                visit(i, steps, &mut marks, &mut Vec::new(), &mut cycles);
            }
        }
        let mut in_cycle = vec![false; steps.len()];
        for cycle in &cycles {
            let names: Vec<&str> = cycle.iter().map(|&i| steps[i].step.id.as_str()).collect();
            let first = cycle[0];
            let last = cycle[cycle.len() - 1];
            let span = dep_spans[last].get(&first).cloned().unwrap_or(steps[first].id_span.clone());
            self.error(span, format!("dependency cycle: {} → {}", names.join(" → "), names[0]));
            for &i in cycle {
                in_cycle[i] = true;
            }
        }
        // Steps that wait on a cycle can never become ready.
        let mut blocked: BTreeMap<usize, ()> = BTreeMap::new();
        let mut changed = true;
        while changed {
            changed = false;
            for (i, raw) in steps.iter().enumerate() {
                if in_cycle[i] || blocked.contains_key(&i) {
                    continue;
                }
                if raw.step.depends_on.iter().any(|&j| in_cycle[j] || blocked.contains_key(&j)) {
                    blocked.insert(i, ());
                    changed = true;
                }
            }
        }
        for &i in blocked.keys() {
            self.error(
                steps[i].id_span.clone(),
                format!("step `{}` is unreachable: it waits on a dependency cycle", steps[i].step.id),
            );
        }
    }
}
