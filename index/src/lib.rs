//! Snodo's search index: the tantivy index derived from the store, and the search over it.
//!
//! This crate owns the index schema (with its [`SCHEMA_VERSION`]), the Italian and English text
//! analysis, the translation of the user's query language, filters, facets, sorting and snippets.
//! The index is **derived data**: the store (SQLite) is the truth, and every commit carries the
//! last applied store `seq` as its payload, so that the indexer catches up after a crash and
//! `snodo reindex` can rebuild it at any time.
//!
//! What it must not do:
//! - let tantivy types out: the public API is plain Rust types (the API crate does not depend on
//!   tantivy);
//! - read the store or do HTTP: it is handed records and answers searches;
//! - store a record's status: status is computed at query time from dates against `today`;
//! - open a second writer: one [`Index`] owns the only writer of its directory (another process
//!   opening the same directory gets [`IndexError::Locked`]).
//!
//! # Analysis
//!
//! The title, and the body (title, subtitle, summary and description together), go per locale
//! to an Italian (`it`), English (`en`) or generic field (every other locale). The analysers are
//! `SimpleTokenizer → RemoveLongFilter(40) → LowerCaser → AsciiFoldingFilter → stop words →
//! Stemmer` (Italian or English; none for generic). All three remove the same stop words
//! (Italian and English, folded: `più` and `piu` alike), so a stop word is ignored everywhere
//! rather than required in some field. Promoter, group, topics, scope, region and comune names
//! and methods are searchable too (generic analysis). Indexing analyses a document's texts on
//! the thread that builds it and hands the writer the terms (the `analysed` module), so that
//! tantivy's indexing thread only files them.
//!
//! # Query language
//!
//! All words must match, each in any field (the title counts three times: it is searched on its
//! own with boost 2 and again in the body with title, subtitle, summary and description; names
//! 1×); an open record's score counts 1.15× and an upcoming one's 1.05×, so among equally good
//! matches what people can take part in comes first. `"phrases"`, `( )`, `AND`, `OR`, `NOT`,
//! `-word`. Unbalanced quotes or parentheses and
//! queries over [`MAX_QUERY_CHARS`] characters are [`IndexError::Query`]; other syntax characters
//! are treated as spaces. While the last word is being typed (no trailing space, ≥ 2 characters)
//! it is completed from the words in the index: `bilancio parte` searches
//! `bilancio (parte OR partecipativo OR …)`. A word of 5+ letters that no record has is
//! corrected to the words of the index within one edit (two from 9 letters): `partecipatvo`
//! searches `(partecipatvo OR partecipativo)`; a word some record has is never corrected.
//! Details in the `query` module.
//!
//! # On disk
//!
//! `dir/CURRENT` names the active generation directory (`dir/gen-N/`), which holds the tantivy
//! files and a `snodo-index-version` file. A generation written with another schema version is
//! replaced on open by a new empty one and [`Index::needs_rebuild`] reports it; [`Index::rebuild`]
//! always builds a fresh generation next to the current one and switches `CURRENT` atomically
//! (write-then-rename), so searches see either the old or the new index, never a half-built one,
//! and a crash during a rebuild leaves the old index in place.

mod analysed;
mod collect;
mod document;
mod error;
mod exclusion;
mod files;
mod packed;
mod pairs;
mod query;
mod schema;
mod search;
mod snippet;
mod stem;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use chrono::NaiveDate;
use snodo_model::Record;
use tantivy::directory::error::LockError;
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

pub use error::IndexError;
pub use query::{MAX_COMPLETIONS, MAX_QUERY_CHARS};
pub use schema::{SCHEMA_VERSION, VERSION_FILE};
pub use search::{
    Above, Facets, Scope, SearchHit, SearchRequest, SearchResults, Sort, MAX_LIMIT, MAX_OFFSET,
    SNIPPET_CHARS, SUMMARY_CHARS,
};

use error::engine;
use schema::Fields;

/// Memory budget of the index writer.
const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;
/// Memory budget per indexing thread during a rebuild (a bulk load; up to 4 threads).
const BULK_HEAP_PER_THREAD: usize = 64 * 1024 * 1024;
/// Name of the file that points at the active generation directory.
const CURRENT_FILE: &str = "CURRENT";
/// Prefix of generation directory names.
const GENERATION_PREFIX: &str = "gen-";

/// A change to apply to the index, in store `seq` order.
#[derive(Debug, Clone)]
pub enum IndexChange {
    /// Add the record, replacing any document with the same id.
    Upsert(Box<Record>),
    /// Remove the record with this id (`source:kind:upstream_id`).
    Remove(String),
}

/// One tantivy index with its reader and its writer.
struct Generation {
    reader: IndexReader,
    /// The one writer; `None` once the generation has been replaced.
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    fields: Fields,
    /// `dir/gen-N` on disk, `None` in RAM.
    dir: Option<PathBuf>,
    last_seq: AtomicU64,
    /// The common words of the searcher last seen, for completing the word being typed.
    common: Mutex<CommonState>,
    /// The fast-field columns of each segment, opened once.
    columns: collect::ColumnCache,
    /// The common words whose pairs every document of this generation has, if chosen.
    pairs: Option<Arc<pairs::PairWords>>,
}

/// Which searcher the common words are of (tantivy's generation id), and whether a build is
/// under way: one at a time, so a burst of commits (every source of a scheduled round) costs one
/// build for the newest searcher, not one per commit.
#[derive(Default)]
struct CommonState {
    of: Option<u64>,
    table: Option<Arc<query::CommonWords>>,
    building: bool,
}

impl Generation {
    fn new(
        index: tantivy::Index,
        fields: Fields,
        dir: Option<PathBuf>,
        pairs: Option<pairs::PairWords>,
    ) -> Result<Self, IndexError> {
        Self::with_writer(index, fields, dir, pairs, true)
    }

