//! The network's search over recorded solutions: every `RolloutUnblocked` that says how a
//! blockage was solved, in a full-text index (tantivy, in memory, German: lower-cased, folded to
//! ASCII, Snowball-stemmed, so "Zertifikate" finds "Zertifikat"). The index is rebuildable from
//! the log: it is filled from the audit index's positions of `RolloutUnblocked` (no scan of the
//! log) and catches up with every search.

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{AsciiFoldingFilter, Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};
use tantivy::{doc, Index, IndexReader, IndexWriter, TantivyDocument, Term};
use tokio::sync::Mutex;
use workflow::RolloutEvent;

use projections::Projector;
use store::EventStore;

/// One recorded solution.
#[derive(Clone, Debug)]
pub struct Solved {
    pub position: u64,
    pub at: store::Timestamp,
    pub service_key: String,
    pub ars: String,
    pub solution: workflow::events::Solution,
}

struct Inner {
    index: Index,
    writer: IndexWriter,
    reader: IndexReader,
    text: Field,
    service: Field,
    step: Field,
    position: Field,
    /// Every solution, in log order.
    solved: Vec<Solved>,
    /// The last `RolloutUnblocked` position looked at.
    until: u64,
}

/// The solutions index (one per server).
pub struct Solutions(Mutex<Option<Inner>>);

impl std::fmt::Debug for Solutions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Solutions")
    }
}

impl Default for Solutions {
    fn default() -> Self {
        Solutions(Mutex::new(None))
    }
}

const ANALYZER: &str = "de";

fn open() -> tantivy::Result<Inner> {
    let mut schema = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = schema.add_text_field("text", TextOptions::default().set_indexing_options(indexing));
    let service = schema.add_text_field("service", STRING);
    let step = schema.add_text_field("step", STRING);
    let position = schema.add_u64_field("position", INDEXED | STORED | FAST);
    let index = Index::create_in_ram(schema.build());
    let german = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::German))
        .build();
    index.tokenizers().register(ANALYZER, german);
    let writer = index.writer_with_num_threads(1, 15_000_000)?;
    let reader = index.reader()?;
    Ok(Inner { index, writer, reader, text, service, step, position, solved: Vec::new(), until: 0 })
}

/// What a search asks for.
#[derive(Debug)]
pub struct Search<'a> {
    pub service_key: Option<&'a str>,
    pub step: Option<&'a str>,
    pub query: Option<&'a str>,
}

impl Solutions {
    /// The solutions matching `search`, best first (by relevance with a query, newest first
    /// without), `offset` on, at most `limit`; and whether more follow.
    pub async fn search(
        &self,
        projector: &Projector,
        store: &dyn EventStore,
        search: &Search<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Solved>, bool), String> {
        let mut guard = self.0.lock().await;
        if guard.is_none() {
            *guard = Some(open().map_err(|e| e.to_string())?);
        }
        let inner = guard.as_mut().ok_or("no index")?;
        catch_up(inner, projector, store).await?;
        let text = search.query.map(str::trim).filter(|q| !q.is_empty());
        let Some(text) = text else {
            let keep = |x: &&Solved| {
                search.service_key.is_none_or(|k| x.service_key == k)
                    && search.step.is_none_or(|st| x.solution.block.step.as_deref() == Some(st))
            };
            let all: Vec<Solved> =
                inner.solved.iter().rev().filter(keep).skip(offset).take(limit + 1).cloned().collect();
            let more = all.len() > limit;
            return Ok((all.into_iter().take(limit).collect(), more));
        };
        let parser = QueryParser::for_index(&inner.index, vec![inner.text]);
        let (parsed, _) = parser.parse_query_lenient(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, parsed)];
        for (field, value) in [(inner.service, search.service_key), (inner.step, search.step)] {
            if let Some(v) = value {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(Term::from_field_text(field, v), IndexRecordOption::Basic)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let searcher = inner.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit + 1).and_offset(offset).order_by_score())
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (_, address) in &top {
            let d: TantivyDocument = searcher.doc(*address).map_err(|e| e.to_string())?;
            let Some(p) = d.get_first(inner.position).and_then(|v| v.as_u64()) else { continue };
            if let Ok(i) = inner.solved.binary_search_by_key(&p, |x| x.position) {
                out.push(inner.solved[i].clone());
            }
        }
        let more = out.len() > limit;
        out.truncate(limit);
        Ok((out, more))
    }
}

/// Indexes the solutions recorded since the last look: the audit index names the positions.
async fn catch_up(inner: &mut Inner, projector: &Projector, store: &dyn EventStore) -> Result<(), String> {
    let filter = projections::AuditFilter {
        types: vec![vocab::names::ROLLOUT_UNBLOCKED.into()],
        ..Default::default()
    };
    let mut added = false;
    loop {
        let positions = projector.read(|m| m.audit(&filter, inner.until, 1_000));
        let Some(&last) = positions.last() else { break };
        let events = projections::events_at(store, &positions).await.map_err(|e| e.to_string())?;
        for e in events {
            let Some((service_key, ars)) = workflow::rollout::rollout_of_stream(&e.stream_id) else {
                continue;
            };
            let Ok(RolloutEvent::Unblocked { solution: Some(solution), .. }) =
                RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
            else {
                continue;
            };
            let body = format!(
                "{} {} {}",
                solution.text,
                solution.problem,
                solution.block.vendor.as_deref().unwrap_or("")
            );
            let mut document =
                doc!(inner.text => body, inner.service => service_key, inner.position => e.position);
            if let Some(step) = &solution.block.step {
                document.add_text(inner.step, step);
            }
            inner.writer.add_document(document).map_err(|e| e.to_string())?;
            inner.solved.push(Solved {
                position: e.position,
                at: e.recorded_at,
                service_key: service_key.to_owned(),
                ars: ars.to_owned(),
                solution,
            });
            added = true;
        }
        inner.until = last;
    }
    if added {
        inner.writer.commit().map_err(|e| e.to_string())?;
        inner.reader.reload().map_err(|e| e.to_string())?;
    }
    Ok(())
}
