//! Parsed GraphQL documents, kept by their text.
//!
//! Clients send the same few documents again and again with other variables (the dashboard's
//! queries, an automation's `completeStep`); parsing one took an eighth of the server's CPU
//! under load (BENCHMARKS.md, issue 18). So the parsed form of each short document is kept and
//! handed to the schema as the request's parsed query; the schema still checks its depth,
//! validates it against the variables and the schema, and the extensions see it as before. A
//! document that does not parse is not kept: the schema parses it again and reports the error.
//!
//! Bounded: at most [`ENTRIES_MAX`] documents of at most [`TEXT_BYTES_MAX`] bytes each (a
//! longer one is parsed every time); when full, an entry is dropped for the new one. Memory:
//! a parsed document takes roughly ten times its text, so at most a few tens of MiB even if
//! every entry were as long as allowed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most.
pub const ENTRIES_MAX: usize = 256;

/// The longest document kept, in bytes (GraphiQL's introspection query is about 2 KiB).
pub const TEXT_BYTES_MAX: usize = 8 * 1024;

/// The parsed documents of one server.
#[derive(Debug, Default)]
pub struct Documents {
    entries: Mutex<HashMap<Box<str>, Arc<ExecutableDocument>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What `/metrics` shows of the documents kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

impl Documents {
    /// `query` parsed: from the cache, or parsed now and kept. `None` if it does not parse.
    pub fn parse(&self, query: &str) -> Option<ExecutableDocument> {
        if query.len() > TEXT_BYTES_MAX {
            // Not here, on the runtime's worker: the schema parses it after the alias count,
            // off the workers, one at a time (`server::execute`).
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let kept = self.lock().get(query).cloned();
        if let Some(document) = kept {
            self.hits.fetch_add(1, Ordering::Relaxed);
            // The copy is made outside the lock; the schema consumes its own.
            return Some(ExecutableDocument::clone(&document));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let document = async_graphql::parser::parse_query(query).ok()?;
        let mut entries = self.lock();
        if entries.len() >= ENTRIES_MAX {
            if let Some(any) = entries.keys().next().cloned() {
                entries.remove(&any);
            }
        }
        entries.insert(query.into(), Arc::new(document.clone()));
        Some(document)
    }

    pub fn stats(&self) -> DocumentStats {
        DocumentStats {
            entries: self.lock().len(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<ExecutableDocument>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_given_out_as_parsed() {
        let documents = Documents::default();
        let query = "query($id: ID!) { rollout(id: $id) { version } }";
        let first = documents.parse(query).expect("parses");
        let second = documents.parse(query).expect("parses");
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        let s = documents.stats();
        assert_eq!((s.entries, s.hits, s.misses), (1, 1, 1));
    }

    #[test]
    fn a_document_that_does_not_parse_is_not_kept() {
        let documents = Documents::default();
        assert!(documents.parse("{ rollout(id: ").is_none());
        assert!(documents.parse("{ rollout(id: ").is_none());
        let s = documents.stats();
        assert_eq!((s.entries, s.hits, s.misses), (0, 0, 2));
    }

    #[test]
    fn the_cache_stays_within_its_bounds() {
        let documents = Documents::default();
        for i in 0..ENTRIES_MAX + 10 {
            documents.parse(&format!("{{ a{i}: __typename }}")).expect("parses");
        }
        assert_eq!(documents.stats().entries, ENTRIES_MAX);
        // At the limit a document is kept; one byte beyond it, not.
        let at_limit = format!("{{ {:<width$}}}", "__typename", width = TEXT_BYTES_MAX - 3);
        assert_eq!(at_limit.len(), TEXT_BYTES_MAX);
        let before = documents.stats();
        documents.parse(&at_limit).expect("parses");
        documents.parse(&at_limit).expect("parses");
        assert_eq!(documents.stats().hits, before.hits + 1, "a document of {TEXT_BYTES_MAX} bytes is kept");
        let long = format!("{{ {:<width$}}}", "__typename", width = TEXT_BYTES_MAX - 2);
        assert!(long.len() > TEXT_BYTES_MAX);
        // A long document is neither kept nor parsed here (the schema parses it, off the workers).
        assert!(documents.parse(&long).is_none());
        assert!(documents.parse(&long).is_none());
        let s = documents.stats();
        assert_eq!(s.entries, ENTRIES_MAX, "a long document is not kept");
        assert_eq!((s.hits, s.misses), (1, ENTRIES_MAX as u64 + 13));
    }
}