    /// `writable = false` opens a reader only: for searching while another process writes.
    fn with_writer(
        mut index: tantivy::Index,
        fields: Fields,
        dir: Option<PathBuf>,
        pairs: Option<pairs::PairWords>,
        writable: bool,
    ) -> Result<Self, IndexError> {
        schema::register_tokenizers(index.tokenizers());
        // Segments are searched in parallel, one thread per core: a search that matches much
        // of a large index is split over the cores (see `balance_segments`) when no other
        // search is running (see `Index::search`).
        index
            .set_multithread_executor(search_threads())
            .map_err(engine)?;
        let writer = if writable {
            Some(open_writer(&index, 1, WRITER_HEAP_BYTES, dir.as_deref())?)
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine)?;
        let last_seq = read_payload(&index)?;
        Ok(Generation {
            reader,
            writer: Mutex::new(writer),
            fields,
            dir,
            last_seq: AtomicU64::new(last_seq),
            common: Mutex::new(CommonState::default()),
            columns: collect::ColumnCache::default(),
            pairs: pairs.map(Arc::new),
        })
    }

    fn in_ram(pairs: Option<pairs::PairWords>) -> Result<Self, IndexError> {
        let (schema, fields) = schema::build_schema();
        let index = tantivy::Index::builder()
            .schema(schema)
            .settings(schema::index_settings())
            .create_in_ram()
            .map_err(engine)?;
        Generation::new(index, fields, None, pairs)
    }

    /// Creates an empty generation in a new directory under `base`, with its common words.
    fn create_on_disk(base: &Path, pairs: Option<pairs::PairWords>) -> Result<Self, IndexError> {
        let name = next_generation_name(base)?;
        let dir = base.join(&name);
        fs::create_dir_all(&dir).map_err(|e| IndexError::io(&dir, e))?;
        write_file_synced(
            &dir.join(VERSION_FILE),
            format!("{SCHEMA_VERSION}\n").as_bytes(),
        )?;
        if let Some(p) = &pairs {
            write_file_synced(&dir.join(pairs::FILE), p.to_file_text().as_bytes())?;
        }
        let (schema, fields) = schema::build_schema();
        let index = tantivy::Index::create(index_files(&dir)?, schema, schema::index_settings())
            .map_err(engine)?;
        Generation::new(index, fields, Some(dir), pairs)
    }

    /// Opens the generation in `dir`; `Ok(None)` when it was written with another schema.
    fn open_on_disk(dir: &Path) -> Result<Option<Self>, IndexError> {
        Self::open_on_disk_as(dir, true)
    }

    fn open_on_disk_as(dir: &Path, writable: bool) -> Result<Option<Self>, IndexError> {
        let version_path = dir.join(VERSION_FILE);
        let version = match fs::read_to_string(&version_path) {
            Ok(v) => v.trim().parse::<u32>().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(IndexError::io(version_path, e)),
        };
        if let Some(found) = version.filter(|&v| v > SCHEMA_VERSION) {
            return Err(IndexError::Newer {
                path: dir.to_owned(),
                found,
                reads: SCHEMA_VERSION,
            });
        }
        if version != Some(SCHEMA_VERSION) || !dir.join("meta.json").exists() {
            tracing::warn!(
                dir = %dir.display(),
                found = ?version,
                expected = SCHEMA_VERSION,
                "search index has another schema version; it will be rebuilt"
            );
            return Ok(None);
        }
        let index = tantivy::Index::open(index_files(dir)?).map_err(engine)?;
        let Some(fields) = schema::fields_of(&index.schema()) else {
            tracing::warn!(dir = %dir.display(), "search index schema differs from this build's; it will be rebuilt");
            return Ok(None);
        };
        let pairs = pairs::PairWords::read(dir)?;
        Generation::with_writer(index, fields, Some(dir.to_owned()), pairs, writable).map(Some)
    }

    fn writer(&self) -> MutexGuard<'_, Option<IndexWriter<TantivyDocument>>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits what the writer holds with `seq` as payload and makes it visible.
    fn commit(&self, writer: &mut IndexWriter<TantivyDocument>, seq: u64) -> tantivy::Result<()> {
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&seq.to_string());
        prepared.commit()?;
        self.reader.reload()?;
        self.last_seq.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// Stops the writer (waiting for merges) so that the directory can be removed.
    fn retire(&self) {
        if let Some(w) = self.writer().take() {
            if let Err(e) = w.wait_merging_threads() {
                tracing::warn!(error = %e, "search index: merge threads ended with an error");
            }
        }
    }
}

/// The files of a generation: mapped with random-access advice, a search reading a few blocks
/// here and there (a word's postings), and the stored text read rather than mapped (see
/// [`files`]). Read-ahead and fault-around brought in, and counted against the process, pages
/// around each block that no search asked for: at 1M records under a 300 MB memory limit the
/// median search took 147 ms with the default advice and 5.4 ms with random-access advice.
fn index_files(dir: &Path) -> Result<files::IndexFiles, IndexError> {
    files::IndexFiles::open(dir).map_err(|e| IndexError::Engine {
        message: format!("cannot open the search index in {}: {e}", dir.display()),
    })
}

/// Threads a search is split over: the cores, at most 4 (in tests at least 2, so that the
/// split is exercised on any machine).
fn search_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if cfg!(test) {
        cores.max(2)
    } else {
        cores
    }
}

