//! The threads that run searches.
//!
//! A search is CPU-bound and allocates buffers sized by the index (a segment's scores and
//! bitmaps). Tokio's blocking pool starts a thread whenever none is idle at that instant, so
//! under 64 connections it grew to twenty threads, each with its own allocator heap keeping its
//! freed buffers: 240 MB of heap while serving 1M records. A fixed set of threads, fed first
//! come first served, keeps those buffers in a few heaps where the next search reuses them.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Why a search handed to the pool gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the search threads have stopped")]
    Stopped,
    #[error("the search panicked")]
    Panicked,
}

/// A fixed number of search threads taking jobs in arrival order.
pub struct SearchPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl SearchPool {
    /// Starts `threads` threads (at least one); they end when the pool is dropped.
    ///
    /// A thread the system refuses is logged and left out; with none at all, every search
    /// answers [`PoolError::Stopped`] (a 500 naming the cause) instead of the process aborting.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(Mutex::new(queue));
        let mut started = 0;
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("snodo-search-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting, never while a job runs.
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "could not start a search thread"),
            }
        }
        SearchPool {
            jobs,
            threads: started,
        }
    }

    /// Runs `f` on a search thread once the searches queued before it have started.
    ///
    /// A caller that gives up (its request timed out or the client left) drops the answer's
    /// receiver; its job is then skipped rather than run for nobody.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
        });
        self.jobs.send(job).map_err(|_| PoolError::Stopped)?;
        match rx.await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(PoolError::Panicked),
            Err(_) => Err(PoolError::Stopped),
        }
    }
}

impl std::fmt::Debug for SearchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn answers_come_back_to_their_callers() {
        let pool = Arc::new(SearchPool::new(2));
        let calls = (0..32u64).map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || i * i).await.unwrap() })
        });
        let answers: Vec<u64> = futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(answers, (0..32u64).map(|i| i * i).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn no_more_threads_than_asked_run_searches() {
        let pool = Arc::new(SearchPool::new(2));
        let names = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let calls = (0..40).map(|_| {
            let (pool, names) = (pool.clone(), names.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let name = std::thread::current().name().map(str::to_owned);
                    names.lock().unwrap().insert(name);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                })
                .await
                .unwrap()
            })
        });
        futures_util::future::join_all(calls).await;
        let names = names.lock().unwrap().clone();
        assert!(names.len() <= 2, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.as_deref().is_some_and(|n| n.starts_with("snodo-search-"))),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_search_is_an_error_and_the_thread_serves_on() {
        let pool = SearchPool::new(1);
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(failed, Err(PoolError::Panicked)), "{failed:?}");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_search_whose_caller_left_is_skipped() {
        let pool = Arc::new(SearchPool::new(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // Keeps the only thread busy so the next job waits in the queue.
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || hold.recv().ok()).await })
        };
        let abandoned = {
            let (pool, ran) = (pool.clone(), ran.clone());
            tokio::spawn(async move { pool.run(move || ran.fetch_add(1, Ordering::SeqCst)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        abandoned.abort();
        let _ = abandoned.await;
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        // A job queued after the abandoned one runs, so the abandoned one has had its turn.
        pool.run(|| ()).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
