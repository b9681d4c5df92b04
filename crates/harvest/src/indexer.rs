//! The single indexer: applies the store's change log to the index in `seq` order. The index's
//! commit payload holds the last applied `seq`, so after a crash between a store commit and an
//! index commit, the next catch-up finds the gap and fills it.

use std::sync::Arc;

use snodo_index::{Index, IndexChange};
use snodo_store::Store;

use crate::{blocking, HarvestError};

/// Changes applied per index commit: bounded memory, few commits.
const BATCH: usize = 5_000;

pub struct Indexer {
    store: Arc<Store>,
    index: Arc<Index>,
    /// One catch-up or rebuild at a time, so changes are applied in order.
    lock: tokio::sync::Mutex<()>,
}

impl Indexer {
    pub fn new(store: Arc<Store>, index: Arc<Index>) -> Indexer {
        Indexer {
            store,
            index,
            lock: tokio::sync::Mutex::new(()),
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
    /// returned: the index stays as it was, only slower to search.
    pub async fn compact(&self) {
        let index = self.index.clone();
        match blocking(move || index.compact()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "search index: compaction failed; its segments stay as they were")
            }
            Err(e) => tracing::warn!(error = %e, "search index: compaction did not run"),
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

fn catch_up_blocking(store: &Store, index: &Index) -> Result<u64, HarvestError> {
    let mut applied = 0;
    loop {
        let after = index.last_applied_seq();
        let changes = store.changes_since(after, BATCH)?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(applied);
        };
        let batch: Vec<IndexChange> = changes
            .into_iter()
            .map(|c| match c.record {
                Some(r) => IndexChange::Upsert(Box::new(r)),
                None => IndexChange::Remove(c.id),
            })
            .collect();
        applied += batch.len() as u64;
        index.apply(&batch, last)?;
    }
}