/// Merges the segments of a bulk load into `n` of about equal size. Each bulk thread leaves
/// many small segments; a search looks every word up in each and walks them one per thread,
/// so `n` equal segments are both the fewest lookups and an even split of the work.
fn balance_segments(writer: &mut IndexWriter<TantivyDocument>, n: usize) -> Result<(), IndexError> {
    let metas = writer.index().searchable_segment_metas().map_err(engine)?;
    if metas.len() <= n {
        return Ok(());
    }
    let started = Instant::now();
    for m in start_balanced_merges(writer, &metas, n) {
        m.wait().map_err(engine)?;
    }
    tracing::info!(
        from = metas.len(),
        to = n,
        ms = started.elapsed().as_millis() as u64,
        "search index segments merged"
    );
    Ok(())
}

/// Starts the merges that leave `metas` as `n` segments of about equal size (largest first,
/// each into the bin with the fewest documents so far); returns them to wait for.
fn start_balanced_merges(
    writer: &mut IndexWriter<TantivyDocument>,
    metas: &[tantivy::index::SegmentMeta],
    n: usize,
) -> Vec<tantivy::FutureResult<Option<tantivy::index::SegmentMeta>>> {
    let mut metas = metas.to_vec();
    metas.sort_by_key(|m| std::cmp::Reverse(m.num_docs()));
    let mut bins: Vec<(u64, Vec<tantivy::index::SegmentId>)> = vec![(0, Vec::new()); n.max(1)];
    for m in &metas {
        if let Some(bin) = bins.iter_mut().min_by_key(|b| b.0) {
            bin.0 += u64::from(m.num_docs());
            bin.1.push(m.id());
        }
    }
    bins.iter()
        .filter(|b| b.1.len() > 1)
        .map(|b| writer.merge(&b.1))
        .collect()
}

/// An index with fewer live documents than this is left as its commits made it: its searches
/// are fast whatever its segments.
#[cfg(not(test))]
const MIN_DOCS_TO_COMPACT: u64 = 10_000;
#[cfg(test)]
const MIN_DOCS_TO_COMPACT: u64 = 1;
/// Compacted when the segments beyond the `n` largest hold at least this share of the documents
/// (a first harvest of 1M records left 8 segments, a third of the records beyond the two
/// largest), not for the few small segments a daily harvest adds, which the merge policy keeps
/// in check without rewriting the whole index.
const MIN_SHARE_TO_COMPACT: f64 = 0.1;

/// Whether segments of `live` documents each are worth merging into `n` segments.
fn worth_compacting(live: &[u64], n: usize) -> bool {
    let total: u64 = live.iter().sum();
    if live.len() <= n || total < MIN_DOCS_TO_COMPACT {
        return false;
    }
    let mut sorted = live.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let beyond: u64 = sorted[n..].iter().sum();
    beyond as f64 >= MIN_SHARE_TO_COMPACT * total as f64
}

/// What [`Index::compact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub segments_before: usize,
    pub segments_after: usize,
    /// Live documents in the index.
    pub docs: u64,
    pub ms: u64,
}

/// Replaces a generation's writer by one with another thread count and memory budget.
fn swap_writer(
    slot: &mut Option<IndexWriter<TantivyDocument>>,
    threads: usize,
    heap: usize,
    dir: Option<&Path>,
) -> Result<(), IndexError> {
    let Some(old) = slot.take() else {
        return Err(IndexError::Engine {
            message: "the index writer was closed".into(),
        });
    };
    let index = old.index().clone();
    // Joins the old writer's threads and releases the directory lock for the new one.
    old.wait_merging_threads().map_err(engine)?;
    *slot = Some(open_writer(&index, threads, heap, dir)?);
    Ok(())
}

/// A segment with this share of its documents deleted is rewritten (tantivy's default, 1.0,
/// never does): every harvest deletes the old versions of the records it changes, and after 200
/// harvests of 1,000 changes the first segment of a 100,000-record index held 49,000 deleted
/// documents that every search still walked.
const DELETED_SHARE_BEFORE_MERGE: f32 = 0.25;
/// Segments of about the same size merged together as soon as there are this many (tantivy: 8).
/// A search looks every word up in every segment: fewer segments after many small harvests.
const SEGMENTS_PER_MERGE: usize = 4;

fn open_writer(
    index: &tantivy::Index,
    threads: usize,
    heap: usize,
    dir: Option<&Path>,
) -> Result<IndexWriter<TantivyDocument>, IndexError> {
    // The writer's own handle on the index, with the tokenizers that read analysed texts (see
    // `analysed`); searches keep the index's analysers.
    let mut index = index.clone();
    index.set_tokenizers(analysed::write_tokenizers());
    let writer = index
        .writer_with_num_threads(threads, heap)
        .map_err(|e| writer_error(e, dir))?;
    writer.set_merge_policy(merge_policy());
    Ok(writer)
}

fn merge_policy() -> Box<dyn tantivy::indexer::MergePolicy> {
    Box::new(BoundedMerges)
}

/// A merge's output is kept under this share of the index's documents (`1 / n`): the merges
/// of a first harvest then leave many middle-sized segments instead of a few large ones, and
/// the compaction that ends it ([`Index::compact`]) can bin them into parts of about equal
/// size. tantivy's log merges of 1M records left 320,000-record segments, compacted into
/// 640,000 + 360,000: a lone search, split over two threads, waited for the larger part.
const MERGED_SHARE_DIVISOR: u64 = 8;
/// ...but a small index's merges may reach this many documents, so that a few records
/// committed by each of many harvest runs never pile up as hundreds of tiny segments.
#[cfg(not(test))]
const MERGED_MIN_DOCS: u64 = 10_000;
#[cfg(test)]
const MERGED_MIN_DOCS: u64 = 10;
/// Segments whose sizes are within this factor (as a base-2 logarithm, tantivy's 0.75) are of
/// one level, merged together; every segment under `MERGED_MIN_DOCS` is of the lowest.
const LEVEL_LOG_SIZE: f64 = 0.75;

