//! Collectors over fast fields: facet counts in one pass over all matches, and the sort key.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use snodo_model::{Kind, Status};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex, ColumnValues, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::packed;
use crate::search::Sort;

/// Counts of every facet value over all matching documents.
#[derive(Debug, Default)]
pub struct FacetCounts {
    pub total: u64,
    pub kind: BTreeMap<String, u64>,
    pub source: BTreeMap<String, u64>,
    pub region: BTreeMap<String, u64>,
    pub status: BTreeMap<String, u64>,
    pub method: BTreeMap<String, u64>,
    pub topic: BTreeMap<String, u64>,
    pub province: BTreeMap<String, u64>,
    pub comune: BTreeMap<String, u64>,
}

impl FacetCounts {
    fn merge(&mut self, other: FacetCounts) {
        self.total += other.total;
        for (mine, theirs) in [
            (&mut self.kind, other.kind),
            (&mut self.source, other.source),
            (&mut self.region, other.region),
            (&mut self.status, other.status),
            (&mut self.method, other.method),
            (&mut self.topic, other.topic),
            (&mut self.province, other.province),
            (&mut self.comune, other.comune),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_default() += v;
            }
        }
    }
}

/// Facet collector: kind, region and status from the packed `facets` column (status against
/// `today`), source from the ordinals of its string column. Values are read in batches of
/// [`BATCH`] matches, which lets the column decoders work without a dynamic call per value.
pub struct Facets<'a> {
    pub today: i64,
    /// Also count by province and comune (two more columns read per match).
    pub places: bool,
    pub(crate) columns: &'a ColumnCache,
}

/// Matches buffered before their columns are read.
const BATCH: usize = 128;

/// A string column and a counter per term ordinal.
struct OrdCounts {
    column: Option<StrColumn>,
    names: Arc<[String]>,
    /// The ordinals when every document has exactly one (read in batches).
    dense: Option<Arc<dyn ColumnValues<u64>>>,
    counts: Vec<u64>,
}

impl OrdCounts {
    fn new(column: &OrdColumn) -> Self {
        let n = column.column.as_ref().map_or(0, |c| c.num_terms());
        OrdCounts {
            column: column.column.clone(),
            names: column.names.clone(),
            dense: column.dense.clone(),
            counts: vec![0; n],
        }
    }

    fn count(&mut self, ord: u64) {
        if let Some(n) = usize::try_from(ord)
            .ok()
            .and_then(|i| self.counts.get_mut(i))
        {
            *n += 1;
        }
    }

    /// Every facet field holds at most one value per document, so the first ordinal is the only
    /// one.
    fn collect(&mut self, doc: DocId) {
        if let Some(ord) = self.column.as_ref().and_then(|c| c.ords().first(doc)) {
            self.count(ord);
        }
    }

    fn collect_batch(&mut self, docs: &[DocId], scratch: &mut [u64]) {
        match self.dense.clone() {
            Some(values) => {
                let out = &mut scratch[..docs.len()];
                values.get_vals(docs, out);
                for &ord in out.iter() {
                    self.count(ord);
                }
            }
            None => {
                for &doc in docs {
                    self.collect(doc);
                }
            }
        }
    }

    fn harvest(self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (ord, n) in self.counts.into_iter().enumerate() {
            if let (true, Some(name)) = (n > 0, self.names.get(ord)) {
                *out.entry(name.clone()).or_default() += n;
            }
        }
        out
    }
}

/// The values of a column in which every document has exactly one, without the per-read
/// detour through its index.
fn dense(column: &Column<u64>) -> Option<Arc<dyn ColumnValues<u64>>> {
    matches!(column.index, ColumnIndex::Full).then(|| column.values.clone())
}

/// The packed `facets` column of a segment (every document has a value).
fn packed_column(reader: &SegmentReader) -> Arc<dyn ColumnValues<u64>> {
    u64_column(reader, "facets")
}

/// A `u64` column every document has a value in.
fn u64_column(reader: &SegmentReader, field: &str) -> Arc<dyn ColumnValues<u64>> {
    match reader.fast_fields().u64(field) {
        Ok(c) => dense(&c).unwrap_or_else(|| c.first_or_default_col(0)),
        Err(e) => {
            tracing::warn!(field, error = %e, "fast field missing in a segment; using a default");
            Column::build_empty_column(reader.max_doc()).first_or_default_col(0)
        }
    }
}

