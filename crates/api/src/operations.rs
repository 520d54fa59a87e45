//! What every GraphQL request is, seen once per request: how deep its document nests (the
//! depth limit, with room for the standard introspection query) and which root fields it names
//! (the labels of `rollout_mutations_total{name}` and `rollout_graphql_errors_total{code,operation}`).
//!
//! Depth: a field without a selection counts 1, a field with one 1 more than its deepest child;
//! fragments count where they are spread. Ordinary documents may nest [`DEPTH_MAX`] levels. A
//! document whose every root field is `__schema` or `__type` may nest [`INTROSPECTION_DEPTH_MAX`]:
//! graphql-js's `getIntrospectionQuery()` (sent by GraphiQL, graphql-codegen, Apollo tooling,
//! Postman, Insomnia, Altair) nests `ofType` nine times in its `TypeRef` fragment, 15 levels in
//! all; a deeper introspection document (a 60-level `__schema` nesting) is still refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Value, Variables};

use crate::limits::{ALIASES_MAX, DEPTH_MAX, INTROSPECTION_DEPTH_MAX, QUERY_TIME_MAX};
use crate::state::ApiState;

/// The schema extension.
pub(crate) struct Operations;

impl ExtensionFactory for Operations {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest::default())
    }
}

#[derive(Default)]
struct PerRequest {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// The first operation's type and root field names, once parsed.
    kind: Option<OperationType>,
    roots: Vec<String>,
    /// The document passed validation (its root fields are fields of the schema).
    validated: bool,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> async_graphql::Response {
        let response = next.run(ctx).await;
        if let Some(state) = ctx.data_opt::<ApiState>() {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            // Only validated names become labels: a client cannot invent new series.
            let operation = match (seen.validated, seen.roots.first()) {
                (true, Some(root)) => root.as_str(),
                _ => "invalid",
            };
            if seen.validated && seen.kind == Some(OperationType::Mutation) {
                for root in &seen.roots {
                    state.metrics.mutation(root);
                }
            }
            for error in &response.errors {
                let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
                    Some(Value::String(code)) => code.as_str(),
                    _ if !seen.validated => "BAD_USER_INPUT",
                    _ => "INTERNAL",
                };
                state.metrics.graphql_error(code, operation);
            }
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(refused) = too_many_aliases(query) {
            return Err(refused);
        }
        let document = next.run(ctx, query, variables).await?;
        if let Some(problem) = hidden_text(&document, variables) {
            let mut error = ServerError::new(problem, None);
            let mut ext = ErrorExtensionValues::default();
            ext.set("code", "BAD_USER_INPUT");
            error.extensions = Some(ext);
            return Err(error);
        }
        let mut depths = Depths { document: &document, fragments: HashMap::new() };
        for (_, operation) in document.operations.iter() {
            let set = &operation.node.selection_set.node;
            let introspection = !set.items.is_empty()
                && set.items.iter().all(|s| {
                    matches!(&s.node, Selection::Field(f) if matches!(f.node.name.node.as_str(), "__schema" | "__type"))
                });
            let max = if introspection { INTROSPECTION_DEPTH_MAX } else { DEPTH_MAX };
            let depth = depths.of(set, 0);
            if depth > max {
                let mut error = ServerError::new(
                    format!("Die Anfrage ist zu tief verschachtelt: {depth} Ebenen, höchstens {max}"),
                    Some(operation.pos),
                );
                let mut ext = ErrorExtensionValues::default();
                ext.set("code", "LIMIT_EXCEEDED");
                error.extensions = Some(ext);
                return Err(error);
            }
        }
        if let Some((_, first)) = document.operations.iter().next() {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.kind = Some(first.node.ty);
            seen.roots = first
                .node
                .selection_set
                .node
                .items
                .iter()
                .filter_map(|s| match &s.node {
                    Selection::Field(f) => Some(f.node.name.node.to_string()),
                    _ => None,
                })
                .collect();
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let kind = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.validated = true;
            seen.kind
        };
        if let Some(executed) = ctx.data_opt::<Executed>() {
            executed.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if kind == Some(OperationType::Mutation) {
            let writes = self.seen.lock().unwrap_or_else(|p| p.into_inner()).roots.len();
            if let (Some(caller), Some(state)) = (ctx.data_opt::<crate::Caller>(), ctx.data_opt::<ApiState>())
            {
                if let Err(refused) = state.writes.take(caller, writes, std::time::Instant::now()) {
                    state.metrics.write_refused(refused.limit.name());
                    let mut error = ServerError::new(refused.message, None);
                    let mut ext = ErrorExtensionValues::default();
                    ext.set("code", "LIMIT_EXCEEDED");
                    ext.set("limit", refused.limit.name());
                    ext.set("retryAfterSeconds", refused.retry_after_seconds.min(86_400));
                    error.extensions = Some(ext);
                    return async_graphql::Response::from_errors(vec![error]);
                }
            }
        }
        if kind != Some(OperationType::Query) {
            // A mutation runs to its end: cut short, its change might be stored unanswered.
            return next.run(ctx, operation_name).await;
        }
        match tokio::time::timeout(QUERY_TIME_MAX, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                let mut error = ServerError::new(
                    format!(
                        "Die Anfrage hat ihr Zeitbudget von {} s überschritten und wurde abgebrochen; fragen Sie weniger auf einmal (kleinere Seiten, weniger Aliasse, kein asOf).",
                        QUERY_TIME_MAX.as_secs()
                    ),
                    None,
                );
                let mut ext = ErrorExtensionValues::default();
                ext.set("code", "LIMIT_EXCEEDED");
                ext.set("limit", "QUERY_TIME_MAX");
                error.extensions = Some(ext);
                async_graphql::Response::from_errors(vec![error])
            }
        }
    }
}

