//! Exclusions (`-word`, `-"a phrase"`, `NOT …`) that never seek a scorer backwards.
//!
//! Tantivy's exclusion asks its excluded scorer about each document the rest of the query
//! matches, though that scorer may already stand further on: on its own first match, or past a
//! document it was asked about. A phrase scorer asserts it is never sought backwards (tantivy
//! issue #2811): in a debug build `-"bilancio partecipativo"` panicked whenever a segment's
//! first record lacked the phrase. Release builds answer correctly, but a query must not depend
//! on the build. Each excluded query is therefore wrapped in [`Forward`], whose scorer answers
//! a backward seek from where it stands (nothing between the target and its current document
//! matches) and only ever seeks forwards. It reads a little more than the phrase's own lazy
//! check (a seek finds the next match), never more than the phrase searched alone.

use tantivy::query::{BooleanQuery, EnableScoring, Explanation, Occur, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// `query` with every excluded clause, at any depth, wrapped in [`Forward`].
pub(crate) fn forward_exclusions(query: Box<dyn Query>) -> Box<dyn Query> {
    let Some(boolean) = query.downcast_ref::<BooleanQuery>() else {
        return query;
    };
    let clauses = boolean
        .clauses()
        .iter()
        .map(|(occur, q)| {
            let q = forward_exclusions(q.box_clone());
            match occur {
                Occur::MustNot => (Occur::MustNot, Box::new(Forward(q)) as Box<dyn Query>),
                other => (*other, q),
            }
        })
        .collect();
    Box::new(BooleanQuery::with_minimum_required_clauses(
        clauses,
        boolean.get_minimum_number_should_match(),
    ))
}

/// A query whose scorers are only ever sought forwards (see the module's doc).
#[derive(Debug)]
pub(crate) struct Forward(Box<dyn Query>);

impl Clone for Forward {
    fn clone(&self) -> Self {
        Forward(self.0.box_clone())
    }
}

impl Query for Forward {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ForwardWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ForwardWeight(Box<dyn Weight>);

impl Weight for ForwardWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// Leaves `seek_danger` to the default, which asks `doc()` first and seeks only beyond it.
struct ForwardScorer(Box<dyn Scorer>);

impl DocSet for ForwardScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let doc = self.0.doc();
        if target <= doc {
            return doc;
        }
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for ForwardScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
