//! Several processes on one shared store (PostgreSQL): every process keeps its own index
//! following the change log ([`follow`]), and exactly one process at a time harvests
//! ([`lead`]), by holding the store's leadership lock.
//!
//! A leader that dies (or loses its session) releases the lock with its session; a waiting
//! process takes over within [`LEAD_RETRY`] and first closes the runs the dead leader left
//! `running` as `abandoned`. A leader that notices its lock is gone stops harvesting at once.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use snodo_store::{Leadership, Store};
use tokio_util::sync::CancellationToken;

use crate::{blocking, scheduler, HarvestError, Harvester, Indexer};

/// How often a process that does not lead tries to, and a leader checks it still does.
pub const LEAD_RETRY: Duration = Duration::from_secs(5);

/// How long the follower waits for a notification before catching up anyway: the fallback when
/// notifications are lost (a listening session that broke and was reopened).
pub const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// The harvester of this process while it leads; empty otherwise. The API's harvest trigger
/// and the console read it.
#[derive(Clone, Default)]
pub struct LeaderSlot(Arc<RwLock<Option<Arc<Harvester>>>>);

impl LeaderSlot {
    pub fn current(&self) -> Option<Arc<Harvester>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, h: Option<Arc<Harvester>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = h;
    }
}

/// Keeps `indexer` following the shared store until `cancel`: a catch-up whenever another
/// process commits changes (LISTEN/NOTIFY), and at least every [`FOLLOW_POLL`].
pub async fn follow(store: Arc<Store>, indexer: Arc<Indexer>, cancel: CancellationToken) {
    let (wake, mut woken) = tokio::sync::mpsc::channel::<()>(1);
    let listening = {
        let cancel = cancel.clone();
        std::thread::Builder::new()
            .name("snodo-follow".into())
            .spawn(move || listen(&store, &wake, &cancel))
    };
    if let Err(e) = listening {
        tracing::error!(error = %e, "cannot start the change listener; the index will not follow the store");
        return;
    }
    let mut failing = false;
    // Changes applied since the index last caught up with nothing new: a harvest round.
    let mut applied = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            got = woken.recv() => if got.is_none() { return },
        }
        match indexer.catch_up().await {
            Ok(n) => {
                if failing {
                    tracing::info!("the index follows the store again");
                }
                failing = false;
                if n > 0 {
                    applied = true;
                } else if std::mem::take(&mut applied) {
                    // The harvester has gone quiet: merge what its commits left.
                    indexer.compact().await;
                }
            }
            // Said once per outage, not once a second: the index keeps serving what it has.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot catch up with the store; serving the last index until it answers again");
            }
            Err(_) => {}
        }
    }
}

/// The listening thread: sends a wake-up after every notification and every poll interval.
fn listen(store: &Store, wake: &tokio::sync::mpsc::Sender<()>, cancel: &CancellationToken) {
    let mut listener = None;
    while !cancel.is_cancelled() {
        match listener.as_mut() {
            None => match store.listen() {
                Ok(l) => listener = Some(l),
                Err(_) => std::thread::sleep(FOLLOW_POLL),
            },
            Some(l) => {
                if l.wait(FOLLOW_POLL).is_err() {
                    listener = None;
                }
            }
        }
        // A full channel already holds a wake-up; a closed one means `follow` ended.
        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = wake.try_send(()) {
            return;
        }
    }
}

/// Harvests on schedule whenever this process holds the leadership, until `cancel`. `make`
/// builds the harvester of one term of leadership, stopped by the token it is given. `ready`
/// fires once the first attempt is settled (leading, with `slot` filled, or not), so that a
/// lone process answers its first "harvest now" as the leader it is.
pub async fn lead(
    store: Arc<Store>,
    make: impl Fn(CancellationToken) -> Result<Harvester, HarvestError>,
    slot: LeaderSlot,
    jitter: Duration,
    cancel: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    metrics::gauge!("snodo_harvest_leader").set(0.0);
    let mut ready = Some(ready);
    while !cancel.is_cancelled() {
        let s = store.clone();
        match blocking(move || s.try_lead()).await {
            Ok(Ok(Some(lease))) => {
                if let Err(e) = term(&store, lease, &make, &slot, jitter, &cancel, &mut ready).await
                {
                    tracing::error!(error = %e, "harvesting as leader failed");
                }
                slot.set(None);
                metrics::gauge!("snodo_harvest_leader").set(0.0);
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot ask for the harvester leadership"),
            Err(e) => tracing::warn!(error = %e, "cannot ask for the harvester leadership"),
        }
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(LEAD_RETRY) => {}
        }
    }
}

/// One term of leadership: close what a dead leader left running, schedule, and watch the lease.
async fn term(
    store: &Arc<Store>,
    mut lease: Leadership,
    make: &impl Fn(CancellationToken) -> Result<Harvester, HarvestError>,
    slot: &LeaderSlot,
    jitter: Duration,
    cancel: &CancellationToken,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), HarvestError> {
    let s = store.clone();
    let abandoned = blocking(move || s.abandon_unfinished_runs(chrono::Utc::now())).await??;
    tracing::info!(
        abandoned,
        "this process is now the harvester (leader); runs a previous leader left unfinished were closed as abandoned"
    );
    let stop = cancel.child_token();
    let harvester = Arc::new(make(stop.clone())?);
    // The slot first: whoever sees the gauge at 1 may send a trigger at once.
    slot.set(Some(harvester.clone()));
    metrics::gauge!("snodo_harvest_leader").set(1.0);
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    // The schedule may end at once (no enabled source): the term goes on, for triggered runs.
    let mut schedule = tokio::spawn(scheduler::run(harvester, jitter));
    let mut lost = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(LEAD_RETRY) => {
                let (back, held) = blocking(move || {
                    let held = lease.still_held();
                    (lease, held)
                })
                .await?;
                lease = back;
                if !held {
                    tracing::error!("lost the harvester leadership (the session to PostgreSQL ended); stopping harvests, another process may take over");
                    lost = true;
                    break;
                }
            }
        }
    }
    stop.cancel();
    slot.set(None);
    if !schedule.is_finished() {
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut schedule).await;
    }
    if !lost {
        // Shutting down while still the leader: the runs just stopped are this process's, so
        // it closes them itself rather than leave them `running` until the next leader.
        let s = store.clone();
        match blocking(move || s.abandon_unfinished_runs(chrono::Utc::now())).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(runs = n, "runs stopped by the shutdown closed as abandoned")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not close the runs stopped by the shutdown; the next leader will")
            }
            _ => {}
        }
    }
    // Dropping the lease ends its session, which frees the lock for the next leader.
    drop(lease);
    Ok(())
}
