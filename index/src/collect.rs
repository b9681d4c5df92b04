//! Collectors over fast fields: facet counts in one pass over all matches, and the sort key.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use snodo_model::{Kind, Status};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex, ColumnValues, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::packed;
use crate::query::Ranking;
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
/// `today`), source from the ordinals of its string column.
///
/// Matches are marked in a bitmap while the query runs and counted when the segment is done:
/// either the matches themselves, or — when they are most of the segment — the segment's
/// totals (counted once and kept, see [`Totals`]) minus the records that did not match. A
/// word found in 85 % of the records then costs the values of 15 % of them, read from the
/// segment's [`Decoded`] arrays. Counts stay exact.
pub struct Facets<'a> {
    pub today: i64,
    /// Also count by province and comune (two more columns read per match).
    pub places: bool,
    pub(crate) columns: &'a ColumnCache,
}

/// Values decoded from a column at a time.
const BATCH: usize = 128;

/// Where a document's facet values sit in [`Profile::code`]: kind in the lowest 4 bits, then
/// region (5 bits), status (2 bits), methods (6 bits).
const CODE_REGION_SHIFT: u32 = 4;
const CODE_STATUS_SHIFT: u32 = 9;
const CODE_METHOD_SHIFT: u32 = 11;

/// A status as [`Profile::code`] holds it (two bits).
fn status_code(status: Status) -> u32 {
    match status {
        Status::Upcoming => 0,
        Status::Open => 1,
        Status::Closed => 2,
    }
}

fn status_of_code(code: u32) -> Status {
    match code {
        0 => Status::Upcoming,
        1 => Status::Open,
        _ => Status::Closed,
    }
}

/// Bits of [`Profile::themes`]: one per national topic.
const THEME_BITS: u32 = 13;

/// No ordinal: the [`Profile::source`] of a document without a source, and the
/// [`Profile::region_other`] of one whose region is an ISTAT code (or none).
const NO_ORDINAL: u32 = u32::MAX;

/// Every document's facet values in one segment as of one day, read from its columns once.
/// Counting a match then reads plain arrays instead of decoding compressed columns: at a
/// million records the columns were half the time of a search for a word found in half of
/// them.
///
/// The values are kept once per distinct combination (a [`Profile`]), and each document holds
/// its profile's number: a source's records share their kind, region, methods and topics, so a
/// segment of half a million realistic records has about 2,200 profiles. A match is then
/// counted by one increment, and the profiles' counts are spread over the facets at the end
/// (four increments a match in three arrays, and a branch, were a seventh of the CPU of the
/// query mix). Four bytes a document, and 16 a profile.
struct Decoded {
    /// The day ([`packed::day_offset`]) the statuses are for.
    today: u64,
    profile: Vec<u32>,
    profiles: Vec<Profile>,
}

/// One combination of facet values (see [`Decoded`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Profile {
    /// Kind, region, status and methods, packed (see [`CODE_REGION_SHIFT`]).
    code: u32,
    /// Topic bits, [`snodo_model::topics::THEMES`] order.
    themes: u16,
    /// The source's ordinal in the segment's column, or [`NO_ORDINAL`].
    source: u32,
    /// The ordinal of a region that is not an ISTAT code, or [`NO_ORDINAL`].
    region_other: u32,
}

impl Profile {
    /// The kind's index in [`Kind::ALL`].
    fn kind(&self) -> usize {
        (self.code & 0xf) as usize
    }

    /// 0 for no region, 1–20 for an ISTAT region, [`packed::REGION_OTHER`] otherwise.
    fn region(&self) -> usize {
        ((self.code >> CODE_REGION_SHIFT) & 0x1f) as usize
    }

    /// The status that day (see [`status_code`]).
    fn status(&self) -> u32 {
        (self.code >> CODE_STATUS_SHIFT) & 0x3
    }

    /// The participation methods, one bit per [`snodo_model::METHODS`] entry.
    fn methods(&self) -> u64 {
        u64::from(self.code >> CODE_METHOD_SHIFT) & 63
    }
}

impl Decoded {
    fn read(cols: &SegmentColumns, max_doc: DocId, today: u64) -> Decoded {
        let n = max_doc as usize;
        let mut out = Decoded {
            today,
            profile: Vec::with_capacity(n),
            profiles: Vec::new(),
        };
        let mut numbers: HashMap<Profile, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut packed = [0u64; BATCH];
        let mut themes = [0u64; BATCH];
        let mut sources = [0u64; BATCH];
        let mut docs = [0 as DocId; BATCH];
        for start in (0..max_doc).step_by(BATCH) {
            let len = (max_doc - start).min(BATCH as DocId) as usize;
            let docs = &mut docs[..len];
            for (i, d) in docs.iter_mut().enumerate() {
                *d = start + i as DocId;
            }
            cols.packed.get_vals(docs, &mut packed[..len]);
            cols.themes.get_vals(docs, &mut themes[..len]);
            if let Some(ords) = &cols.source.dense {
                ords.get_vals(docs, &mut sources[..len]);
            }
            for (i, &doc) in docs.iter().enumerate() {
                let v = packed[i];
                let region = packed::region(v);
                let source = match &cols.source.dense {
                    Some(_) => u32::try_from(sources[i]).unwrap_or(NO_ORDINAL),
                    None => cols
                        .source
                        .first(doc)
                        .and_then(|o| u32::try_from(o).ok())
                        .unwrap_or(NO_ORDINAL),
                };
                let profile = Profile {
                    code: packed::kind_index(v) as u32
                        | u32::from(region) << CODE_REGION_SHIFT
                        | status_code(packed::status(v, today)) << CODE_STATUS_SHIFT
                        | (packed::methods(v) as u32) << CODE_METHOD_SHIFT,
                    themes: (themes[i] & ((1 << THEME_BITS) - 1)) as u16,
                    source,
                    region_other: (region == packed::REGION_OTHER)
                        .then(|| cols.region.first(doc))
                        .flatten()
                        .and_then(|o| u32::try_from(o).ok())
                        .unwrap_or(NO_ORDINAL),
                };
                let number = *numbers.entry(profile).or_insert_with(|| {
                    out.profiles.push(profile);
                    (out.profiles.len() - 1) as u32
                });
                out.profile.push(number);
            }
        }
        out
    }

    /// The profile of document `doc`.
    fn of(&self, doc: DocId) -> Option<&Profile> {
        let number = *self.profile.get(doc as usize)?;
        self.profiles.get(number as usize)
    }
}

/// Facet counts of one segment by value number; names are put on them at the end.
#[derive(Clone)]
struct Tally {
    total: u64,
    kind: [u64; 16],
    region: [u64; 32],
    status: [u64; 4],
    method: [u64; 6],
    topic: [u64; 13],
    /// By term ordinal of the segment's string columns.
    source: Vec<u64>,
    /// Regions that are not an ISTAT code (read only for those).
    region_other: Vec<u64>,
    province: Vec<u64>,
    comune: Vec<u64>,
}

/// Adds one to `counts[ord]`, when the ordinal is in range.
fn bump(counts: &mut [u64], ord: u64) {
    if let Some(n) = usize::try_from(ord).ok().and_then(|i| counts.get_mut(i)) {
        *n += 1;
    }
}

/// Adds `n` to `counts[i]` for each bit `i` set in `bits` (one bit per method, or per topic).
fn add_to_bits(counts: &mut [u64], mut bits: u64, n: u64) {
    while bits != 0 {
        if let Some(c) = counts.get_mut(bits.trailing_zeros() as usize) {
            *c += n;
        }
        bits &= bits - 1;
    }
}

