//! A full disk and a read-only data directory: a clear error, no corruption, and recovery once
//! space (or write access) returns. The data directory is a small tmpfs mounted for the test, so it
//! needs root (CI runs as root); elsewhere the test says it was skipped and passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use snodo_store::Store;
use support::*;

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs {
            dir: dir.to_owned(),
        })
    }

    fn remount(&self, mode: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(st.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Writes until the file system says it is full; returns the filler's path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).and_then(|_| f.sync_all()).is_err() {
            break;
        }
    }
    // Leave a few bytes at most.
    let _ = f.write_all(&block[..512]);
    path
}

fn integrity_ok(data: &Path) {
    let store = Store::open(&data.join("snodo.sqlite3")).expect("the store reopens");
    store
        .integrity_check()
        .expect("PRAGMA integrity_check says ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_then_a_read_only_data_directory_fail_clearly_and_recover() {
    if on_postgres() {
        // The data directory holds only the index then; this test is about the SQLite store.
        eprintln!("skipped: the store is on PostgreSQL, not in the data directory");
        return;
    }
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let env = Env::new(&source_toml("p", &fake.url(), None));
    let Some(disk) = Tmpfs::mount(&env.data_dir(), "24m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); CI runs this test as root");
        return;
    };
    let first = env.run(&["harvest"]);
    assert!(
        first.status.success(),
        "{}\n{}",
        stdout(&first),
        stderr(&first)
    );
    let expected = {
        let d = Dataset::sample("partecipa").unwrap();
        expected_records_of(&d).to_string()
    };

    // The next harvest has real changes to write, but the disk is full.
    let mut data = Dataset::sample("partecipa").unwrap();
    for p in data.processes.iter_mut() {
        let long = "Testo aggiornato dalla piattaforma. ".repeat(400);
        p["description"]["translations"] =
            serde_json::json!([{"locale": "it", "text": long, "machineTranslated": false}]);
    }
    fake.set_dataset(data);
    let filler = fill(&env.data_dir());
    let out = env.run(&["harvest", "--json"]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a harvest on a full disk must fail"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("disk") && all.contains("full"),
        "the error should say the disk is full:\n{all}"
    );
    eprintln!("full disk answer:\n{all}");
    // Nothing lost: the store is intact and still answers with the first harvest's records.
    std::fs::remove_file(&filler).unwrap();
    integrity_ok(&env.data_dir());
    let out = env.run(&["search", "--json", "--limit", "100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["total"].to_string(), expected);

    // Space is back: the same harvest goes through.
    let out = env.run(&["harvest", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report[0]["counts"]["changed"].as_u64().unwrap() > 0,
        "{report}"
    );
    integrity_ok(&env.data_dir());

    // A read-only data directory: a clear error, then recovery when it is writable again.
    disk.remount("ro");
    let out = env.run(&["harvest"]);
    assert_ne!(out.status.code(), Some(0));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("read-only") || all.contains("writable"),
        "the error should say the data directory is not writable:\n{all}"
    );
    eprintln!("read-only answer:\n{all}");
    disk.remount("rw");
    integrity_ok(&env.data_dir());
    let out = env.run(&["harvest", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = env.run(&["search", "--json", "--limit", "100"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["total"].to_string(), expected);
    drop(disk);
}