/// Log merges (segments of about the same size merged together, [`SEGMENTS_PER_MERGE`] at
/// least) whose output stays under [`mergeable_docs`], and, alone, a segment of any size once
/// a large share of it is deleted versions.
#[derive(Debug, Clone, Copy)]
struct BoundedMerges;

/// The most live documents a merge may produce in an index of `total`.
fn mergeable_docs(total: u64) -> u64 {
    (total / MERGED_SHARE_DIVISOR).max(MERGED_MIN_DOCS)
}

/// The merges of [`BoundedMerges`] among segments of `(live, deleted)` documents, as indexes
/// into `segments`.
fn bounded_merges(segments: &[(u64, u64)]) -> Vec<Vec<usize>> {
    let total: u64 = segments.iter().map(|s| s.0).sum();
    let cap = mergeable_docs(total);
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(segments[i].0));
    // Levels, largest first, as tantivy's log merge policy draws them.
    let mut levels: Vec<Vec<usize>> = Vec::new();
    let mut level_top = f64::MAX;
    for i in order {
        let log_size = (segments[i].0.max(MERGED_MIN_DOCS) as f64).log2();
        if log_size < level_top - LEVEL_LOG_SIZE || levels.is_empty() {
            level_top = log_size;
            levels.push(Vec::new());
        }
        if let Some(level) = levels.last_mut() {
            level.push(i);
        }
    }
    let mut merges = Vec::new();
    for level in &levels {
        // Smallest first, as many as fit under the cap per merge.
        let (mut merge, mut docs) = (Vec::new(), 0);
        for &i in level.iter().rev() {
            if docs + segments[i].0 > cap {
                if merge.len() >= SEGMENTS_PER_MERGE {
                    merges.push(std::mem::take(&mut merge));
                }
                (merge, docs) = (Vec::new(), 0);
            }
            if segments[i].0 <= cap {
                merge.push(i);
                docs += segments[i].0;
            }
        }
        if merge.len() >= SEGMENTS_PER_MERGE {
            merges.push(merge);
        }
    }
    let mut merged = vec![false; segments.len()];
    for &i in merges.iter().flatten() {
        merged[i] = true;
    }
    for (i, &(live, deleted)) in segments.iter().enumerate() {
        let all = live + deleted;
        let mostly_deleted =
            all > 0 && deleted as f64 > f64::from(DELETED_SHARE_BEFORE_MERGE) * all as f64;
        if mostly_deleted && !merged[i] {
            merges.push(vec![i]);
        }
    }
    merges
}

impl tantivy::indexer::MergePolicy for BoundedMerges {
    fn compute_merge_candidates(
        &self,
        segments: &[tantivy::index::SegmentMeta],
    ) -> Vec<tantivy::indexer::MergeCandidate> {
        let sizes: Vec<(u64, u64)> = segments
            .iter()
            .map(|m| (u64::from(m.num_docs()), u64::from(m.num_deleted_docs())))
            .collect();
        bounded_merges(&sizes)
            .into_iter()
            .map(|m| {
                tantivy::indexer::MergeCandidate(m.into_iter().map(|i| segments[i].id()).collect())
            })
            .collect()
    }
}

/// Documents built ahead of the writer by [`Index::apply_batches`]: enough to keep the builder
/// busy while the writer commits (a 5,000-record segment takes about a fifth of a second to
/// write), few enough to cost about 10 MB.
const BUILT_AHEAD: usize = 2_000;

/// Changes [`Index::apply_batches`] commits together: each commit makes a segment, which the
/// merges rewrite later, so not too few; their documents wait in memory until the commit, so
/// not too many.
#[cfg(not(test))]
const CHANGES_PER_COMMIT: usize = 5_000;
#[cfg(test)]
const CHANGES_PER_COMMIT: usize = 2;

/// A change as the writer takes it.
enum Op {
    /// Remove the document of this id: a record gone, or a duplicate of another.
    Delete(String),
    /// Replace the document of this id.
    Upsert(String, Box<TantivyDocument>),
}

/// What [`Index::apply_batches`]'s builder hands the writer.
enum Step {
    Write(Op),
    /// Commit what was written, with this `seq`.
    Commit(u64),
}

impl Generation {
    /// The index document of `record`, its texts analysed by `analyzers`.
    fn document(
        &self,
        analyzers: &mut analysed::Analyzers,
        record: &Record,
    ) -> Result<TantivyDocument, IndexError> {
        document::to_document(&self.fields, record, analyzers, self.pairs.as_deref()).map_err(|e| {
            IndexError::Engine {
                message: format!("record {}: {e}", record.id),
            }
        })
    }

    /// What the writer does for `change`: the costly part (the document, its texts analysed).
    fn prepare(
        &self,
        analyzers: &mut analysed::Analyzers,
        change: &IndexChange,
    ) -> Result<Op, IndexError> {
        Ok(match change {
            // A duplicate of a record with a smaller id: that one is the result.
            IndexChange::Upsert(record) if !document::is_canonical(record) => {
                Op::Delete(record.id.to_string())
            }
            IndexChange::Upsert(record) => Op::Upsert(
                record.id.to_string(),
                Box::new(self.document(analyzers, record)?),
            ),
            IndexChange::Remove(id) => Op::Delete(id.clone()),
        })
    }
}

/// Hands one prepared change to the writer (an upsert is a delete of the id, then an add).
fn write(
    writer: &IndexWriter<TantivyDocument>,
    id_field: tantivy::schema::Field,
    op: Op,
) -> Result<(), IndexError> {
    match op {
        Op::Delete(id) => {
            writer.delete_term(Term::from_field_text(id_field, &id));
        }
        Op::Upsert(id, doc) => {
            writer.delete_term(Term::from_field_text(id_field, &id));
            writer.add_document(*doc).map_err(engine)?;
        }
    }
    Ok(())
}