/// A string column with its ordinals read directly when every document has one.
#[derive(Clone)]
struct OrdColumn {
    column: Option<StrColumn>,
    dense: Option<Arc<dyn ColumnValues<u64>>>,
    /// Every term, by ordinal: looking one up in the column's dictionary decodes a block of it,
    /// for every value counted in every segment of every search.
    names: Arc<[String]>,
}

impl OrdColumn {
    fn open(reader: &SegmentReader, field: &str) -> tantivy::Result<Self> {
        let column = reader.fast_fields().str(field)?;
        let dense = column.as_ref().and_then(|c| dense(c.ords()));
        let mut names = Vec::new();
        if let Some(c) = &column {
            let mut terms = c.dictionary().stream()?;
            while terms.advance() {
                names.push(String::from_utf8_lossy(terms.key()).into_owned());
            }
        }
        Ok(OrdColumn {
            column,
            dense,
            names: names.into(),
        })
    }
}

/// The fast-field columns searches read in one segment, opened once. Opening a column decodes
/// its header and block table: at a million records in 15 segments, opening the eleven columns
/// of every segment was most of the time of a search that matches little (0.24 ms of a query
/// with no match).
pub(crate) struct SegmentColumns {
    packed: Arc<dyn ColumnValues<u64>>,
    themes: Arc<dyn ColumnValues<u64>>,
    tie: Arc<dyn ColumnValues<u64>>,
    start: Arc<dyn ColumnValues<i64>>,
    newest: Arc<dyn ColumnValues<i64>>,
    end: Arc<dyn ColumnValues<i64>>,
    source: OrdColumn,
    region: OrdColumn,
    province: OrdColumn,
    comune: OrdColumn,
}

impl SegmentColumns {
    fn open(reader: &SegmentReader) -> tantivy::Result<SegmentColumns> {
        Ok(SegmentColumns {
            packed: packed_column(reader),
            themes: u64_column(reader, "themes"),
            tie: match reader.fast_fields().u64("tie") {
                Ok(c) => c.first_or_default_col(0),
                Err(_) => Column::build_empty_column(reader.max_doc()).first_or_default_col(0),
            },
            start: column_or(reader, "start_day", i64::MIN),
            newest: column_or(reader, "newest_day", i64::MIN),
            end: column_or(reader, "end_day", i64::MAX),
            source: OrdColumn::open(reader, "source")?,
            region: OrdColumn::open(reader, "region")?,
            province: OrdColumn::open(reader, "province")?,
            comune: OrdColumn::open(reader, "comune")?,
        })
    }
}

/// [`SegmentColumns`] by segment. A segment never changes (deletes do not touch its columns),
/// so an entry stays valid for as long as the segment exists; [`ColumnCache::retain`] drops the
/// segments merged away.
#[derive(Default)]
pub(crate) struct ColumnCache(Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>);

impl ColumnCache {
    fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentColumns>> {
        let id = reader.segment_id();
        if let Some(c) = self.lock().get(&id) {
            return Ok(c.clone());
        }
        let columns = Arc::new(SegmentColumns::open(reader)?);
        self.lock().insert(id, columns.clone());
        Ok(columns)
    }

