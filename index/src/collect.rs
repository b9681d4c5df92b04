//! Collectors over fast fields: facet counts in one pass over all matches, and the sort key.

use std::collections::BTreeMap;
use std::sync::Arc;

use snodo_model::Status;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnValues, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use crate::search::Sort;

/// Status from the day fast fields; the sentinels make this equal to [`Status::from_dates`]:
/// a missing start (`i64::MIN`) is never after today, a missing end (`i64::MAX`) never before.
pub fn status_of(start: i64, end: i64, today: i64) -> Status {
    if start > today {
        Status::Upcoming
    } else if end < today {
        Status::Closed
    } else {
        Status::Open
    }
}

/// Counts of every facet value over all matching documents.
#[derive(Debug, Default)]
pub struct FacetCounts {
    pub total: u64,
    pub kind: BTreeMap<String, u64>,
    pub source: BTreeMap<String, u64>,
    pub region: BTreeMap<String, u64>,
    pub status: BTreeMap<String, u64>,
}

impl FacetCounts {
    fn merge(&mut self, other: FacetCounts) {
        self.total += other.total;
        for (mine, theirs) in [
            (&mut self.kind, other.kind),
            (&mut self.source, other.source),
            (&mut self.region, other.region),
            (&mut self.status, other.status),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_default() += v;
            }
        }
    }
}

/// Facet collector: term ordinals of the `kind`, `source` and `region` string columns, and the
/// status computed from the `start_day` / `end_day` columns against `today`.
pub struct Facets {
    pub today: i64,
}

/// A string column and a counter per term ordinal.
struct OrdCounts {
    column: Option<StrColumn>,
    counts: Vec<u64>,
}

impl OrdCounts {
    fn open(reader: &SegmentReader, field: &str) -> tantivy::Result<Self> {
        let column = reader.fast_fields().str(field)?;
        let n = column.as_ref().map_or(0, |c| c.num_terms());
        Ok(OrdCounts {
            column,
            counts: vec![0; n],
        })
    }

    /// Every facet field holds at most one value per document (kind, source, region), so the
    /// first ordinal is the only one: reading it directly avoids the multi-value row-range lookup.
    fn collect(&mut self, doc: DocId) {
        if let Some(c) = &self.column {
            if let Some(ord) = c.ords().first(doc) {
                if let Some(n) = usize::try_from(ord)
                    .ok()
                    .and_then(|i| self.counts.get_mut(i))
                {
                    *n += 1;
                }
            }
        }
    }

    fn harvest(self) -> std::io::Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        let Some(column) = self.column else {
            return Ok(out);
        };
        let mut s = String::new();
        for (ord, n) in self.counts.into_iter().enumerate() {
            if n > 0 {
                s.clear();
                if column.ord_to_str(ord as u64, &mut s)? {
                    *out.entry(s.clone()).or_default() += n;
                }
            }
        }
        Ok(out)
    }
}

pub struct FacetsSegment {
    today: i64,
    total: u64,
    kind: OrdCounts,
    source: OrdCounts,
    region: OrdCounts,
    /// Every document has both (missing dates are stored as sentinels), so the dense values are
    /// read directly.
    start: Arc<dyn ColumnValues<i64>>,
    end: Arc<dyn ColumnValues<i64>>,
    status: [u64; 3],
}

impl Collector for Facets {
    type Fruit = FacetCounts;
    type Child = FacetsSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetsSegment> {
        Ok(FacetsSegment {
            today: self.today,
            total: 0,
            kind: OrdCounts::open(reader, "kind")?,
            source: OrdCounts::open(reader, "source")?,
            region: OrdCounts::open(reader, "region")?,
            start: column_or(reader, "start_day", i64::MIN),
            end: column_or(reader, "end_day", i64::MAX),
            status: [0; 3],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<std::io::Result<FacetCounts>>,
    ) -> tantivy::Result<FacetCounts> {
        let mut all = FacetCounts::default();
        for f in fruits {
            all.merge(f.map_err(|e| TantivyError::IoError(Arc::new(e)))?);
        }
        Ok(all)
    }
}

impl SegmentCollector for FacetsSegment {
    type Fruit = std::io::Result<FacetCounts>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        self.kind.collect(doc);
        self.source.collect(doc);
        self.region.collect(doc);
        let start = self.start.get_val(doc);
        let end = self.end.get_val(doc);
        let i = match status_of(start, end, self.today) {
            Status::Upcoming => 0,
            Status::Open => 1,
            Status::Closed => 2,
        };
        self.status[i] += 1;
    }

    fn harvest(self) -> std::io::Result<FacetCounts> {
        let mut status = BTreeMap::new();
        for (st, n) in [Status::Upcoming, Status::Open, Status::Closed]
            .into_iter()
            .zip(self.status)
        {
            if n > 0 {
                status.insert(st.as_str().to_owned(), n);
            }
        }
        Ok(FacetCounts {
            total: self.total,
            kind: self.kind.harvest()?,
            source: self.source.harvest()?,
            region: self.region.harvest()?,
            status,
        })
    }
}

/// The sort key of a hit: compared field by field, greater first.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct SortKey {
    pub primary: f64,
    pub secondary: f64,
    /// Hash of the id: equal keys sort the same way in any index.
    pub tie: u64,
}

