//! The scheduler of `snodo serve`: one task per enabled source, each sleeping until its next cron
//! time. Next-run times live in SQLite, so they survive a restart; a run missed while Snodo was
//! down is made up once at start (not once per missed slot). A run that outlasts its interval is
//! never started twice: the next time is computed after the run ends, and the harvester refuses a
//! second concurrent run of one source anyway.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::task::JoinSet;

use crate::{blocking, HarvestError, Harvester};

/// Runs until the harvester's cancellation token fires; then waits for running harvests to end.
pub async fn run(harvester: Arc<Harvester>, jitter: Duration) {
    let mut tasks = JoinSet::new();
    for id in harvester.source_ids() {
        let enabled = harvester
            .source_config(&id)
            .map(|s| s.enabled)
            .unwrap_or(false);
        if !enabled {
            tracing::info!(source = %id, "disabled; not scheduled");
            continue;
        }
        let h = harvester.clone();
        tasks.spawn(async move { source_loop(h, id, jitter).await });
    }
    while tasks.join_next().await.is_some() {}
}

async fn source_loop(h: Arc<Harvester>, id: String, jitter: Duration) {
    let cancel = h.cancel_token().clone();
    loop {
        let due = match next_due(&h, &id, jitter).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(source = %id, error = %e, "cannot compute the next run; retrying in a minute");
                Utc::now() + chrono::Duration::minutes(1)
            }
        };
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match h.run(&id).await {
            Ok(_) | Err(HarvestError::AlreadyRunning(_)) => {}
            Err(e) => tracing::error!(source = %id, error = %e, "scheduled harvest could not run"),
        }
        // Schedule the following run from now, so a long run never causes a burst of catch-ups.
        let next = following(&h, &id, Utc::now(), jitter);
        let store = h.store().clone();
        let sid = id.clone();
        if let Err(e) = blocking(move || store.set_next_run(&sid, next))
            .await
            .and_then(|r| r.map_err(Into::into))
        {
            tracing::error!(source = %id, error = %e, "cannot save the next run time");
        }
        if cancel.is_cancelled() {
            return;
        }
    }
}

/// When the source should run next: the stored next-run time; now when it was missed or the
/// source never ran; otherwise the cron time after now.
async fn next_due(
    h: &Harvester,
    id: &str,
    jitter: Duration,
) -> Result<DateTime<Utc>, HarvestError> {
    let store = h.store().clone();
    let sid = id.to_owned();
    let state = blocking(move || store.schedule_state(&sid)).await??;
    let now = Utc::now();
    let due = match (state.next_run_at, state.last_run_at) {
        // A stored time in the past was missed while down: run once now. A schedule made
        // shorter since it was stored takes effect at once.
        (Some(next), _) => next
            .min(following(h, id, now, jitter).unwrap_or(next))
            .max(now),
        (None, None) => now,
        (None, Some(last)) => following(h, id, last, Duration::ZERO)
            .unwrap_or(now)
            .max(now),
    };
    let store = h.store().clone();
    let sid = id.to_owned();
    blocking(move || store.set_next_run(&sid, Some(due))).await??;
    Ok(due)
}

/// The first cron time after `after`, plus a random jitter. Schedules are read in Italian time
/// (Europe/Rome), as operators write them: "0 0 3 * * *" is 03:00 in Rome, summer and winter.
fn following(
    h: &Harvester,
    id: &str,
    after: DateTime<Utc>,
    jitter: Duration,
) -> Option<DateTime<Utc>> {
    let cron = h.source_config(id)?.cron();
    let next = cron
        .after(&after.with_timezone(&chrono_tz::Europe::Rome))
        .next()?
        .with_timezone(&Utc);
    let extra = if jitter.is_zero() {
        0
    } else {
        rand::rng().random_range(0..jitter.as_millis() as i64)
    };
    Some(next + chrono::Duration::milliseconds(extra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Indexer;
    use snodo_config::{Config, Source};
    use snodo_store::{SourceInfo, Store};
    use tokio_util::sync::CancellationToken;

    fn harvester(schedule: &str) -> Harvester {
        let mut config = Config::empty(std::path::PathBuf::from("unused"));
        config.sources.push(Source {
            id: "s".into(),
            name: "S".into(),
            kind: "decidim".into(),
            url: "http://127.0.0.1:9".into(),
            schedule: schedule.into(),
            enabled: true,
            territory: Default::default(),
            topic_rules: Vec::new(),
            licence: None,
            attribution: None,
            params: Default::default(),
        });
        let store = Arc::new(Store::open_in_memory().unwrap());
        store
            .sync_sources(&[SourceInfo {
                id: "s".into(),
                name: "S".into(),
                kind: "decidim".into(),
                url: "http://127.0.0.1:9".into(),
            }])
            .unwrap();
        let index = Arc::new(snodo_index::Index::open_in_ram().unwrap());
        let indexer = Arc::new(Indexer::new(store.clone(), index));
        Harvester::new(&config, store, indexer, CancellationToken::new()).unwrap()
    }

    #[tokio::test]
    async fn a_source_that_never_ran_runs_now() {
        let h = harvester("0 0 3 * * *");
        let due = next_due(&h, "s", Duration::ZERO).await.unwrap();
        assert!((due - Utc::now()).num_seconds().abs() <= 1);
    }

    #[tokio::test]
    async fn a_run_missed_while_down_is_made_up_once_at_start() {
        let h = harvester("0 0 3 * * *");
        let long_ago = Utc::now() - chrono::Duration::days(30);
        h.store().set_next_run("s", Some(long_ago)).unwrap();
        let due = next_due(&h, "s", Duration::ZERO).await.unwrap();
        assert!(
            (due - Utc::now()).num_seconds().abs() <= 1,
            "missed run not made up now: {due}"
        );
        // And stored, so a second restart before the run does not add another.
        let stored = h.store().schedule_state("s").unwrap().next_run_at.unwrap();
        assert!(
            (stored - due).num_milliseconds().abs() <= 1,
            "{stored} vs {due}"
        );
    }

    #[tokio::test]
    async fn a_future_stored_time_is_kept_and_schedules_are_in_italian_time() {
        let h = harvester("0 0 3 * * *");
        let soon = following(&h, "s", Utc::now(), Duration::ZERO).unwrap();
        h.store().set_next_run("s", Some(soon)).unwrap();
        assert_eq!(next_due(&h, "s", Duration::ZERO).await.unwrap(), soon);
        let rome = soon.with_timezone(&chrono_tz::Europe::Rome);
        assert_eq!(rome.format("%H:%M:%S").to_string(), "03:00:00");
    }

    #[tokio::test]
    async fn jitter_stays_within_its_bound() {
        let h = harvester("0 0 3 * * *");
        let now = Utc::now();
        let base = following(&h, "s", now, Duration::ZERO).unwrap();
        for _ in 0..20 {
            let j = following(&h, "s", now, Duration::from_secs(60)).unwrap();
            assert!(j >= base && j < base + chrono::Duration::seconds(60));
        }
    }
}