/// Every facet field holds at most one value per document, so the first ordinal is the only one.
fn bump_first(counts: &mut [u64], column: &OrdColumn, doc: DocId) {
    if let Some(ord) = column.first(doc) {
        bump(counts, ord);
    }
}

impl Tally {
    fn new(cols: &SegmentColumns) -> Tally {
        let zeros = |c: &OrdColumn| vec![0; c.names.len()];
        Tally {
            total: 0,
            kind: [0; 16],
            region: [0; 32],
            status: [0; 4],
            method: [0; 6],
            topic: [0; 13],
            source: zeros(&cols.source),
            region_other: zeros(&cols.region),
            province: zeros(&cols.province),
            comune: zeros(&cols.comune),
        }
    }

    /// Counts every document of `words` (a bitmap, bit `d` for document `d`) from the segment's
    /// [`Decoded`] values: by profile first, then each profile's count spread over its values.
    fn add_bitmap(
        &mut self,
        decoded: &Decoded,
        cols: &SegmentColumns,
        places: bool,
        words: impl Iterator<Item = u64> + Clone,
    ) {
        let mut by_profile = vec![0u32; decoded.profiles.len()];
        for (profiles, mut word) in decoded.profile.chunks(64).zip(words.clone()) {
            while word != 0 {
                let j = word.trailing_zeros() as usize;
                word &= word - 1;
                if let Some(n) = profiles
                    .get(j)
                    .and_then(|&p| by_profile.get_mut(p as usize))
                {
                    *n += 1;
                }
            }
        }
        if places {
            for doc in set_bits(words) {
                bump_first(&mut self.province, &cols.province, doc);
                bump_first(&mut self.comune, &cols.comune, doc);
            }
        }
        for (profile, &n) in decoded.profiles.iter().zip(&by_profile) {
            if n > 0 {
                self.add_profile(profile, u64::from(n));
            }
        }
    }

    /// Counts `n` documents of `profile`.
    fn add_profile(&mut self, profile: &Profile, n: u64) {
        self.total += n;
        self.kind[profile.kind()] += n;
        self.region[profile.region()] += n;
        self.status[profile.status() as usize] += n;
        add_to_bits(&mut self.method, profile.methods(), n);
        add_to_bits(&mut self.topic, u64::from(profile.themes), n);
        if let Some(c) = self.source.get_mut(profile.source as usize) {
            *c += n;
        }
        if let Some(c) = self.region_other.get_mut(profile.region_other as usize) {
            *c += n;
        }
    }

    /// `totals` minus `self`: the counts of the documents `self` did not count.
    fn complement_of(&self, totals: &Tally) -> Tally {
        fn minus(all: &mut [u64], part: &[u64]) {
            for (a, p) in all.iter_mut().zip(part) {
                *a = a.saturating_sub(*p);
            }
        }
        let mut out = totals.clone();
        out.total = out.total.saturating_sub(self.total);
        minus(&mut out.kind, &self.kind);
        minus(&mut out.region, &self.region);
        minus(&mut out.status, &self.status);
        minus(&mut out.method, &self.method);
        minus(&mut out.topic, &self.topic);
        minus(&mut out.source, &self.source);
        minus(&mut out.region_other, &self.region_other);
        minus(&mut out.province, &self.province);
        minus(&mut out.comune, &self.comune);
        out
    }

    fn into_counts(self, cols: &SegmentColumns, places: bool) -> FacetCounts {
        fn named(counts: Vec<u64>, names: &[String]) -> BTreeMap<String, u64> {
            let mut out = BTreeMap::new();
            for (n, name) in counts.into_iter().zip(names) {
                if n > 0 {
                    *out.entry(name.clone()).or_default() += n;
                }
            }
            out
        }
        let status = [Status::Upcoming, Status::Open, Status::Closed]
            .into_iter()
            .zip(self.status)
            .filter(|(_, n)| *n > 0)
            .map(|(st, n)| (st.as_str().to_owned(), n))
            .collect();
        let kind = Kind::ALL
            .iter()
            .zip(self.kind)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.as_str().to_owned(), n))
            .collect();
        let mut region = named(self.region_other, &cols.region.names);
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
        let (province, comune) = if places {
            (
                named(self.province, &cols.province.names),
                named(self.comune, &cols.comune.names),
            )
        } else {
            Default::default()
        };
        FacetCounts {
            total: self.total,
            kind,
            source: named(self.source, &cols.source.names),
            region,
            status,
            method,
            topic,
            province,
            comune,
        }
    }
}

/// The facet counts of every live document of a segment as of one day, with the live
/// documents as a bitmap: what a search whose matches are most of the segment subtracts from.
pub(crate) struct Totals {
    /// The deletes and the day they were counted for.
    key: (Option<tantivy::Opstamp>, u64),
    /// Bit `d` set when document `d` is live.
    alive: Vec<u64>,
    /// The live documents upcoming, open and closed that day (the order of [`Profile::code`]'s
    /// status): a status filter is one pass of `and` over the matches' bitmap.
    by_status: [Vec<u64>; 3],
    /// The live documents of each kind ([`Kind::ALL`] order), and of each ISTAT region (01–20):
    /// such a filter is an `and` too, where running its term query read its postings for every
    /// search (a twentieth of the CPU of the query mix at 1M records). 28 bitmaps: 3.5 MB at a
    /// million records.
    by_kind: Vec<Vec<u64>>,
    by_region: Vec<Vec<u64>>,
    tally: Tally,
    decoded: Arc<Decoded>,
}

impl Totals {
    fn count(cols: &SegmentColumns, reader: &SegmentReader, decoded: Arc<Decoded>) -> Totals {
        let max = reader.max_doc();
        let alive = match reader.alive_bitset() {
            Some(a) => {
                let mut words = vec![0u64; bitmap_words(max)];
                for doc in a.iter_alive() {
                    mark(&mut words, doc);
                }
                words
            }
            None => {
                // Every document, and no bit past the last one.
                let mut words = vec![u64::MAX; bitmap_words(max)];
                if let Some(last) = words.last_mut().filter(|_| max % 64 != 0) {
                    *last = (1 << (max % 64)) - 1;
                }
                words
            }
        };
        let mut tally = Tally::new(cols);
        tally.add_bitmap(&decoded, cols, true, alive.iter().copied());
        let mut by_status = [(); 3].map(|_| vec![0u64; alive.len()]);
        let mut by_kind = vec![vec![0u64; alive.len()]; Kind::ALL.len()];
        let mut by_region = vec![vec![0u64; alive.len()]; ISTAT_REGIONS];
        for (i, &word) in alive.iter().enumerate() {
            for doc in docs_of(i, word) {
                if let Some(p) = decoded.of(doc) {
                    let bit = 1 << (doc % 64);
                    by_status[p.status() as usize][i] |= bit;
                    if let Some(kind) = by_kind.get_mut(p.kind()) {
                        kind[i] |= bit;
                    }
                    let istat = p.region().checked_sub(1);
                    if let Some(r) = istat.and_then(|r| by_region.get_mut(r)) {
                        r[i] |= bit;
                    }
                }
            }
        }
        Totals {
            key: (reader.delete_opstamp(), decoded.today),
            alive,
            by_status,
            by_kind,
            by_region,
            tally,
            decoded,
        }
    }

    /// The live documents with `status` that day.
    fn with_status(&self, status: Status) -> &[u64] {
        &self.by_status[status_code(status) as usize]
    }

