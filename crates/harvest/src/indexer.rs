//! The single indexer: applies the store's change log to the index in `seq` order. The index's
//! commit payload holds the last applied `seq`, so after a crash between a store commit and an
//! index commit, the next catch-up finds the gap and fills it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use snodo_index::{Index, IndexChange};
use snodo_store::Store;

use crate::{blocking, HarvestError};

/// Changes read from the store at a time. The index commits several reads together (see
/// [`Index::apply_batches`]): read in smaller parts, fewer records are held at once.
const READ: usize = 1_000;

pub struct Indexer {
    store: Arc<Store>,
    index: Arc<Index>,
    /// One catch-up or rebuild at a time, so changes are applied in order.
    lock: tokio::sync::Mutex<()>,
    /// Whether [`Indexer::compact`] may also rebuild (see [`Indexer::choose_pair_words`]):
    /// in a server, not in a one-off `snodo harvest`, which should end when its harvest does.
    rebuilds: AtomicBool,
}

impl Indexer {
    pub fn new(store: Arc<Store>, index: Arc<Index>) -> Indexer {
        Indexer {
            store,
            index,
            lock: tokio::sync::Mutex::new(()),
            rebuilds: AtomicBool::new(false),
        }
    }

    /// Lets [`Indexer::compact`] rebuild the index when it lacks its common words.
    pub fn allow_rebuilds(&self) {
        self.rebuilds.store(true, Ordering::Relaxed);
    }

    /// Rebuilds the index when it has grown enough for phrases of common words to have terms
    /// of their own but was filled without choosing those words (see
    /// [`Index::lacks_pair_words`]): what a new installation's first harvests leave. Searches
    /// go on against the current index meanwhile; a failure is logged and leaves it as it is.
    pub async fn choose_pair_words(&self) {
        if !self.index.lacks_pair_words() {
            return;
        }
        tracing::info!(
            docs = self.index.num_docs(),
            "search index: rebuilding to choose its common words (phrases of them get faster)"
        );
        if let Err(e) = self.rebuild().await {
            tracing::warn!(error = %e, "search index: the rebuild for common words failed; phrases stay slower");
        }
    }

    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    /// Applies every change the index has not seen yet; returns how many.
    pub async fn catch_up(&self) -> Result<u64, HarvestError> {
        let _one = self.lock.lock().await;
        let (store, index) = (self.store.clone(), self.index.clone());
        let n = blocking(move || catch_up_blocking(&store, &index)).await??;
        metrics::gauge!("snodo_index_documents").set(self.index.num_docs() as f64);
        if n > 0 {
            tracing::info!(
                changes = n,
                seq = self.index.last_applied_seq(),
                "index caught up"
            );
        }
        Ok(n)
    }

    /// Merges the index's segments when many small ones hold a good share of the records (see
    /// [`Index::compact`]): call it when a round of harvests has ended. A failure is logged, not
    /// returned: the index stays as it was, only slower to search. When rebuilds are allowed
    /// ([`Indexer::allow_rebuilds`]), then rebuilds an index that lacks its common words.
    pub async fn compact(&self) {
        let index = self.index.clone();
        match blocking(move || index.compact()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "search index: compaction failed; its segments stay as they were")
            }
            Err(e) => tracing::warn!(error = %e, "search index: compaction did not run"),
        }
        if self.rebuilds.load(Ordering::Relaxed) {
            self.choose_pair_words().await;
        }
    }

    /// Rebuilds the index from every live record in the store.
    pub async fn rebuild(&self) -> Result<u64, HarvestError> {
        let _one = self.lock.lock().await;
        let (store, index) = (self.store.clone(), self.index.clone());
        let n = blocking(move || -> Result<u64, HarvestError> {
            // Read the seq first: changes written during the rebuild are applied again by the
            // next catch-up, and applying a change twice is harmless.
            let seq = store.max_seq()?;
            let (tx, rx) = std::sync::mpsc::sync_channel(1024);
            let reader = {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.live_records(&mut |r| {
                        // A closed receiver means the index side failed; it reports the error.
                        let _ = tx.send(r);
                        Ok(())
                    })
                })
            };
            let docs = index.rebuild(&mut rx.into_iter(), seq)?;
            reader
                .join()
                .map_err(|_| HarvestError::Internal("the store reader thread panicked".into()))??;
            catch_up_blocking(&store, &index)?;
            Ok(docs)
        })
        .await??;
        metrics::gauge!("snodo_index_documents").set(self.index.num_docs() as f64);
        Ok(n)
    }
}