/// The refusal of a document with more than [`ALIASES_MAX`] aliases (the HTTP path asks before
/// anything else; WebSockets through [`Extension::parse_query`]).
pub(crate) fn too_many_aliases(query: &str) -> Option<ServerError> {
    let aliases = aliases_in(query);
    if aliases <= ALIASES_MAX {
        return None;
    }
    let mut error = ServerError::new(
        format!("Die Anfrage hat {aliases} Aliasse, höchstens {ALIASES_MAX} sind erlaubt; fragen Sie weniger auf einmal."),
        None,
    );
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", "LIMIT_EXCEEDED");
    ext.set("limit", "ALIASES_MAX");
    error.extensions = Some(ext);
    Some(error)
}

/// The aliases of a GraphQL document, counted in its text: colons outside strings, comments and
/// parentheses (argument lists and variable definitions are in parentheses; object values in
/// braces inside them). A scan of the bytes, no parse.
fn aliases_in(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut i, mut parens, mut count) = (0, 0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' => parens += 1,
            b')' => parens = parens.saturating_sub(1),
            b':' if parens == 0 => count += 1,
            _ => {}
        }
        i += 1;
    }
    count
}

/// The first text value of the request (a variable, or an argument written into the document)
/// that holds a character no text input may hold (`vocab::text`), as a German error naming
/// where: so no control, direction or invisible character is stored by any mutation, and none
/// reaches a download, a page or a log.
fn hidden_text(document: &ExecutableDocument, variables: &Variables) -> Option<String> {
    fn in_const(value: &async_graphql::Value, path: &str) -> Option<String> {
        match value {
            async_graphql::Value::String(text) => vocab::text::problem(text, &format!("`{path}`")),
            async_graphql::Value::List(items) => {
                items.iter().enumerate().find_map(|(i, v)| in_const(v, &format!("{path}[{i}]")))
            }
            async_graphql::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                let p = format!("{path}.{k}");
                vocab::text::problem(k, &format!("`{p}` (der Name)")).or_else(|| in_const(v, &p))
            }),
            _ => None,
        }
    }
    fn in_set(set: &SelectionSet) -> Option<String> {
        set.items.iter().find_map(|item| match &item.node {
            Selection::Field(f) => f
                .node
                .arguments
                .iter()
                .find_map(|(name, value)| {
                    // Variables in it are checked as variables; the rest as written.
                    let written = value
                        .node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(async_graphql::Value::Null))
                        .ok()?;
                    in_const(&written, &format!("{}.{}", f.node.name.node, name.node))
                })
                .or_else(|| in_set(&f.node.selection_set.node)),
            Selection::InlineFragment(i) => in_set(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => None,
        })
    }
    variables
        .iter()
        .find_map(|(name, value)| in_const(value, &format!("${name}")))
        .or_else(|| document.operations.iter().find_map(|(_, o)| in_set(&o.node.selection_set.node)))
        .or_else(|| document.fragments.values().find_map(|f| in_set(&f.node.selection_set.node)))
}

/// Depth of selection sets, each fragment's computed once (a fragment spread inside itself,
/// which validation refuses later, counts as deep as the limit allows and no further).
struct Depths<'a> {
    document: &'a ExecutableDocument,
    /// `None` while being computed.
    fragments: HashMap<&'a str, Option<usize>>,
}

impl<'a> Depths<'a> {
    fn of(&mut self, set: &'a SelectionSet, guard: usize) -> usize {
        if guard > INTROSPECTION_DEPTH_MAX * 4 {
            return guard;
        }
        let mut deepest = 0;
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(f) => {
                    let children = &f.node.selection_set.node;
                    1 + if children.items.is_empty() { 0 } else { self.of(children, guard + 1) }
                }
                Selection::InlineFragment(i) => self.of(&i.node.selection_set.node, guard),
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    match self.fragments.get(name) {
                        Some(Some(d)) => *d,
                        Some(None) => INTROSPECTION_DEPTH_MAX + 1,
                        None => match self.document.fragments.get(&s.node.fragment_name.node) {
                            Some(fragment) => {
                                self.fragments.insert(name, None);
                                let d = self.of(&fragment.node.selection_set.node, guard);
                                self.fragments.insert(name, Some(d));
                                d
                            }
                            None => 0, // an unknown fragment: validation names it
                        },
                    }
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }
}

/// Whether execution began (set by the operations extension): an answer with errors and no
/// execution is a request error (the document or its variables were refused).
#[derive(Clone, Default)]
pub(crate) struct Executed(pub(crate) std::sync::Arc<std::sync::atomic::AtomicBool>);

#[cfg(test)]
mod tests {
    use super::aliases_in;

    #[test]
    fn aliases_are_counted_outside_strings_comments_and_arguments() {
        assert_eq!(aliases_in("{ me { role } }"), 0);
        assert_eq!(aliases_in("query($a: String, $b: Int) { r: rollout(id: \"x:y\") { s: status } }"), 2);
        assert_eq!(aliases_in("{ a: me { role } # b: c\n d: head { position } }"), 2);
        assert_eq!(aliases_in(r#"{ x(input: { a: "b: c", d: \"\"\"e: \\\"\"\" f: g\"\"\" }) { id } }"#), 0);
        let flood = (0..500).map(|i| format!("a{i}: me {{ role }}")).collect::<Vec<_>>().join(" ");
        assert_eq!(aliases_in(&format!("{{ {flood} }}")), 500);
    }
}