    /// The live documents that pass `filter` (all of its parts): one of the kept bitmaps, or
    /// their intersection.
    fn passing(&self, filter: &FacetFilter) -> Option<std::borrow::Cow<'_, [u64]>> {
        let mut masks = [
            filter.status.map(|s| self.with_status(s)),
            filter
                .kind
                .and_then(|k| self.by_kind.get(packed::kind_number(k)).map(Vec::as_slice)),
            filter
                .region
                .and_then(|r| self.by_region.get(usize::from(r).checked_sub(1)?))
                .map(Vec::as_slice),
        ]
        .into_iter()
        .flatten();
        let mut passing = std::borrow::Cow::Borrowed(masks.next()?);
        for m in masks {
            and_into(passing.to_mut(), m);
        }
        Some(passing)
    }
}

fn bitmap_words(max_doc: DocId) -> usize {
    (max_doc as usize).div_ceil(64)
}

/// Sets document `doc`'s bit.
fn mark(bits: &mut [u64], doc: DocId) {
    bits[(doc / 64) as usize] |= 1 << (doc % 64);
}

/// A bitmap of `words` words with the documents of `found` set.
fn bitmap_of(found: &[(DocId, Score)], words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; words];
    for &(d, _) in found {
        mark(&mut bits, d);
    }
    bits
}

/// Keeps in `found` only the bits also set in `bits`.
fn and_into(found: &mut [u64], bits: &[u64]) {
    for (f, b) in found.iter_mut().zip(bits) {
        *f &= b;
    }
}

/// Sets in `found` the bits also set in `bits`.
fn or_into(found: &mut [u64], bits: &[u64]) {
    for (f, b) in found.iter_mut().zip(bits) {
        *f |= b;
    }
}

/// How many bits of `bits` are set.
fn ones(bits: &[u64]) -> u64 {
    bits.iter().map(|w| u64::from(w.count_ones())).sum()
}

/// Whether document `doc`'s bit is set (false past the bitmap's end).
fn has(bits: &[u64], doc: DocId) -> bool {
    bits.get((doc / 64) as usize)
        .is_some_and(|w| w & (1 << (doc % 64)) != 0)
}

/// Sets the bits of `docs` (ascending, as a block of postings has them). Each bitmap word is
/// built in a register and written once: a common word's postings set dozens of bits per word,
/// and setting them one by one in memory made each wait for the last (at 1M records, reading a
/// word's postings into its bitmap was a quarter of a search for it).
fn mark_sorted(bits: &mut [u64], docs: &[DocId]) {
    let Some(&first) = docs.first() else {
        return;
    };
    let (mut at, mut word) = ((first / 64) as usize, 0u64);
    for &d in docs {
        let i = (d / 64) as usize;
        if i != at {
            if let Some(w) = bits.get_mut(at) {
                *w |= word;
            }
            (at, word) = (i, 0);
        }
        word |= 1 << (d % 64);
    }
    if let Some(w) = bits.get_mut(at) {
        *w |= word;
    }
}

/// The documents whose bits are set in word `i` of a bitmap, in order.
fn docs_of(i: usize, mut word: u64) -> impl Iterator<Item = DocId> {
    std::iter::from_fn(move || {
        (word != 0).then(|| {
            let doc = i as DocId * 64 + word.trailing_zeros();
            word &= word - 1;
            doc
        })
    })
}

