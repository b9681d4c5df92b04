//! Opens a store, running any pending migration and the one-time duplicates backfill, and says
//! how long that took: how to time an upgrade on a copy of a production database.
//!
//! `cargo run --release -p snodo-store --example open_store -- path/to/snodo.sqlite3`
//!
//! To time the backfill on a copy of a database that already has its duplicates, make it look
//! like one an older version left: `sqlite3 copy.sqlite3 'DELETE FROM record_keys;
//! DELETE FROM record_links'`.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    let [path] = args.as_slice() else {
        return Err("usage: open_store PATH".into());
    };
    let path = PathBuf::from(path);
    let began = Instant::now();
    let store = snodo_store::Store::open(&path)?;
    println!(
        "opened {} in {:.1} s; max seq {}",
        path.display(),
        began.elapsed().as_secs_f64(),
        store.max_seq()?
    );
    Ok(())
}