fn roll_back(writer: &mut IndexWriter<TantivyDocument>, e: &IndexError) {
    tracing::error!(error = %e, "search index: applying changes failed; rolling back");
    if let Err(r) = writer.rollback() {
        tracing::error!(error = %r, "search index: rollback failed");
    }
}

fn writer_closed() -> IndexError {
    IndexError::Engine {
        message: "the index writer was closed".into(),
    }
}

fn writer_error(e: TantivyError, dir: Option<&Path>) -> IndexError {
    match (&e, dir) {
        (TantivyError::LockFailure(LockError::LockBusy, _), Some(d)) => {
            IndexError::Locked { path: d.to_owned() }
        }
        _ => engine(e),
    }
}

fn read_payload(index: &tantivy::Index) -> Result<u64, IndexError> {
    let metas = index.load_metas().map_err(engine)?;
    Ok(match metas.payload.as_deref() {
        None => 0,
        Some(p) => p.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(
                payload = p,
                "search index: unreadable commit payload; assuming seq 0"
            );
            0
        }),
    })
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    let mut f = fs::File::create(path).map_err(|e| IndexError::io(path, e))?;
    f.write_all(bytes).map_err(|e| IndexError::io(path, e))?;
    f.sync_all().map_err(|e| IndexError::io(path, e))
}

/// Points `CURRENT` at `name`: written to a temporary file, then renamed over (atomic).
fn switch_current(base: &Path, name: &str) -> Result<(), IndexError> {
    let tmp = base.join(format!("{CURRENT_FILE}.tmp"));
    write_file_synced(&tmp, format!("{name}\n").as_bytes())?;
    let current = base.join(CURRENT_FILE);
    fs::rename(&tmp, &current).map_err(|e| IndexError::io(&current, e))?;
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(base) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix(GENERATION_PREFIX)?.parse().ok()
}

fn generation_dirs(base: &Path) -> Result<Vec<(u64, String)>, IndexError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(base).map_err(|e| IndexError::io(base, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| IndexError::io(base, e))?;
        if let Some(name) = entry.file_name().to_str() {
            if let Some(n) = generation_number(name) {
                out.push((n, name.to_owned()));
            }
        }
    }
    Ok(out)
}

fn next_generation_name(base: &Path) -> Result<String, IndexError> {
    let max = generation_dirs(base)?
        .into_iter()
        .map(|(n, _)| n)
        .max()
        .unwrap_or(0);
    Ok(format!("{GENERATION_PREFIX}{}", max + 1))
}

fn remove_dir_logged(dir: &Path) {
    if let Err(e) = fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "search index: could not remove an old generation");
    }
}

/// The search index. `Send + Sync`: share it behind an `Arc`; writes are serialised inside.
pub struct Index {
    /// Base directory, `None` in RAM.
    base: Option<PathBuf>,
    current: RwLock<Arc<Generation>>,
    /// Serialises `apply` and `rebuild`.
    write_lock: Mutex<()>,
    needs_rebuild: AtomicBool,
    /// Bumped each time searches may see different documents (see [`Index::version`]).
    version: AtomicU64,
    /// Searches running now: one alone is split over the cores, several each keep to one.
    searching: AtomicUsize,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("base", &self.base)
            .field("num_docs", &self.num_docs())
            .field("last_applied_seq", &self.last_applied_seq())
            .field("needs_rebuild", &self.needs_rebuild())
            .finish()
    }
}

impl Index {
    /// Opens the index in `dir`, creating it if missing. When the index is new, or was written
    /// with another [`SCHEMA_VERSION`] (or its generation directory is missing), an empty index
    /// of the current version is created and [`Index::needs_rebuild`] is true: call
    /// [`Index::rebuild`] with every record.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
        let current_path = dir.join(CURRENT_FILE);
        let current_name = match fs::read_to_string(&current_path) {
            Ok(s) => Some(s.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(IndexError::io(current_path, e)),
        };
        let existing = match &current_name {
            Some(name) if generation_number(name).is_some() && dir.join(name).is_dir() => {
                Generation::open_on_disk(&dir.join(name))?
            }
            _ => None,
        };
        let (generation, needs_rebuild) = match existing {
            Some(g) => (g, false),
            None => {
                let g = Generation::create_on_disk(dir, None)?;
                let name = generation_name(&g)?;
                switch_current(dir, &name)?;
                // New or replaced: either way the store may hold records the index lacks.
                if current_name.is_none() {
                    tracing::info!(dir = %dir.display(), "search index created");
                }
                (g, true)
            }
        };
        // Leftovers: replaced generations, or a rebuild that crashed before switching.
        let keep = generation_name(&generation)?;
        for (_, name) in generation_dirs(dir)? {
            if name != keep {
                remove_dir_logged(&dir.join(name));
            }
        }
        tracing::info!(
            dir = %dir.display(),
            generation = %keep,
            docs = generation.reader.searcher().num_docs(),
            last_seq = generation.last_seq.load(Ordering::SeqCst),
            needs_rebuild,
            "search index opened"
        );
        Ok(Index {
            base: Some(dir.to_owned()),
            current: RwLock::new(Arc::new(generation)),
            write_lock: Mutex::new(()),
            needs_rebuild: AtomicBool::new(needs_rebuild),
            version: AtomicU64::new(0),
            searching: AtomicUsize::new(0),
        })
    }