/// The documents whose bits are set, in order.
fn set_bits(words: impl Iterator<Item = u64>) -> impl Iterator<Item = DocId> {
    words.enumerate().flat_map(|(i, w)| docs_of(i, w))
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

/// Records whose period overlaps some days, read from the packed dates. The two range filters
/// on the start and end days sought each other through every record: one day's open records at
/// 1M took 20 ms of CPU, 58 % of it there. Alone, this one reads the column a batch at a time;
/// beside a narrower filter (a region's postings), it checks only the documents it is asked
/// about. Only for the days [`packed::period_offsets`] takes; the range filters answer for the
/// others.
#[derive(Clone, Debug)]
pub(crate) struct PeriodFilter {
    from: u64,
    to: u64,
}

impl PeriodFilter {
    pub(crate) fn new(from: chrono::NaiveDate, to: chrono::NaiveDate) -> Option<PeriodFilter> {
        packed::period_offsets(from, to).map(|(from, to)| PeriodFilter { from, to })
    }
}

impl tantivy::query::Query for PeriodFilter {
    fn weight(
        &self,
        _: tantivy::query::EnableScoring<'_>,
    ) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl tantivy::query::Weight for PeriodFilter {
    fn scorer(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        let mut docs = PeriodDocs {
            packed: packed_column(reader),
            from: self.from,
            to: self.to,
            max_doc: reader.max_doc(),
            doc: 0,
            ahead: Vec::with_capacity(BATCH),
            at: 0,
            scanned: 0,
        };
        docs.scan_from(0);
        Ok(Box::new(tantivy::query::ConstScorer::new(docs, boost)))
    }

    fn explain(
        &self,
        reader: &SegmentReader,
        doc: DocId,
    ) -> tantivy::Result<tantivy::query::Explanation> {
        let v = (doc < reader.max_doc()).then(|| packed_column(reader).get_val(doc));
        if v.is_some_and(|v| packed::overlaps(v, self.from, self.to)) {
            Ok(tantivy::query::Explanation::new("period overlaps", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not in the period"
            )))
        }
    }
}

/// The documents of a [`PeriodFilter`] in one segment.
struct PeriodDocs {
    packed: Arc<dyn ColumnValues<u64>>,
    from: u64,
    to: u64,
    max_doc: DocId,
    doc: DocId,
    /// Matches found ahead of `doc` by reading a batch, `ahead[at]` being `doc`.
    ahead: Vec<DocId>,
    at: usize,
    /// The first document not read yet.
    scanned: DocId,
}

impl PeriodDocs {
    /// Positions on the first match at or after `from`, reading the column a batch at a time.
    fn scan_from(&mut self, from: DocId) -> DocId {
        self.ahead.clear();
        self.at = 0;
        self.scanned = from.min(self.max_doc);
        let mut vals = [0u64; BATCH];
        let mut docs = [0 as DocId; BATCH];
        while self.ahead.is_empty() && self.scanned < self.max_doc {
            let len = (self.max_doc - self.scanned).min(BATCH as DocId) as usize;
            let (docs, vals) = (&mut docs[..len], &mut vals[..len]);
            for (i, d) in docs.iter_mut().enumerate() {
                *d = self.scanned + i as DocId;
            }
            self.packed.get_vals(docs, vals);
            for (&doc, &v) in docs.iter().zip(vals.iter()) {
                if packed::overlaps(v, self.from, self.to) {
                    self.ahead.push(doc);
                }
            }
            self.scanned += len as DocId;
        }
        self.doc = self.ahead.first().copied().unwrap_or(tantivy::TERMINATED);
        self.doc
    }
}

impl tantivy::DocSet for PeriodDocs {
    fn advance(&mut self) -> DocId {
        if self.doc == tantivy::TERMINATED {
            return self.doc;
        }
        self.at += 1;
        match self.ahead.get(self.at) {
            Some(&doc) => {
                self.doc = doc;
                doc
            }
            None => self.scan_from(self.scanned),
        }
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if target <= self.doc {
            return self.doc;
        }
        if target < self.scanned {
            // Within the batch read: the first match kept at or after it, if any.
            let rest = &self.ahead[self.at..];
            let i = rest.partition_point(|&d| d < target);
            if let Some(&doc) = rest.get(i) {
                self.at += i;
                self.doc = doc;
                return doc;
            }
            return self.scan_from(self.scanned);
        }
        self.scan_from(target)
    }

    /// One document looked up, as an intersection asks a filter about its leader's documents.
    fn seek_danger(&mut self, target: DocId) -> tantivy::SeekDangerResult {
        use tantivy::SeekDangerResult::{Found, SeekLowerBound};
        if target >= self.max_doc {
            return SeekLowerBound(tantivy::TERMINATED);
        }
        if packed::overlaps(self.packed.get_val(target), self.from, self.to) {
            self.ahead.clear();
            self.ahead.push(target);
            self.at = 0;
            self.doc = target;
            self.scanned = target + 1;
            Found
        } else {
            SeekLowerBound(target + 1)
        }
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    /// Not known without reading the column: at most every document, so that any narrower
    /// filter leads an intersection and this one is asked about its documents only.
    fn size_hint(&self) -> u32 {
        self.max_doc
    }
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
    /// The document's ordinal (every facet field holds at most one value per document).
    fn first(&self, doc: DocId) -> Option<u64> {
        self.column.as_ref().and_then(|c| c.ords().first(doc))
    }

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
    /// The last [`Totals`] counted, for its deletes and day.
    totals: Mutex<Option<Arc<Totals>>>,
    /// The last [`Decoded`], for its day (deletes do not change it).
    decoded: Mutex<Option<Arc<Decoded>>>,
}

impl SegmentColumns {
    /// The segment's [`Totals`] for `reader`'s deletes and `today`, counted when not kept.
    fn totals(&self, reader: &SegmentReader, today: u64) -> Arc<Totals> {
        let key = (reader.delete_opstamp(), today);
        let mut kept = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = kept.as_ref().filter(|t| t.key == key) {
            return t.clone();
        }
        let decoded = {
            let mut d = self.decoded.lock().unwrap_or_else(PoisonError::into_inner);
            match d.as_ref().filter(|d| d.today == today) {
                Some(d) => d.clone(),
                None => {
                    let read = Arc::new(Decoded::read(self, reader.max_doc(), today));
                    *d = Some(read.clone());
                    read
                }
            }
        };
        let counted = Arc::new(Totals::count(self, reader, decoded));
        *kept = Some(counted.clone());
        counted
    }

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
            totals: Mutex::new(None),
            decoded: Mutex::new(None),
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
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct FacetsSegment {
    today: u64,
    places: bool,
    columns: Arc<SegmentColumns>,
    reader: SegmentReader,
    /// Bit `d` set when document `d` matched.
    matched: Vec<u64>,
    count: u64,
}

impl FacetsSegment {
    /// The segment's live documents (and its totals), counted once per deletes and day.
    fn live(&self) -> Arc<Totals> {
        self.columns.totals(&self.reader, self.today)
    }

    /// Takes `bits` as the segment's matches, instead of collecting them one by one.
    fn mark_all(&mut self, bits: Vec<u64>) {
        self.count = ones(&bits);
        self.matched = bits;
    }

    /// Whether `doc` matched (the collector has seen it).
    pub(crate) fn contains(&self, doc: DocId) -> bool {
        has(&self.matched, doc)
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
        Ok(FacetsSegment {
            today: packed::day_offset(self.today),
            places: self.places,
            columns: self.columns.get(reader)?,
            reader: reader.clone(),
            matched: vec![0; bitmap_words(reader.max_doc())],
            count: 0,
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
        if let Some(w) = self.matched.get_mut((doc / 64) as usize) {
            *w |= 1 << (doc % 64);
            self.count += 1;
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for &doc in docs {
            self.collect(doc, 0.0);
        }
    }

    fn harvest(self) -> FacetCounts {
        let cols = &*self.columns;
        let live = u64::from(self.reader.num_docs());
        let totals = self.live();
        let tally = if self.count > live / 2 {
            let mut missed = Tally::new(cols);
            let words = totals.alive.iter().zip(&self.matched).map(|(a, m)| a & !m);
            missed.add_bitmap(&totals.decoded, cols, self.places, words);
            debug_assert_eq!(missed.total + self.count, totals.tally.total);
            missed.complement_of(&totals.tally)
        } else {
            let mut tally = Tally::new(cols);
            tally.add_bitmap(
                &totals.decoded,
                cols,
                self.places,
                self.matched.iter().copied(),
            );
            tally
        };
        tally.into_counts(cols, self.places)
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
    /// The segment's statuses as of `boost_today`, when decoded already (see
    /// [`TopKSegment::statuses_from`]).
    decoded: Option<Arc<Decoded>>,
    heap: std::collections::BinaryHeap<Entry>,
}

impl TopKSegment {
    /// Reads the status boost of a match from `decoded` (one array read) instead of the packed
    /// dates' column, when they are for the same day.
    fn statuses_from(&mut self, decoded: &Arc<Decoded>) {
        if self.boost_today == Some(decoded.today) {
            self.decoded = Some(Arc::clone(decoded));
        }
    }

    fn status(&self, doc: DocId, today: u64) -> Status {
        match self.decoded.as_ref().and_then(|d| d.of(doc)) {
            Some(p) => status_of_code(p.status()),
            None => packed::status(self.packed.get_val(doc), today),
        }
    }

    /// The text score a match must exceed to enter the page: the worst key kept, once `k` are,
    /// divided by the largest boost (a match at exactly that score could still tie and win on
    /// the later keys, hence the step down). Only for relevance with a status boost.
    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => {
                let bound = (worst.key.primary / MAX_BOOST) as Score;
                bound - bound.abs() * 1e-6
            }
            _ => Score::MIN,
        }
    }

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
                Some(today) => score * status_boost(self.status(doc, today)),
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
    type Fruit = Page;
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
            decoded: None,
            heap: std::collections::BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Page>) -> tantivy::Result<Self::Fruit> {
        let mut all: Page = fruits.into_iter().flatten().collect();
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
    type Fruit = Page;

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

/// The live documents of a segment that have every required word or group of `ranking` (one
/// of its terms, in some field): the query's text matches, found without running it (its
/// intersections of unions seek through the postings document by document; here each term's
/// postings are read block by block into a bitmap).
fn text_matches(
    reader: &SegmentReader,
    terms: &SegmentTerms<'_>,
    alive: &[u64],
) -> tantivy::Result<Vec<u64>> {
    use tantivy::schema::IndexRecordOption;
    let mut found = alive.to_vec();
    for group in 0..terms.groups {
        let mut of_group = terms.of_group(group).peekable();
        if of_group.peek().is_none() {
            // A word every field drops (a stop word): the parser drops it too.
            continue;
        }
        let mut bits = vec![0u64; found.len()];
        for &(t, _, info) in of_group {
            let Some(info) = info else {
                continue;
            };
            let inverted = reader.inverted_index(t.term.field())?;
            let mut block =
                inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
            loop {
                let docs = block.docs();
                if docs.is_empty() {
                    break;
                }
                mark_sorted(&mut bits, docs);
                block.advance();
            }
        }
        and_into(&mut found, &bits);
    }
    Ok(found)
}

/// A field's norms in a segment, as tantivy's term scorer reads them (a constant where a field
/// has none).
fn norms(
    reader: &SegmentReader,
    field: tantivy::schema::Field,
) -> tantivy::Result<tantivy::fieldnorm::FieldNormReader> {
    Ok(match reader.fieldnorms_readers().get_field(field)? {
        Some(norms) => norms,
        None => tantivy::fieldnorm::FieldNormReader::constant(reader.max_doc(), 1),
    })
}

/// One term of a [`Ranking`] in one segment: its postings with frequencies, read forward, and
/// what its BM25 score needs (the same weight and norms tantivy's term scorer uses).
struct TermPostings {
    postings: tantivy::postings::SegmentPostings,
    norms: tantivy::fieldnorm::FieldNormReader,
    weight: tantivy::query::Bm25Weight,
}

impl TermPostings {
    /// `None` when the segment does not have the term (`info`, its entry in the segment's
    /// dictionary).
    fn open(
        reader: &SegmentReader,
        &(t, weight, info): &SegmentTerm<'_>,
    ) -> tantivy::Result<Option<TermPostings>> {
        use tantivy::schema::IndexRecordOption;
        let Some(info) = info else {
            return Ok(None);
        };
        let term = &t.term;
        let inverted = reader.inverted_index(term.field())?;
        let postings = inverted.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
        let norms = norms(reader, term.field())?;
        Ok(Some(TermPostings {
            postings,
            norms,
            weight: weight.clone(),
        }))
    }

    /// The term's score in `doc`, or `None` when `doc` lacks it. Documents must be asked for
    /// in increasing order.
    fn score_at(&mut self, doc: DocId) -> Option<Score> {
        use tantivy::postings::Postings;
        use tantivy::DocSet;
        if self.postings.doc() < doc {
            self.postings.seek(doc);
        }
        (self.postings.doc() == doc).then(|| {
            self.weight
                .score(self.norms.fieldnorm_id(doc), self.postings.term_freq())
        })
    }
}

/// A term of a [`Ranking`] in one segment: its weight, and its entry in the segment's
/// dictionary (`None`: the segment does not have it).
type SegmentTerm<'a> = (
    &'a crate::query::RankTerm,
    &'a tantivy::query::Bm25Weight,
    Option<&'a tantivy::postings::TermInfo>,
);

/// A [`Ranking`]'s terms in one segment, each looked up in its dictionary once per search: the
/// statistics and then every pass over the segment looked each term up again (a word being
/// typed has hundreds of terms, most of them in no record in some fields).
struct SegmentTerms<'a> {
    terms: Vec<SegmentTerm<'a>>,
    groups: usize,
}

impl<'a> SegmentTerms<'a> {
    /// The terms of word or group `group`.
    fn of_group(&self, group: usize) -> impl Iterator<Item = &SegmentTerm<'a>> {
        self.terms.iter().filter(move |(t, _, _)| t.group == group)
    }
}

/// The text matches of a query led by a rare word or group (`order[0]`), with their scores:
/// that group's few postings are the candidates, and each other group, rarest first, keeps
/// those that one of its terms has, found by seeking its postings (skip lists, one block
/// decoded per seek). The parser's query would build a union per word and field for every word
/// (tantivy's buffered union scores a window of 4,096 documents of a common word at each far
/// seek: a title of 15 words as typed spent half its time there); and a bitmap of every
/// group's postings reads all of a common word's. Each candidate's score is summed as its terms
/// are found: a surviving candidate has every term's score, as the flat union would give it.
fn sparse_matches(
    reader: &SegmentReader,
    terms: &SegmentTerms<'_>,
    order: &[usize],
    alive: &[u64],
) -> tantivy::Result<Vec<(DocId, Score)>> {
    use tantivy::{DocSet, TERMINATED};
    let Some((&lead, rest)) = order.split_first() else {
        return Ok(Vec::new());
    };
    let mut found: Vec<(DocId, Score)> = Vec::new();
    for term in terms.of_group(lead) {
        let Some(mut p) = TermPostings::open(reader, term)? else {
            continue;
        };
        loop {
            let d = p.postings.doc();
            if d == TERMINATED {
                break;
            }
            if has(alive, d) {
                if let Some(score) = p.score_at(d) {
                    found.push((d, score));
                }
            }
            p.postings.advance();
        }
    }
    // By document, the lead's terms' scores summed in the union's order (the sort is stable).
    found.sort_by_key(|&(d, _)| d);
    found.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    keep_matching(reader, terms, rest, found)
}

/// Keeps the documents of `found` (ascending) that every group of `groups` has, one of its
/// terms' postings sought to each, and adds those terms' scores to theirs.
fn keep_matching(
    reader: &SegmentReader,
    terms: &SegmentTerms<'_>,
    groups: &[usize],
    mut found: Vec<(DocId, Score)>,
) -> tantivy::Result<Vec<(DocId, Score)>> {
    use tantivy::{DocSet, TERMINATED};
    for &group in groups {
        if found.is_empty() {
            break;
        }
        let mut in_group = vec![false; found.len()];
        for term in terms.of_group(group) {
            let Some(mut p) = TermPostings::open(reader, term)? else {
                continue;
            };
            for ((d, score), has) in found.iter_mut().zip(in_group.iter_mut()) {
                if let Some(s) = p.score_at(*d) {
                    *score += s;
                    *has = true;
                } else if p.postings.doc() == TERMINATED {
                    break;
                }
            }
        }
        let mut kept = in_group.iter();
        found.retain(|_| kept.next().copied().unwrap_or(false));
    }
    Ok(found)
}

/// Adds a term's score in each of its documents to their `sums`, and marks them in `bits`:
/// its postings read a block at a time, its scores as tantivy's term scorer computes them
/// (without a call through its scorer and the callback for every posting, which was a third of
/// the time of a word being typed).
fn add_scores(
    reader: &SegmentReader,
    &(t, weight, info): &SegmentTerm<'_>,
    allowed: Option<&[u64]>,
    sums: &mut [Score],
    bits: &mut [u64],
) -> tantivy::Result<()> {
    use tantivy::schema::IndexRecordOption;
    let Some(info) = info else {
        return Ok(());
    };
    let inverted = reader.inverted_index(t.term.field())?;
    let mut block =
        inverted.read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
    let norms = norms(reader, t.term.field())?;
    loop {
        let docs = block.docs();
        if docs.is_empty() {
            break;
        }
        for (&doc, &freq) in docs.iter().zip(block.freqs()) {
            if allowed.is_some_and(|a| !has(a, doc)) {
                continue;
            }
            if let Some(sum) = sums.get_mut(doc as usize) {
                *sum += weight.score(norms.fieldnorm_id(doc), freq);
                mark(bits, doc);
            }
        }
        block.advance();
    }
    Ok(())
}

/// The flat union's score of each of `docs` (increasing), each term's postings sought to it.
fn scores_at(
    reader: &SegmentReader,
    of: &SegmentTerms<'_>,
    docs: impl Iterator<Item = DocId>,
    collect: &mut dyn FnMut(DocId, Score),
) -> tantivy::Result<()> {
    let mut terms = Vec::with_capacity(of.terms.len());
    for term in &of.terms {
        terms.extend(TermPostings::open(reader, term)?);
    }
    for doc in docs {
        let score = terms.iter_mut().filter_map(|t| t.score_at(doc)).sum();
        collect(doc, score);
    }
    Ok(())
}

/// The documents of `found` that are in `passing` (the day's documents that pass a
/// [`FacetFilter`]) and pass `filters`.
fn filtered(
    reader: &SegmentReader,
    mut found: Vec<u64>,
    filters: Option<&dyn tantivy::query::Weight>,
    passing: Option<&[u64]>,
) -> tantivy::Result<Vec<u64>> {
    use tantivy::{DocSet, TERMINATED};
    if let Some(passing) = passing {
        // A bitmap kept per day (the status's filters on the start and end days would rescan
        // their columns from match to match).
        and_into(&mut found, passing);
    }
    let Some(filters) = filters else {
        return Ok(found);
    };
    let mut scorer = filters.scorer(reader, 1.0)?;
    let mut kept = vec![0u64; found.len()];
    let marked = ones(&found);
    if marked.saturating_mul(16) >= u64::from(scorer.size_hint()) {
        // Many matches: the filters' documents in order, each looked up in the bitmap.
        let mut docs = [0; tantivy::COLLECT_BLOCK_BUFFER_LEN];
        loop {
            let n = scorer.fill_buffer(&mut docs);
            for &doc in &docs[..n] {
                let (i, bit) = ((doc / 64) as usize, 1u64 << (doc % 64));
                if found[i] & bit != 0 {
                    kept[i] |= bit;
                }
            }
            if n < docs.len() {
                break;
            }
        }
        return Ok(kept);
    }
    // Few: leapfrog, the next match, then the filters from there, then the next match from
    // where the filters landed.
    let mut next = next_set(&found, 0);
    while let Some(doc) = next {
        let mut at = scorer.doc();
        if at < doc {
            at = scorer.seek(doc);
        }
        if at == TERMINATED {
            break;
        }
        if at == doc {
            mark(&mut kept, doc);
            next = next_set(&found, doc + 1);
        } else {
            next = next_set(&found, at);
        }
    }
    Ok(kept)
}

/// The first set bit at or after `from`.
fn next_set(bits: &[u64], from: DocId) -> Option<DocId> {
    let mut i = (from / 64) as usize;
    let mut word = *bits.get(i)? & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            return Some(i as DocId * 64 + word.trailing_zeros());
        }
        i += 1;
        word = *bits.get(i)?;
    }
}

/// Matches are ranked by the flat union unless they are a small share of the union's postings
/// (less than one in [`WAND_SHARE`]) and few: at most this many, or fewer seeks (a match times
/// the union's terms) than the union has postings (see [`one_by_one`]).
/// Tests use a lower bound, so that their small queries go each way.
const FEW_MATCHES: u64 = if cfg!(test) { 100 } else { 8_192 };
const WAND_SHARE: u64 = 8;

/// Whether `matches` of a segment whose share of the union's postings is `postings` are scored
/// match by match, each of the union's `terms` sought to them, rather than by block-max WAND
/// over the union (or term by term, see [`by_term`]). A rare word beside a common one, or a
/// narrow filter, costs less scored one by one than walking the common word's postings to find
/// them. So does a common word within a region or a kind: WAND cannot skip blocks for a page
/// that only the filter's few matches may enter (at 1M records, `urbano` in one region, 32,185
/// matches: 263 searches a second by WAND, 891 one by one). Past as many seeks as postings WAND
/// wins again (four common words, 269,611 matches: 105 a second by WAND, 78 one by one).
fn one_by_one(matches: u64, terms: usize, postings: u64) -> bool {
    matches.saturating_mul(WAND_SHARE) < postings
        && (matches <= FEW_MATCHES || matches.saturating_mul(terms as u64) <= postings)
}

/// A union of more terms than this (a word being typed: up to 32 completions in every text
/// field) is scored term by term into one sum per document instead of by block-max WAND, which
/// re-sorts every term's cursor at each step: at 1M records a typed four-letter word (231
/// terms) spent 65 % of its 112 ms there, and 25 ms term by term. With completions that analyse
/// alike merged, a two-letter word has 33–64 terms, and WAND still took 8–10 ms of `mi`, `au`,
/// `ri` against 3–5 ms term by term; 15 typed words took 88 ms in all with 64 here, 70 ms with
/// 32 (16 and 24: 71–72 ms), and titles as typed the same within noise. Tests use a lower
/// bound, so that their small queries go both ways.
const WAND_TERMS: usize = if cfg!(test) { 8 } else { 32 };

/// Whether a segment's matches of a text search of `terms` terms are scored term by term
/// ([`counted_then_ranked`]) rather than one by one or by WAND. `at_most` bounds its matches
/// (the records its filters leave, or its rarest word's postings) when it is filtered or has
/// several words; `postings` is its union's postings. A single word unfiltered keeps WAND,
/// whose block maxima skip most of a common word's postings. Otherwise, term by term wins
/// unless the matches are few enough to be scored one by one. At 1M records (`wrk -c4`,
/// searches a second, against WAND or one by one as [`one_by_one`] chose alone):
/// - `cittadinanza` among consultations, 330 → 520–560;
/// - `urbano` in one region, 970–1,020 → 1,070–1,080;
/// - four common words, 103–109 → 205; two, 442–480 → 512–560;
/// - one common word unfiltered would go 522 → 417: hence WAND for it.
fn by_term(terms: usize, at_most: Option<u64>, postings: u64) -> bool {
    terms > WAND_TERMS || at_most.is_some_and(|n| !one_by_one(n, terms, postings))
}

/// Offers the page the matches (`matched`, a bitmap) whose sums reach its threshold. The sums
/// are compared 64 at a time, a branch-free loop the compiler turns into vector compares, and
/// only those above the threshold at the start of their 64 are looked at one by one (against
/// the threshold as it rises). Most matches of a word being typed fall below it: going through
/// every match one by one was a tenth of such a search.
///
/// The sums of the documents `touched` (every document with a sum) are set back to zero as
/// they pass, for the next search to use them (see [`SUMS`]).
fn offer_above(matched: &[u64], touched: &[u64], sums: &mut [Score], best: &mut TopKSegment) {
    let mut threshold = best.threshold();
    for (chunk, ((&word, &touched), sums)) in matched
        .iter()
        .zip(touched)
        .zip(sums.chunks_mut(64))
        .enumerate()
    {
        if touched == 0 {
            continue;
        }
        if word == 0 {
            sums.fill(0.0);
            continue;
        }
        let mut above = 0u64;
        for (j, &s) in sums.iter().enumerate() {
            above |= u64::from(s >= threshold) << j;
        }
        let mut candidates = word & above;
        while candidates != 0 {
            let j = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let score = sums[j];
            if score >= threshold {
                best.collect((chunk * 64 + j) as DocId, score);
                threshold = best.threshold();
            }
        }
        sums.fill(0.0);
    }
}

/// A thread's per-document sums for [`counted_then_ranked`]'s term-by-term pass, kept between
/// searches: 4 bytes a record of the largest segment it has searched. A fresh, zeroed buffer
/// per segment (2 MB at 500,000 records, its pages faulted in anew each time) had `memset`
/// alone at 5 % of the query mix's CPU; this one is zeroed only where a search wrote, in the
/// pass that already reads those sums.
struct Sums {
    sums: Vec<Score>,
    /// False while a search uses the buffer, and after one that failed before zeroing it.
    clean: bool,
}

impl Sums {
    /// The first `n` sums, all zero.
    fn zeros(&mut self, n: usize) -> &mut [Score] {
        if !self.clean {
            self.sums.fill(0.0);
        }
        if self.sums.len() < n {
            self.sums.resize(n, 0.0);
        }
        self.clean = false;
        &mut self.sums[..n]
    }
}

thread_local! {
    static SUMS: std::cell::RefCell<Sums> = const {
        std::cell::RefCell::new(Sums {
            sums: Vec::new(),
            clean: true,
        })
    };
}

/// BM25 statistics for one search, each term's looked up once: the query, its flat union and
/// the decision between them ask for the same terms, and a word being typed brings up to 32
/// completions in every text field, each looked up in every segment's dictionary.
pub(crate) struct Stats<'a> {
    searcher: &'a tantivy::Searcher,
    doc_freqs: std::cell::RefCell<HashMap<tantivy::Term, u64>>,
}

