//! The audit log's query: the positions of the events a filter selects, answered from the
//! audit index's position lists (a union of the named lists, intersected), never by scanning
//! the log.

use rustc_hash::FxHashMap;

use crate::model::*;
use crate::positions::PositionList;

/// The union of ascending position lists, ascending, each position once.
struct Union<'a> {
    lists: Vec<std::iter::Peekable<crate::positions::Iter<'a>>>,
    last: Option<u64>,
}

impl<'a> Union<'a> {
    fn new(lists: impl Iterator<Item = crate::positions::Iter<'a>>) -> Self {
        Union { lists: lists.map(Iterator::peekable).collect(), last: None }
    }
}

impl Iterator for Union<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            let (i, &p) = self
                .lists
                .iter_mut()
                .enumerate()
                .filter_map(|(i, l)| l.peek().map(|p| (i, p)))
                .min_by_key(|&(_, p)| *p)?;
            self.lists[i].next();
            if self.last != Some(p) {
                self.last = Some(p);
                return Some(p);
            }
        }
    }
}

static NO_POSITIONS: PositionList = PositionList::EMPTY;

/// The positions under `key`, when the filter names one (none stored: an empty list).
fn pick<'a>(map: &'a FxHashMap<String, PositionList>, key: &Option<String>) -> Option<&'a PositionList> {
    key.as_ref().map(|k| map.get(k).unwrap_or(&NO_POSITIONS))
}

impl ReadModel {
    /// Positions of the events matching `filter`, ascending, after position `after`, at most
    /// `limit`. Uses the narrowest index; never reads the log.
    pub fn audit(&self, filter: &AuditFilter, after: u64, limit: usize) -> Vec<u64> {
        let a = &self.audit;
        let lists: Vec<&PositionList> = [
            pick(&a.by_actor, &filter.actor),
            pick(&a.by_stream, &filter.stream),
            pick(&a.by_service, &filter.service),
            pick(&a.by_authority, &filter.authority),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Time range → position range (times ascend with positions).
        let first = filter.from.map_or(1, |t| a.times.count_below(t.unix_micros()) as u64 + 1);
        let last = filter.until.map_or(self.position, |t| a.times.count_at_most(t.unix_micros()) as u64);
        let start = first.max(after + 1);
        let types: Vec<&PositionList> =
            filter.types.iter().map(|t| a.by_type.get(t).unwrap_or(&NO_POSITIONS)).collect();
        // The candidates: the narrowest named list (the others, and the types, any of them, are
        // followed along with it, each only forwards); without one, the types' lists merged;
        // without types, every position.
        let driver = lists.iter().enumerate().min_by_key(|(_, l)| l.len()).map(|(i, _)| i);
        let others: Vec<&PositionList> =
            lists.iter().enumerate().filter(|&(j, _)| Some(j) != driver).map(|(_, &l)| l).collect();
        let (candidates, types): (Box<dyn Iterator<Item = u64>>, Vec<&PositionList>) = match driver {
            Some(i) => (Box::new(lists[i].iter_from(start)), types),
            None if !types.is_empty() => {
                (Box::new(Union::new(types.iter().map(|l| l.iter_from(start)))), Vec::new())
            }
            None => (Box::new(start..), Vec::new()),
        };
        let mut others: Vec<_> = others.iter().map(|l| l.iter_from(start).peekable()).collect();
        let mut types: Vec<_> = types.iter().map(|l| l.iter_from(start).peekable()).collect();
        let has = |it: &mut std::iter::Peekable<crate::positions::Iter<'_>>, p: u64| {
            while it.next_if(|&q| q < p).is_some() {}
            it.peek() == Some(&p)
        };
        let mut out = Vec::with_capacity(limit.min(1_000));
        for p in candidates {
            if p > last || out.len() == limit {
                break;
            }
            if others.iter_mut().all(|it| has(it, p))
                && (types.is_empty() || types.iter_mut().any(|it| has(it, p)))
            {
                out.push(p);
            }
        }
        out
    }
}