    /// Opens the current index in `dir` for searching only, without taking the writer lock: for
    /// `snodo search` while `snodo serve` owns the writer. Fails when there is no usable index.
    pub fn open_read_only(dir: &Path) -> Result<Index, IndexError> {
        let current_path = dir.join(CURRENT_FILE);
        let name =
            fs::read_to_string(&current_path).map_err(|e| IndexError::io(&current_path, e))?;
        let name = name.trim();
        let generation = Generation::open_on_disk_as(&dir.join(name), false)?.ok_or_else(|| {
            IndexError::Corrupt {
                message: format!(
                    "the index in {} has another schema version; run `snodo reindex`",
                    dir.display()
                ),
            }
        })?;
        Ok(Index {
            base: Some(dir.to_owned()),
            current: RwLock::new(Arc::new(generation)),
            write_lock: Mutex::new(()),
            needs_rebuild: AtomicBool::new(false),
            version: AtomicU64::new(0),
            searching: AtomicUsize::new(0),
        })
    }

    /// An index in memory, for tests.
    pub fn open_in_ram() -> Result<Index, IndexError> {
        Ok(Index {
            base: None,
            current: RwLock::new(Arc::new(Generation::in_ram(None)?)),
            write_lock: Mutex::new(()),
            needs_rebuild: AtomicBool::new(false),
            version: AtomicU64::new(0),
            searching: AtomicUsize::new(0),
        })
    }

    fn generation(&self) -> Arc<Generation> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The store `seq` of the last commit (its payload); 0 for an empty or new index.
    pub fn last_applied_seq(&self) -> u64 {
        self.generation().last_seq.load(Ordering::SeqCst)
    }

    /// Changes whenever a search may answer differently (a commit, a rebuild), so a cache of
    /// answers keyed by it never serves a stale one. Not persisted: it starts at 0 in each
    /// process.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// True when [`Index::open`] had to create the index empty (new directory, or another
    /// schema version): the caller should call [`Index::rebuild`] with every record. Cleared by a
    /// successful rebuild. Always false for [`Index::open_in_ram`].
    pub fn needs_rebuild(&self) -> bool {
        self.needs_rebuild.load(Ordering::SeqCst)
    }

    /// True when the index has grown large enough for phrases of common words to be worth a
    /// term of their own (see the `pairs` module) but was created without choosing those words
    /// (a new installation filled by harvests), or chose them from a quarter of its records or
    /// fewer: a [`Index::rebuild`] chooses them from the whole index. Until then phrases are
    /// answered from positions (exactly, more slowly), or from pairs of words that may not be
    /// the commonest.
    pub fn lacks_pair_words(&self) -> bool {
        let g = self.generation();
        let docs = g.reader.searcher().num_docs();
        match &g.pairs {
            None => docs >= pairs::SAMPLE as u64,
            // Chosen from the first records of a store several times larger.
            Some(p) => p.chosen_from().saturating_mul(4) < docs,
        }
    }

    /// Number of searchable documents.
    pub fn num_docs(&self) -> u64 {
        self.generation().reader.searcher().num_docs()
    }

    /// Applies changes (upsert = delete by id term + add), commits with payload `up_to_seq`,
    /// reloads the reader. On error nothing of this batch is committed.
    pub fn apply(&self, changes: &[IndexChange], up_to_seq: u64) -> Result<(), IndexError> {
        let _serial = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation();
        if changes.is_empty() && up_to_seq == generation.last_seq.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut guard = generation.writer();
        let writer = guard.as_mut().ok_or_else(writer_closed)?;
        let mut analyzers = analysed::Analyzers::new();
        let result = (|| -> Result<(), IndexError> {
            for change in changes {
                write(
                    writer,
                    generation.fields.id,
                    generation.prepare(&mut analyzers, change)?,
                )?;
            }
            generation.commit(writer, up_to_seq).map_err(engine)
        })();
        // Bumped after a failure too: a rollback reloads nothing, but costs one cache refill.
        self.version.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = &result {
            roll_back(writer, e);
        }
        result
    }