impl<'a> Stats<'a> {
    pub(crate) fn new(searcher: &'a tantivy::Searcher) -> Stats<'a> {
        Stats {
            searcher,
            doc_freqs: Default::default(),
        }
    }

    pub(crate) fn scoring(&self) -> tantivy::query::EnableScoring<'_> {
        tantivy::query::EnableScoring::enabled_from_statistics_provider(self, self.searcher)
    }
}

impl tantivy::query::Bm25StatisticsProvider for Stats<'_> {
    fn total_num_tokens(&self, field: tantivy::schema::Field) -> tantivy::Result<u64> {
        self.searcher.total_num_tokens(field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.searcher.total_num_docs()
    }

    fn doc_freq(&self, term: &tantivy::Term) -> tantivy::Result<u64> {
        if let Some(&n) = self.doc_freqs.borrow().get(term) {
            return Ok(n);
        }
        let n = self.searcher.doc_freq(term)?;
        self.doc_freqs.borrow_mut().insert(term.clone(), n);
        Ok(n)
    }
}

impl Stats<'_> {
    /// The term's entry in each segment's dictionary (by segment ordinal), and its document
    /// frequency (kept for `doc_freq`).
    fn term_infos(
        &self,
        term: &tantivy::Term,
    ) -> tantivy::Result<(Vec<Option<tantivy::postings::TermInfo>>, u64)> {
        let mut infos = Vec::with_capacity(self.searcher.segment_readers().len());
        for reader in self.searcher.segment_readers() {
            infos.push(reader.inverted_index(term.field())?.get_term_info(term)?);
        }
        let n = infos.iter().flatten().map(|i| u64::from(i.doc_freq)).sum();
        self.doc_freqs.borrow_mut().insert(term.clone(), n);
        Ok((infos, n))
    }
}