/// Applies the changes after the index's last `seq`, read from the store [`READ`] at a time as
/// the index asks for them (see [`Index::apply_batches`]).
fn catch_up_blocking(store: &Store, index: &Index) -> Result<u64, HarvestError> {
    let mut after = index.last_applied_seq();
    let mut failed = None;
    let mut batches = std::iter::from_fn(|| {
        let changes = match store.changes_since(after, READ) {
            Ok(changes) => changes,
            Err(e) => {
                failed = Some(e);
                return None;
            }
        };
        let last = changes.last()?.seq;
        after = last;
        let batch = changes
            .into_iter()
            .map(|c| match c.record {
                Some(r) => IndexChange::Upsert(Box::new(r)),
                None => IndexChange::Remove(c.id),
            })
            .collect();
        Some((batch, last))
    });
    let applied = index.apply_batches(&mut batches)?;
    match failed {
        // The batches before the failing read are applied; the next catch-up goes on from there.
        Some(e) => Err(e.into()),
        None => Ok(applied),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_model::{Kind, LocalizedText, Record, RecordId};
    use snodo_store::{HarvestBatch, SourceInfo};

    /// A store of `n` records, harvested in one run, and its indexer caught up.
    async fn indexed(n: usize) -> Indexer {
        let store = Arc::new(Store::open_in_memory().unwrap());
        store
            .sync_sources(&[SourceInfo {
                id: "s".into(),
                name: "S".into(),
                kind: "json".into(),
                url: "http://127.0.0.1:9".into(),
            }])
            .unwrap();
        let records: Vec<Record> = (0..n)
            .map(|i| {
                let mut r = Record::new(
                    RecordId::new("s", Kind::Process, i.to_string()),
                    format!("https://s.example.it/{i}"),
                    "it",
                    LocalizedText::single("it", &format!("Bilancio partecipativo {i}")),
                );
                r.description
                    .insert_plain("it", "Il bilancio partecipativo del quartiere e il verde");
                r
            })
            .collect();
        let now = chrono::Utc::now();
        let run = store.start_run("s", now).unwrap();
        store
            .apply_harvest(run, &HarvestBatch::new("s", &records, true, None, now))
            .unwrap();
        let indexer = Indexer::new(store, Arc::new(Index::open_in_ram().unwrap()));
        indexer.catch_up().await.unwrap();
        indexer
    }

    #[tokio::test]
    async fn a_server_rebuilds_an_index_filled_without_common_words_after_a_round() {
        let indexer = indexed(10_000).await;
        assert!(indexer.index().lacks_pair_words());
        // A one-off harvest ends with its harvest: no rebuild.
        indexer.compact().await;
        assert!(indexer.index().lacks_pair_words());
        indexer.allow_rebuilds();
        indexer.compact().await;
        assert!(!indexer.index().lacks_pair_words());
        assert_eq!(indexer.index().num_docs(), 10_000);
    }

    #[tokio::test]
    async fn a_small_index_is_not_rebuilt_for_its_common_words() {
        let indexer = indexed(50).await;
        indexer.allow_rebuilds();
        assert!(!indexer.index().lacks_pair_words());
        indexer.compact().await;
        assert_eq!(indexer.index().num_docs(), 50);
    }
}