    /// Applies `batches` of changes in order and returns how many changes were applied. They
    /// are committed as [`Index::apply`] does, once [`CHANGES_PER_COMMIT`] have been written
    /// and after the last batch, with the `seq` of the last batch written. The documents are
    /// built (their texts analysed) on a thread of their own, up to [`BUILT_AHEAD`] ahead of the
    /// writer: while the writer commits, the next batches are read (by `batches`) and built, so
    /// small batches keep the records read at once few. On error what was committed stays and
    /// the rest is rolled back.
    pub fn apply_batches(
        &self,
        batches: &mut (dyn Iterator<Item = (Vec<IndexChange>, u64)> + Send),
    ) -> Result<u64, IndexError> {
        let _serial = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation();
        let mut guard = generation.writer();
        let writer = guard.as_mut().ok_or_else(writer_closed)?;
        let built_by = &*generation;
        let result = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(BUILT_AHEAD);
            let builder = scope.spawn(move || {
                let mut analyzers = analysed::Analyzers::new();
                // Changes sent since the last commit, and the seq they reach.
                let (mut uncommitted, mut reached) = (0, None);
                for (changes, seq) in batches {
                    for change in &changes {
                        let op = built_by.prepare(&mut analyzers, change).map(Step::Write);
                        let failed = op.is_err();
                        // A closed receiver means the writer failed; it reports why.
                        if tx.send(op).is_err() || failed {
                            return;
                        }
                    }
                    uncommitted += changes.len();
                    reached = Some(seq);
                    if uncommitted >= CHANGES_PER_COMMIT {
                        if tx.send(Ok(Step::Commit(seq))).is_err() {
                            return;
                        }
                        (uncommitted, reached) = (0, None);
                    }
                }
                if let Some(seq) = reached {
                    // The receiver may be gone: the writer failed and reports why.
                    let _ = tx.send(Ok(Step::Commit(seq)));
                }
            });
            // The receiver is dropped when this returns, which stops the builder on failure.
            let written = (|| -> Result<u64, IndexError> {
                let (mut applied, mut pending) = (0, 0);
                for step in rx {
                    match step? {
                        Step::Commit(seq) => {
                            let committed = generation.commit(writer, seq).map_err(engine);
                            self.version.fetch_add(1, Ordering::SeqCst);
                            committed?;
                            applied += std::mem::take(&mut pending);
                        }
                        Step::Write(op) => {
                            write(writer, generation.fields.id, op)?;
                            pending += 1;
                        }
                    }
                }
                Ok(applied)
            })();
            // A builder that panicked left its batch half written: rolled back below.
            match builder.join() {
                Ok(()) => written,
                Err(_) => Err(IndexError::Engine {
                    message: "the thread building documents panicked".into(),
                }),
            }
        });
        if let Err(e) = &result {
            self.version.fetch_add(1, Ordering::SeqCst);
            roll_back(writer, e);
        }
        result
    }

    /// Replaces the whole index with `records`, committed once with payload `up_to_seq`.
    /// Returns the number of documents. On disk the new index is built in a fresh generation
    /// directory and switched to atomically; until then searches see the old one.
    pub fn rebuild(
        &self,
        records: &mut dyn Iterator<Item = Record>,
        up_to_seq: u64,
    ) -> Result<u64, IndexError> {
        let _serial = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        // The common words whose pairs every document gets: from the index being replaced when
        // it is large enough, else from the first records.
        let mut records = records.filter(document::is_canonical);
        let mut analyzers = analysed::Analyzers::new();
        let old = self.generation();
        let old_searcher = old.reader.searcher();
        let (sample, words) = if old_searcher.num_docs() >= pairs::SAMPLE as u64 {
            let words = pairs::PairWords::from_index(&old_searcher, &old.fields, &mut analyzers)?;
            (Vec::new(), Some(words))
        } else {
            let sample: Vec<Record> = records.by_ref().take(pairs::SAMPLE).collect();
            let words = (sample.len() == pairs::SAMPLE)
                .then(|| pairs::PairWords::choose(&sample, &mut analyzers));
            (sample, words)
        };
        drop((old, old_searcher));
        let chosen = words.as_ref().map_or(0, pairs::PairWords::len);
        let triples = words.as_ref().map_or(0, pairs::PairWords::triples);
        let fresh = match &self.base {
            Some(base) => Generation::create_on_disk(base, words)?,
            None => Generation::in_ram(words)?,
        };
        let built = (|| -> Result<u64, IndexError> {
            let mut guard = fresh.writer();
            // A rebuild is a bulk load into an empty index: more threads and memory than the
            // everyday writer, which is put back once the load is committed.
            let threads = search_threads();
            swap_writer(
                &mut guard,
                threads,
                BULK_HEAP_PER_THREAD * threads,
                fresh.dir.as_deref(),
            )?;
            let writer = guard.as_mut().ok_or_else(|| IndexError::Engine {
                message: "the index writer was closed".into(),
            })?;
            // Segments are balanced by hand after the load (`balance_segments`): a background
            // merge started by the commit would take some of them away from under those merges
            // ("the segments that were merged could not be found"). The everyday writer put
            // back afterwards has the usual policy.
            writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
            let mut n = 0u64;
            // Upsert semantics here too: an iterator repeating an id leaves one document. The
            // index starts empty, so only a repeated id needs a delete (hashes: 8 bytes a record;
            // a collision only costs a harmless delete of the record's own id).
            let mut seen = std::collections::HashSet::new();
            for record in sample.into_iter().chain(records) {
                let doc = fresh.document(&mut analyzers, &record)?;
                let id = record.id.to_string();
                if !seen.insert(document::id_hash(&id)) {
                    writer.delete_term(Term::from_field_text(fresh.fields.id, &id));
                }
                writer.add_document(doc).map_err(engine)?;
                n += 1;
            }
            fresh.commit(writer, up_to_seq).map_err(engine)?;
            balance_segments(writer, search_threads())?;
            // The segments merged away stay on disk until the next commit's clean-up, which
            // may be a day off: at 1M records that doubled the index (6.1 GB for 3.2 GB live).
            writer.garbage_collect_files().wait().map_err(engine)?;
            fresh.reader.reload().map_err(engine)?;
            swap_writer(&mut guard, 1, WRITER_HEAP_BYTES, fresh.dir.as_deref())?;
            Ok(n)
        })();
        let added = match built {
            Ok(n) => n,
            Err(e) => {
                fresh.retire();
                if let Some(d) = &fresh.dir {
                    remove_dir_logged(d);
                }
                return Err(e);
            }
        };
        if let (Some(base), Some(_)) = (&self.base, &fresh.dir) {
            switch_current(base, &generation_name(&fresh)?)?;
        }
        let old = {
            let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *cur, Arc::new(fresh))
        };
        old.retire();
        if let Some(d) = &old.dir {
            remove_dir_logged(d);
        }
        self.needs_rebuild.store(false, Ordering::SeqCst);
        self.version.fetch_add(1, Ordering::SeqCst);
        let docs = self.num_docs();
        tracing::info!(
            records = added,
            docs,
            seq = up_to_seq,
            pair_words = chosen,
            pair_triples = triples,
            ms = started.elapsed().as_millis() as u64,
            "search index rebuilt"
        );
        Ok(docs)
    }

    /// Merges the index's segments into one per search thread when many small ones hold a good
    /// share of the records: a harvest commits every 5,000 changes and the merge policy leaves
    /// a first harvest of 1M records in 8 segments, in each of which every search looks every
    /// word up (compacted, the server spent 15–20 % less CPU on the same queries at 100k, 3–13 %
    /// at 1M). Call it when a round of harvests has ended; `Ok(None)` when there was nothing to
    /// do. Searches go on meanwhile, and so do commits: only starting the merges holds the writer.
    pub fn compact(&self) -> Result<Option<Compaction>, IndexError> {
        let generation = self.generation();
        let n = search_threads();
        let started = Instant::now();
        let (before, docs, merges) = {
            let _serial = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut guard = generation.writer();
            let Some(writer) = guard.as_ref() else {
                return Ok(None);
            };
            let live = |metas: &[tantivy::index::SegmentMeta]| -> Vec<u64> {
                metas.iter().map(|m| u64::from(m.num_docs())).collect()
            };
            let metas = writer.index().searchable_segment_metas().map_err(engine)?;
            if !worth_compacting(&live(&metas), n) {
                // A merge the policy ended after the last commit left its inputs' files, which
                // the next commit's clean-up would only remove a day later.
                writer.garbage_collect_files().wait().map_err(engine)?;
                return Ok(None);
            }
            // A merge the policy started may hold some of these segments: ours would then fail
            // at its end. Swapping the writer waits for those, and ours run with no policy.
            swap_writer(&mut guard, 1, WRITER_HEAP_BYTES, generation.dir.as_deref())?;
            let writer = guard.as_mut().ok_or_else(|| IndexError::Engine {
                message: "the index writer was closed".into(),
            })?;
            // The policy's merges may have done the work (their inputs' files collected too).
            let metas = writer.index().searchable_segment_metas().map_err(engine)?;
            if !worth_compacting(&live(&metas), n) {
                writer.garbage_collect_files().wait().map_err(engine)?;
                return Ok(None);
            }
            writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
            let docs = live(&metas).iter().sum::<u64>();
            (metas.len(), docs, start_balanced_merges(writer, &metas, n))
        };
        let merged = merges
            .into_iter()
            .try_for_each(|m| m.wait().map(drop).map_err(engine));
        {
            let mut guard = generation.writer();
            if let Some(writer) = guard.as_mut() {
                writer.set_merge_policy(merge_policy());
                // Merged-away segments' files would otherwise stay until the next commit.
                if merged.is_ok() {
                    writer.garbage_collect_files().wait().map_err(engine)?;
                }
            }
        }
        merged?;
        generation.reader.reload().map_err(engine)?;
        let after = generation.reader.searcher().segment_readers().len();
        let done = Compaction {
            segments_before: before,
            segments_after: after,
            docs,
            ms: started.elapsed().as_millis() as u64,
        };
        tracing::info!(
            from = before,
            to = after,
            docs,
            ms = done.ms,
            "search index compacted"
        );
        Ok(Some(done))
    }

    /// Searches. `today` (Europe/Rome) decides statuses, both for the filter and the facets.
    pub fn search(
        &self,
        req: &SearchRequest,
        today: NaiveDate,
    ) -> Result<SearchResults, IndexError> {
        let generation = self.generation();
        let searcher = generation.reader.searcher();
        let common = common_words(&generation, &searcher);
        let running = Running::start(&self.searching);
        let parallel = running.alone;
        generation.columns.retain(&searcher);
        search::run(
            &searcher,
            &generation.fields,
            query::Vocabulary {
                common: common.as_deref(),
                pairs: generation.pairs.as_deref(),
            },
            &generation.columns,
            parallel,
            req,
            today,
        )
    }
}