/// BM25 weights of single terms as `Bm25Weight::for_terms` computes them, without the
/// explanation it builds for each (five allocations a term, and a word being typed has hundreds
/// of terms), each field's average length computed once.
struct Weights<'s, S> {
    stats: &'s S,
    total_docs: u64,
    averages: HashMap<tantivy::schema::Field, Score>,
}

impl<'s, S: tantivy::query::Bm25StatisticsProvider> Weights<'s, S> {
    fn new(stats: &'s S) -> tantivy::Result<Self> {
        Ok(Weights {
            stats,
            total_docs: stats.total_num_docs()?,
            averages: HashMap::new(),
        })
    }

    fn of(&mut self, term: &tantivy::Term) -> tantivy::Result<tantivy::query::Bm25Weight> {
        let field = term.field();
        let average = match self.averages.get(&field) {
            Some(&a) => a,
            None => {
                let tokens = self.stats.total_num_tokens(field)?;
                let a = tokens as Score / self.total_docs as Score;
                self.averages.insert(field, a);
                a
            }
        };
        let df = self.stats.doc_freq(term)?;
        Ok(tantivy::query::Bm25Weight::for_one_term_without_explain(
            df,
            self.total_docs,
            average,
        ))
    }
}

/// A page of hits: sort keys and addresses.
pub(crate) type Page = Vec<(SortKey, tantivy::DocAddress)>;