    /// Keeps only the segments `searcher` has, once more are held than it has.
    pub(crate) fn retain(&self, searcher: &tantivy::Searcher) {
        let readers = searcher.segment_readers();
        let mut map = self.lock();
        if map.len() > readers.len() {
            let live: HashSet<SegmentId> = readers.iter().map(|r| r.segment_id()).collect();
            map.retain(|id, _| live.contains(id));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentColumns>>> {
        // A panic while holding the lock cannot leave the map half-updated: recover it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub struct FacetsSegment {
    today: u64,
    total: u64,
    packed: Arc<dyn ColumnValues<u64>>,
    themes: Arc<dyn ColumnValues<u64>>,
    source: OrdCounts,
    /// Only read for a region that is not an ISTAT code.
    region_other: OrdCounts,
    /// Province and comune, when asked for.
    places: Option<(OrdCounts, OrdCounts)>,
    kind: [u64; 16],
    region: [u64; 32],
    status: [u64; 3],
    method: [u64; 6],
    topic: [u64; 13],
    docs: Vec<DocId>,
    scratch: Vec<u64>,
}

impl FacetsSegment {
    fn flush(&mut self) {
        if self.docs.is_empty() {
            return;
        }
        let n = self.docs.len();
        let vals = &mut self.scratch[..n];
        self.packed.get_vals(&self.docs, vals);
        for (i, &v) in vals.iter().enumerate() {
            self.kind[packed::kind_index(v)] += 1;
            let r = packed::region(v);
            self.region[usize::from(r)] += 1;
            if r == packed::REGION_OTHER {
                self.region_other.collect(self.docs[i]);
            }
            let st = match packed::status(v, self.today) {
                Status::Upcoming => 0,
                Status::Open => 1,
                Status::Closed => 2,
            };
            self.status[st] += 1;
            let mut m = packed::methods(v);
            while m != 0 {
                self.method[m.trailing_zeros() as usize] += 1;
                m &= m - 1;
            }
        }
        self.themes.get_vals(&self.docs, vals);
        for &v in vals.iter() {
            let mut m = v & 0x1fff;
            while m != 0 {
                self.topic[m.trailing_zeros() as usize] += 1;
                m &= m - 1;
            }
        }
        self.source.collect_batch(&self.docs, &mut self.scratch);
        if let Some((province, comune)) = &mut self.places {
            for &doc in &self.docs {
                province.collect(doc);
                comune.collect(doc);
            }
        }
        self.total += n as u64;
        self.docs.clear();
    }
}

impl Collector for Facets<'_> {
    type Fruit = FacetCounts;
    type Child = FacetsSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetsSegment> {
        let columns = self.columns.get(reader)?;
        Ok(FacetsSegment {
            today: packed::day_offset(self.today),
            total: 0,
            packed: columns.packed.clone(),
            themes: columns.themes.clone(),
            source: OrdCounts::new(&columns.source),
            region_other: OrdCounts::new(&columns.region),
            places: self.places.then(|| {
                (
                    OrdCounts::new(&columns.province),
                    OrdCounts::new(&columns.comune),
                )
            }),
            kind: [0; 16],
            region: [0; 32],
            status: [0; 3],
            method: [0; 6],
            topic: [0; 13],
            docs: Vec::with_capacity(BATCH),
            scratch: vec![0; BATCH],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut all = FacetCounts::default();
        for f in fruits {
            all.merge(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for FacetsSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.docs.push(doc);
        if self.docs.len() == BATCH {
            self.flush();
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for chunk in docs.chunks(BATCH) {
            self.flush();
            self.docs.extend_from_slice(chunk);
            self.flush();
        }
    }

    fn harvest(mut self) -> FacetCounts {
        self.flush();
        let mut status = BTreeMap::new();
        for (st, n) in [Status::Upcoming, Status::Open, Status::Closed]
            .into_iter()
            .zip(self.status)
        {
            if n > 0 {
                status.insert(st.as_str().to_owned(), n);
            }
        }
        let mut kind = BTreeMap::new();
        for (k, n) in Kind::ALL.iter().zip(self.kind) {
            if n > 0 {
                kind.insert(k.as_str().to_owned(), n);
            }
        }
        let mut region = self.region_other.harvest();
        for (code, &n) in self.region.iter().enumerate().take(21).skip(1) {
            if n > 0 {
                *region.entry(packed::region_code(code as u8)).or_default() += n;
            }
        }
        let method = snodo_model::METHODS
            .iter()
            .zip(self.method)
            .filter(|(_, n)| *n > 0)
            .map(|(m, n)| ((*m).to_owned(), n))
            .collect();
        let topic = snodo_model::topics::THEMES
            .iter()
            .zip(self.topic)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| (t.code.to_owned(), n))
            .collect();
        let (province, comune) = match self.places {
            Some((p, c)) => (p.harvest(), c.harvest()),
            None => Default::default(),
        };
        FacetCounts {
            method,
            topic,
            province,
            comune,
            total: self.total,
            kind,
            source: self.source.harvest(),
            region,
            status,
        }
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
/// - relevance: score, then newest; without words, [`TopKSegment::timely`];
/// - newest: the later of start date and publication date, then score;
/// - closing: end date ascending (no end date last), then score.
pub struct TopK<'a> {
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
    /// Relevance of a text search is multiplied by the status boost (see [`status_boost`]), as
    /// of this day; `None` ranks by text alone.
    pub boost_today: Option<i64>,
    /// With relevance order and no words there is no relevance: what one can take part in comes
    /// first, as of this day (see [`TopKSegment::timely`]).
    pub timely_today: Option<i64>,
    pub(crate) columns: &'a ColumnCache,
}

/// The largest [`status_boost`].
const MAX_BOOST: f64 = 1.15;

/// What a citizen can take part in now comes first among equally good matches, and soon after
/// that; a small boost, not a filter, so that a better match that is closed still wins. (At a
/// million records, 1.4 for open put 4 of the 45 labelled queries' records out of the top 3;
/// 1.15 puts 2 out, see BENCHMARKS.md.)
pub fn status_boost(status: Status) -> f64 {
    match status {
        Status::Open => MAX_BOOST,
        Status::Upcoming => 1.05,
        Status::Closed => 1.0,
    }
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
    /// Today as a [`packed::day_offset`], when relevance is boosted by status.
    boost_today: Option<u64>,
    /// Today as a [`packed::day_offset`], for the order of a search without words.
    timely_today: Option<u64>,
    packed: Arc<dyn ColumnValues<u64>>,
    start: Arc<dyn ColumnValues<i64>>,
    newest: Arc<dyn ColumnValues<i64>>,
    end: Arc<dyn ColumnValues<i64>>,
    tie: Arc<dyn ColumnValues<u64>>,
    heap: std::collections::BinaryHeap<Entry>,
}

impl TopKSegment {
    /// An upper bound of [`Self::primary`] that reads no column when it can.
    fn primary_bound(&self, doc: DocId, score: f64) -> f64 {
        match (self.sort, self.boost_today) {
            (Sort::Relevance, Some(_)) => score * MAX_BOOST,
            _ => self.primary(doc, score),
        }
    }

    /// The key of a search without words: open records first, closing soonest (no end date
    /// last); then upcoming ones, starting soonest; then closed ones, most recent first.
    fn timely(&self, doc: DocId, today: u64) -> (f64, f64) {
        match packed::status(self.packed.get_val(doc), today) {
            Status::Open => (3.0, -(self.end.get_val(doc) as f64)),
            Status::Upcoming => (2.0, -(self.start.get_val(doc) as f64)),
            Status::Closed => (1.0, self.newest.get_val(doc) as f64),
        }
    }

    fn primary(&self, doc: DocId, score: f64) -> f64 {
        if let (Sort::Relevance, Some(today)) = (self.sort, self.timely_today) {
            return self.timely(doc, today).0;
        }
        match self.sort {
            Sort::Relevance => match self.boost_today {
                Some(today) => {
                    score * status_boost(packed::status(self.packed.get_val(doc), today))
                }
                None => score,
            },
            Sort::Newest => self.newest.get_val(doc) as f64,
            // Negated so that the earliest end is the greatest key; `i64::MAX` (no end) becomes
            // the smallest and sorts last.
            Sort::Closing => -(self.end.get_val(doc) as f64),
        }
    }

    fn secondary(&self, doc: DocId, score: f64) -> f64 {
        if let (Sort::Relevance, Some(today)) = (self.sort, self.timely_today) {
            return self.timely(doc, today).1;
        }
        match self.sort {
            Sort::Relevance => self.newest.get_val(doc) as f64,
            Sort::Newest | Sort::Closing => score,
        }
    }
}

impl Collector for TopK<'_> {
    type Fruit = Vec<(SortKey, tantivy::DocAddress)>;
    type Child = TopKSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopKSegment> {
        let columns = self.columns.get(reader)?;
        Ok(TopKSegment {
            sort: self.sort,
            k: self.offset.saturating_add(self.limit),
            segment,
            boost_today: self.boost_today.map(packed::day_offset),
            timely_today: self.timely_today.map(packed::day_offset),
            packed: columns.packed.clone(),
            start: columns.start.clone(),
            newest: columns.newest.clone(),
            end: columns.end.clone(),
            tie: columns.tie.clone(),
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
        let full = self.heap.len() >= self.k;
        let worst = if full {
            self.heap.peek().map(|w| w.key.primary)
        } else {
            None
        };
        if worst.is_some_and(|w| self.primary_bound(doc, score) < w) {
            return;
        }
        let primary = self.primary(doc, score);
        if worst.is_some_and(|w| primary < w) {
            return;
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