/// One search counted in [`Index::searching`] while it runs.
struct Running<'a> {
    count: &'a AtomicUsize,
    /// No other search was running when this one started.
    alone: bool,
}

impl<'a> Running<'a> {
    fn start(count: &'a AtomicUsize) -> Running<'a> {
        let before = count.fetch_add(1, Ordering::SeqCst);
        Running {
            count,
            alone: before == 0,
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The common words of `searcher`'s segments, when built. After a commit the table is rebuilt
/// on a thread of its own (≈0.1 s per 100,000 records) while searches complete from the term
/// lists, exactly as before, so no search waits for it.
fn common_words(
    generation: &Arc<Generation>,
    searcher: &tantivy::Searcher,
) -> Option<Arc<query::CommonWords>> {
    let id = searcher.generation().generation_id();
    let mut state = generation.common.lock().unwrap_or_else(|p| p.into_inner());
    if state.of == Some(id) {
        return state.table.clone();
    }
    if !state.building {
        state.building = true;
        // Not the generation itself: it holds the writer, whose directory lock must go with the
        // index (a process reopening it right after would find it locked).
        let (weak, fields, searcher) = (
            Arc::downgrade(generation),
            generation.fields.clone(),
            searcher.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("snodo-common-words".into())
            .spawn(move || {
                let built = query::CommonWords::build(&searcher, &fields, query::COMMON_WORDS);
                let Some(generation) = weak.upgrade() else {
                    return;
                };
                let mut state = generation.common.lock().unwrap_or_else(|p| p.into_inner());
                state.building = false;
                // after a failure, this searcher completes from the term lists: not retried
                state.of = Some(id);
                state.table = match built {
                    Ok(table) => Some(Arc::new(table)),
                    Err(e) => {
                        tracing::warn!(error = %e, "common words not built; completing from the term lists");
                        None
                    }
                };
            });
        if let Err(e) = spawned {
            state.building = false;
            tracing::warn!(error = %e, "cannot start the common words' thread");
        }
    }
    // a table of an older searcher may miss new words or count them wrong: not used
    None
}

fn generation_name(g: &Generation) -> Result<String, IndexError> {
    g.dir
        .as_deref()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| IndexError::Engine {
            message: "an on-disk index generation has no directory name".into(),
        })
}

#[cfg(test)]
mod tests;