fn column_or(reader: &SegmentReader, field: &str, default: i64) -> Arc<dyn ColumnValues<i64>> {
    match reader.fast_fields().i64(field) {
        Ok(c) => c.first_or_default_col(default),
        Err(e) => {
            tracing::warn!(field, error = %e, "fast field missing in a segment; using a default");
            Column::build_empty_column(reader.max_doc()).first_or_default_col(default)
        }
    }
}

/// The best `offset + limit` hits by [`SortKey`], then the page `offset..offset + limit`.
///
/// Replaces `TopDocs::tweak_score`, which computes the whole key (three fast-field reads) for
/// every match: here the primary key is computed first, and a match whose primary key is below
/// the current `k`-th best is dropped before the other columns are read. With relevance order
/// that is most matches of a common word, which are scored but never read from any column.
///
/// - relevance: score, then newest;
/// - newest: the later of start date and publication date, then score;
/// - closing: end date ascending (no end date last), then score.
pub struct TopK {
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
}

/// A hit in a segment's heap: ordered by key, then by the lower doc id (like tantivy's TopDocs).
#[derive(Clone, Copy)]
struct Entry {
    key: SortKey,
    doc: DocId,
}

impl Entry {
    fn cmp_key(&self, other: &Entry) -> std::cmp::Ordering {
        self.key
            .primary
            .total_cmp(&other.key.primary)
            .then(self.key.secondary.total_cmp(&other.key.secondary))
            .then(self.key.tie.cmp(&other.key.tie))
            .then(other.doc.cmp(&self.doc))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_key(other).is_eq()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) keeps the worst hit on top.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.cmp_key(self)
    }
}

pub struct TopKSegment {
    sort: Sort,
    k: usize,
    segment: SegmentOrdinal,
    newest: Arc<dyn ColumnValues<i64>>,
    end: Arc<dyn ColumnValues<i64>>,
    tie: Arc<dyn ColumnValues<u64>>,
    heap: std::collections::BinaryHeap<Entry>,
}

impl TopKSegment {
    fn primary(&self, doc: DocId, score: f64) -> f64 {
        match self.sort {
            Sort::Relevance => score,
            Sort::Newest => self.newest.get_val(doc) as f64,
            // Negated so that the earliest end is the greatest key; `i64::MAX` (no end) becomes
            // the smallest and sorts last.
            Sort::Closing => -(self.end.get_val(doc) as f64),
        }
    }

    fn secondary(&self, doc: DocId, score: f64) -> f64 {
        match self.sort {
            Sort::Relevance => self.newest.get_val(doc) as f64,
            Sort::Newest | Sort::Closing => score,
        }
    }
}

impl Collector for TopK {
    type Fruit = Vec<(SortKey, tantivy::DocAddress)>;
    type Child = TopKSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopKSegment> {
        let tie: Arc<dyn ColumnValues<u64>> = match reader.fast_fields().u64("tie") {
            Ok(c) => c.first_or_default_col(0),
            Err(_) => Column::build_empty_column(reader.max_doc()).first_or_default_col(0),
        };
        Ok(TopKSegment {
            sort: self.sort,
            k: self.offset.saturating_add(self.limit),
            segment,
            newest: column_or(reader, "newest_day", i64::MIN),
            end: column_or(reader, "end_day", i64::MAX),
            tie,
            heap: std::collections::BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(SortKey, tantivy::DocAddress)>>,
    ) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(SortKey, tantivy::DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| {
            b.0.primary
                .total_cmp(&a.0.primary)
                .then(b.0.secondary.total_cmp(&a.0.secondary))
                .then(b.0.tie.cmp(&a.0.tie))
                .then(a.1.cmp(&b.1))
        });
        Ok(all.into_iter().skip(self.offset).take(self.limit).collect())
    }
}

impl SegmentCollector for TopKSegment {
    type Fruit = Vec<(SortKey, tantivy::DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.k == 0 {
            return;
        }
        let score = f64::from(score);
        let primary = self.primary(doc, score);
        let full = self.heap.len() >= self.k;
        if full {
            if let Some(worst) = self.heap.peek() {
                if primary < worst.key.primary {
                    return;
                }
            }
        }
        let entry = Entry {
            key: SortKey {
                primary,
                secondary: self.secondary(doc, score),
                tie: self.tie.get_val(doc),
            },
            doc,
        };
        if !full {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry.cmp_key(&worst).is_gt() {
                *worst = entry;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let segment = self.segment;
        self.heap
            .into_iter()
            .map(|e| (e.key, tantivy::DocAddress::new(segment, e.doc)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::document::{day, end_day, start_day};

    #[test]
    fn status_of_matches_the_model_on_every_combination() {
        let today: NaiveDate = "2026-05-10".parse().unwrap();
        let days = [
            None,
            Some("2026-05-08"),
            Some("2026-05-09"),
            Some("2026-05-10"),
            Some("2026-05-11"),
            Some("2026-05-12"),
        ];
        for s in days {
            for e in days {
                let s = s.map(|d| d.parse::<NaiveDate>().unwrap());
                let e = e.map(|d| d.parse::<NaiveDate>().unwrap());
                assert_eq!(
                    status_of(start_day(s), end_day(e), day(today)),
                    Status::from_dates(s, e, today),
                    "start {s:?} end {e:?}"
                );
            }
        }
    }
}