/// The filters a segment answers from bitmaps it keeps (see [`Totals`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct FacetFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// An ISTAT region's number (1–20).
    pub region: Option<u8>,
}

impl FacetFilter {
    fn is_some(&self) -> bool {
        self.status.is_some() || self.kind.is_some() || self.region.is_some()
    }
}

/// ISTAT regions (01–20), one bitmap each in [`Totals`].
const ISTAT_REGIONS: usize = 20;

/// A text search: its filters but those of `facets`, and those; and its text as a flat union of
/// terms.
#[derive(Clone, Copy)]
pub(crate) struct TextSearch<'a> {
    pub filters: Option<&'a dyn tantivy::query::Query>,
    pub facets: FacetFilter,
    pub ranking: &'a Ranking,
}

/// The page and the facets of a text search ranked by relevance, in two passes per segment,
/// both over the flat union's terms (`ranking`: the same scores as the parser's query):
///
/// - the matches are marked in a bitmap for the facets: when the rarest required word (or
///   group) is rare, its postings are the candidates, checked against the other words by
///   seeking theirs ([`sparse_matches`]); else each word's postings are read block by block
///   into a bitmap, and the bitmaps intersected. Then the filters.
/// - then the page: few matches are scored one by one, each term's postings sought to them;
///   many, by tantivy's block-max WAND over the union, which skips the blocks whose best
///   possible score cannot enter the page (a word found in most records is scored for a few
///   thousand of its matches), keeping marked matches only. Term by term into one sum per
///   document, marking the matches as it goes ([`by_term`]): a union of very many terms (a
///   word being typed), several words, and a filtered search whose filters leave many
///   records.
pub(crate) fn counted_then_ranked(
    searcher: &tantivy::Searcher,
    stats: &Stats<'_>,
    text: &TextSearch<'_>,
    top: &TopK<'_>,
    facets: &Facets<'_>,
    parallel: bool,
) -> tantivy::Result<(Page, FacetCounts)> {
    use tantivy::query::{EnableScoring, Query};
    let TextSearch {
        filters,
        facets: facet_filter,
        ranking,
    } = *text;
    debug_assert!(matches!(top.sort, Sort::Relevance) && top.boost_today.is_some());
    let mut postings = 0u64;
    let mut by_group: Vec<Option<u64>> = vec![None; ranking.groups];
    let mut infos = Vec::with_capacity(ranking.terms.len());
    for t in &ranking.terms {
        let (here, n) = stats.term_infos(&t.term)?;
        postings += n;
        *by_group[t.group].get_or_insert(0) += n;
        infos.push(here);
    }
    // The required words (or groups), rarest first; one without terms (a stop word) is dropped
    // from the query. No more records match than have the rarest in some field.
    let mut order: Vec<(u64, usize)> = by_group
        .iter()
        .enumerate()
        .filter_map(|(g, n)| Some(((*n)?, g)))
        .collect();
    order.sort_unstable();
    let at_most = order.first().map_or(0, |&(n, _)| n);
    let sparse = at_most <= FEW_MATCHES && at_most.saturating_mul(WAND_SHARE) < postings;
    let order: Vec<usize> = order.into_iter().map(|(_, g)| g).collect();
    // Each term's BM25 weight, as its term query has it (boosted like the parser boosts it).
    let mut unexplained = Weights::new(stats)?;
    let weights = ranking
        .terms
        .iter()
        .map(|t| Ok(unexplained.of(&t.term)?.boost_by(t.boost)))
        .collect::<tantivy::Result<Vec<_>>>()?;
    let filters = filters
        .map(|f| f.weight(EnableScoring::disabled_from_searcher(searcher)))
        .transpose()?;
    let filtering = filters.is_some() || facet_filter.is_some();
    let words = order.len();
    // Block-max WAND's union, built only when the page may need it: a search filtered or of
    // several words is scored term by term or, when its matches are few, one by one.
    let union = (!sparse && ranking.terms.len() <= WAND_TERMS && !filtering && words <= 1)
        .then(|| ranking.query.weight(stats.scoring()))
        .transpose()?;
    let all_docs = searcher
        .segment_readers()
        .iter()
        .map(|r| u64::from(r.max_doc()))
        .sum::<u64>()
        .max(1);
    let segment = |(ord, reader): (usize, &SegmentReader)| {
        let terms = SegmentTerms {
            terms: ranking
                .terms
                .iter()
                .zip(&weights)
                .zip(&infos)
                .map(|((t, w), i)| (t, w, i.get(ord).and_then(Option::as_ref)))
                .collect(),
            groups: ranking.groups,
        };
        let ord = ord as SegmentOrdinal;
        let mut counts = facets.for_segment(ord, reader)?;
        let alive = counts.live();
        let passing = alive.passing(&facet_filter);
        let passing = passing.as_deref();
        let mut best = top.for_segment(ord, reader)?;
        best.statuses_from(&alive.decoded);
        if sparse {
            let found = sparse_matches(reader, &terms, &order, &alive.alive)?;
            let bits = bitmap_of(&found, alive.alive.len());
            counts.mark_all(filtered(reader, bits, filters.as_deref(), passing)?);
            for (d, score) in found {
                if counts.contains(d) {
                    best.collect(d, score);
                }
            }
            return Ok((best.harvest(), counts.harvest()));
        }
        // The segment's share of a count over the index, near enough for the choices.
        let share =
            |n: u64| (u128::from(n) * u128::from(reader.max_doc()) / u128::from(all_docs)) as u64;
        let here = share(postings);
        // The records the filters leave, first: a posting of a record they exclude is then
        // skipped before it is scored (a word within one region or kind spent half its time
        // scoring records of the others).
        let allowed = filtering
            .then(|| filtered(reader, alive.alive.clone(), filters.as_deref(), passing))
            .transpose()?;
        // At most this many matches: the records the filters leave, and no more than have
        // the rarest word (of several).
        let rarest = (words > 1).then(|| share(at_most));
        let allowed_here = allowed.as_deref().map(ones);
        if allowed_here == Some(0) {
            // No record of the segment passes the filters (a source's records are often all
            // in another segment): nothing to read.
            counts.mark_all(allowed.unwrap_or_default());
            return Ok((best.harvest(), counts.harvest()));
        }
        let at_most_here = match (allowed_here, rarest) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        };
        if by_term(ranking.terms.len(), at_most_here, here) {
            // One pass over each term's postings: its score added into its documents' sums (as
            // the union adds them), and its documents marked for its word or group. The matches
            // are then offered to the page.
            return SUMS.with_borrow_mut(|scratch| {
                let sums = scratch.zeros(reader.max_doc() as usize);
                let mut groups: Vec<Option<Vec<u64>>> = vec![None; ranking.groups];
                for term in &terms.terms {
                    let bits =
                        groups[term.0.group].get_or_insert_with(|| vec![0u64; alive.alive.len()]);
                    add_scores(reader, term, allowed.as_deref(), sums, bits)?;
                }
                let mut found = allowed.unwrap_or_else(|| alive.alive.clone());
                let mut touched = vec![0u64; alive.alive.len()];
                for bits in groups.iter().flatten() {
                    and_into(&mut found, bits);
                    or_into(&mut touched, bits);
                }
                counts.mark_all(found);
                offer_above(&counts.matched, &touched, sums, &mut best);
                scratch.clean = true;
                Ok((best.harvest(), counts.harvest()))
            });
        }
        if let (Some(n), Some(allowed)) = (allowed_here, &allowed) {
            if n.saturating_mul(ranking.terms.len() as u64 * WAND_SHARE) <= here {
                // So few records left that seeking the words' postings to each costs less than
                // reading them (as `sparse_matches` checks its lead's postings): a common word
                // among the few upcoming records read all its postings before.
                let candidates = set_bits(allowed.iter().copied())
                    .map(|d| (d, 0.0))
                    .collect();
                let found = keep_matching(reader, &terms, &order, candidates)?;
                counts.mark_all(bitmap_of(&found, alive.alive.len()));
                for (d, score) in found {
                    best.collect(d, score);
                }
                return Ok((best.harvest(), counts.harvest()));
            }
        }
        let mut found = text_matches(reader, &terms, &alive.alive)?;
        if let Some(allowed) = &allowed {
            and_into(&mut found, allowed);
        }
        counts.mark_all(found);
        match &union {
            Some(union) if !one_by_one(counts.count, ranking.terms.len(), here) => {
                union.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
                    if counts.contains(doc) {
                        best.collect(doc, score);
                    }
                    best.threshold()
                })?;
            }
            _ => scores_at(
                reader,
                &terms,
                set_bits(counts.matched.iter().copied()),
                &mut |doc, score| best.collect(doc, score),
            )?,
        }
        Ok((best.harvest(), counts.harvest()))
    };
    let single;
    let executor = if parallel {
        searcher.index().search_executor()
    } else {
        single = tantivy::Executor::single_thread();
        &single
    };
    let fruits = executor.map(segment, searcher.segment_readers().iter().enumerate())?;
    let (tops, counts): (Vec<_>, Vec<_>) = fruits.into_iter().unzip();
    Ok((top.merge_fruits(tops)?, facets.merge_fruits(counts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_without_explanations_score_as_tantivys_own() {
        struct Fixed;
        impl tantivy::query::Bm25StatisticsProvider for Fixed {
            fn total_num_tokens(&self, field: tantivy::schema::Field) -> tantivy::Result<u64> {
                Ok(1_234_567 * (u64::from(field.field_id()) + 1))
            }
            fn total_num_docs(&self) -> tantivy::Result<u64> {
                Ok(98_765)
            }
            fn doc_freq(&self, term: &tantivy::Term) -> tantivy::Result<u64> {
                Ok(term.serialized_value_bytes().len() as u64 * 977)
            }
        }
        let mut weights = Weights::new(&Fixed).unwrap();
        for field in 0..3 {
            for word in ["a", "bilancio", "partecipazione"] {
                let field = tantivy::schema::Field::from_field_id(field);
                let term = tantivy::Term::from_field_text(field, word);
                let ours = weights.of(&term).unwrap();
                let theirs =
                    tantivy::query::Bm25Weight::for_terms(&Fixed, std::slice::from_ref(&term))
                        .unwrap();
                for norm in [0u8, 1, 17, 128, 255] {
                    for freq in [1, 2, 7, 1000] {
                        assert_eq!(
                            ours.score(norm, freq).to_bits(),
                            theirs.score(norm, freq).to_bits(),
                            "{word} in {field:?}, norm {norm}, frequency {freq}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sums_left_by_a_search_that_failed_are_zeroed_before_the_next_uses_them() {
        let mut scratch = Sums {
            sums: Vec::new(),
            clean: true,
        };
        // A search that wrote and returned early: nothing marked the buffer clean.
        scratch.zeros(4)[2] = 1.5;
        assert_eq!(scratch.zeros(3), &[0.0; 3]);
        scratch.zeros(3)[1] = 2.5;
        assert!(scratch.zeros(8).iter().all(|&s| s == 0.0));
    }

    #[test]
    fn matches_are_scored_one_by_one_when_that_costs_fewer_seeks_than_the_union_has_postings() {
        // At 1M records (two segments, halved): `urbano` in one region, seven terms.
        assert!(one_by_one(16_000, 7, 326_000));
        // Four common words, 28 terms, 269,611 matches: WAND.
        assert!(!one_by_one(135_000, 28, 2_500_000));
        // A word in most records, unfiltered: more than one in eight of the union's postings.
        assert!(!one_by_one(420_000, 7, 890_000));
        // Few matches are scored one by one whatever the terms, if a small share.
        assert!(one_by_one(FEW_MATCHES, 200, FEW_MATCHES * WAND_SHARE + 1));
        assert!(!one_by_one(FEW_MATCHES, 200, FEW_MATCHES * WAND_SHARE));
    }

    #[test]
    fn marking_a_block_sets_the_same_bits_as_one_by_one() {
        let docs: Vec<DocId> = (0..5_000u32)
            .filter(|d| d % 3 == 0 || d % 7 == 1 || (1_000..1_200).contains(d))
            .collect();
        let mut one_by_one = vec![0u64; bitmap_words(5_000)];
        for &d in &docs {
            mark(&mut one_by_one, d);
        }
        let mut blocks = vec![0u64; bitmap_words(5_000)];
        for block in docs.chunks(128) {
            mark_sorted(&mut blocks, block);
        }
        assert_eq!(blocks, one_by_one);
        assert_eq!(set_bits(blocks.iter().copied()).collect::<Vec<_>>(), docs);
        // nothing to mark, and a document past the bitmap's end (ignored, not a panic)
        mark_sorted(&mut blocks, &[]);
        mark_sorted(&mut blocks, &[4_999, 64 * 1_000]);
        assert_eq!(blocks, one_by_one);
    }
}
