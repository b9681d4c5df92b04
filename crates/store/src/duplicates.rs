//! Cross-platform duplicates: the same consultation published on two sources.
//!
//! Two live records of different sources are duplicates when (a) a folded title (in a locale both
//! have, or the two default-locale titles) is the same and non-trivial and their date ranges
//! overlap, or (b) one's URL is linked from the other's description. Every record keeps its match
//! keys in `record_keys` (written with its content), so finding the partners of a record is an
//! index lookup; the links themselves live in `record_links`, both directions, between live
//! records only. Records read from the store carry their partners in `same_as`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use snodo_model::text::fold_for_matching;
use snodo_model::{Kind, Record};

/// A folded title this long (in characters) or with this many words says enough to match on.
const MIN_TITLE_CHARS: usize = 15;
const MIN_TITLE_WORDS: usize = 3;

fn non_trivial(folded: &str) -> bool {
    folded.chars().count() >= MIN_TITLE_CHARS || folded.split(' ').count() >= MIN_TITLE_WORDS
}

/// The same page whatever the scheme, fragment or trailing slash.
fn normalize_url(url: &str) -> String {
    let u = url.trim();
    let u = u.split('#').next().unwrap_or(u);
    let u = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or(u);
    u.trim_end_matches('/').to_owned()
}

/// The `href` targets of sanitised HTML (always double-quoted, `&` escaped).
fn hrefs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let Some(end) = rest.find('"') else { break };
        out.push(rest[..end].replace("&amp;", "&"));
        rest = &rest[end..];
    }
    out
}

/// The match keys of a record: `t:{locale}:{folded title}` per locale and `t::{folded title}`
/// for the default-locale title (non-trivial titles only), `u:{url}` for its own page and
/// `l:{url}` for each page its description links to.
pub(crate) fn match_keys(r: &Record) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (locale, title) in r.title.iter() {
        let f = fold_for_matching(title);
        if non_trivial(&f) {
            keys.insert(format!("t:{locale}:{f}"));
        }
    }
    if let Some(title) = r.title.get(&r.default_locale) {
        let f = fold_for_matching(title);
        if non_trivial(&f) {
            keys.insert(format!("t::{f}"));
        }
    }
    let own = normalize_url(&r.url);
    if !own.is_empty() {
        keys.insert(format!("u:{own}"));
    }
    for html in r.description_html.0.values() {
        for href in hrefs(html.as_str()) {
            let l = normalize_url(&href);
            if !l.is_empty() && l != own {
                keys.insert(format!("l:{l}"));
            }
        }
    }
    keys
}

/// Missing bounds are open-ended, so two records without dates overlap.
pub(crate) fn dates_overlap(a: &Record, b: &Record) -> bool {
    let before = |start: Option<NaiveDate>, end: Option<NaiveDate>| match (start, end) {
        (Some(s), Some(e)) => s <= e,
        _ => true,
    };
    before(a.start_date, b.end_date) && before(b.start_date, a.end_date)
}

/// Two places can be the same: "Bilancio partecipativo 2026" of Bologna and of Bari share a title
/// and dates but are different processes. Different comuni, or different regions, never match;
/// a national record, or one whose place is unknown, matches any.
pub(crate) fn places_compatible(a: &Record, b: &Record) -> bool {
    let differ =
        |x: &Option<String>, y: &Option<String>| matches!((x, y), (Some(x), Some(y)) if x != y);
    !(differ(&a.territory.comune, &b.territory.comune)
        || differ(&a.territory.region, &b.territory.region))
}

/// A process on one platform may be published as a consultation on another, but a meeting that
/// shares its process's title, or links to its page, is part of it, not a copy of it.
pub(crate) fn kinds_compatible(a: Kind, b: Kind) -> bool {
    let space = |k| {
        matches!(
            k,
            Kind::Process | Kind::Assembly | Kind::Consultation | Kind::Conference | Kind::Initiative
        )
    };
    a == b || space(a) && space(b)
}

/// Replaces the stored match keys of a record.
pub(crate) fn write_keys(tx: &Connection, id: &str, r: &Record) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM record_keys WHERE record_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached("INSERT INTO record_keys (record_id, key) VALUES (?1, ?2)")?;
    for k in match_keys(r) {
        ins.execute(params![id, k])?;
    }
    Ok(())
}

/// The live records of other sources that duplicate `r` (live, stored with its keys), sorted.
fn find_partners(tx: &Connection, id: &str, r: &Record) -> rusqlite::Result<BTreeSet<String>> {
    let rows: Vec<(String, bool, String)> = tx
        .prepare_cached(
            "SELECT o.record_id, substr(k.key, 1, 1) = 't', p.kind
             FROM record_keys k
             JOIN record_keys o ON o.key = CASE substr(k.key, 1, 2)
                                               WHEN 'u:' THEN 'l:' || substr(k.key, 3)
                                               WHEN 'l:' THEN 'u:' || substr(k.key, 3)
                                               ELSE k.key END
             JOIN records p ON p.id = o.record_id
             WHERE k.record_id = ?1 AND p.source <> ?2 AND p.gone_at IS NULL",
        )?
        .query_map(params![id, r.id.source], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // Partner → matched only by title (then the dates decide).
    let mut by_title_only: BTreeMap<String, bool> = BTreeMap::new();
    for (other, title, kind) in rows {
        if !kind.parse().is_ok_and(|k| kinds_compatible(r.id.kind, k)) {
            continue;
        }
        let e = by_title_only.entry(other).or_insert(true);
        *e = *e && title;
    }
    let mut out = BTreeSet::new();
    let mut json = tx.prepare_cached("SELECT json FROM records WHERE id = ?1")?;
    for (other, title_only) in by_title_only {
        if title_only {
            let j: Option<String> = json.query_row([&other], |row| row.get(0)).optional()?;
            let partner = j.and_then(|j| serde_json::from_str::<Record>(&j).ok());
            // An undecodable partner is reported when it is read; it matches nothing here.
            if !partner.is_some_and(|p| dates_overlap(r, &p) && places_compatible(r, &p)) {
                continue;
            }
        }
        out.insert(other);
    }
    Ok(out)
}

fn current_links(tx: &Connection, id: &str) -> rusqlite::Result<BTreeSet<String>> {
    tx.prepare_cached("SELECT other_id FROM record_links WHERE record_id = ?1")?
        .query_map([id], |row| row.get(0))?
        .collect()
}

fn drop_links(tx: &Connection, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM record_links WHERE record_id = ?1 OR other_id = ?1")?
        .execute([id])?;
    Ok(())
}

fn add_link(tx: &Connection, a: &str, b: &str) -> rusqlite::Result<()> {
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO record_links (record_id, other_id) VALUES (?1, ?2)",
    )?;
    ins.execute(params![a, b])?;
    ins.execute(params![b, a])?;
    Ok(())
}

/// Gives a record a new change-log `seq` (its links changed, so its merged form did).
pub(crate) fn bump(tx: &Connection, id: &str) -> rusqlite::Result<()> {
    let n = tx
        .prepare_cached(
            "INSERT INTO changes (record_id, op)
             SELECT id, CASE WHEN gone_at IS NULL THEN 'upsert' ELSE 'gone' END
             FROM records WHERE id = ?1",
        )?
        .execute([id])?;
    if n == 1 {
        let seq = tx.last_insert_rowid();
        tx.prepare_cached("UPDATE records SET seq = ?2 WHERE id = ?1")?
            .execute(params![id, seq])?;
    }
    Ok(())
}

/// Recomputes the links of records whose content or liveness changed in this transaction:
/// `live` were just written (they already have a fresh `seq`), `gone` were just marked gone.
/// Partners whose set of links changed get a new `seq`.
pub(crate) fn relink(
    tx: &Connection,
    live: &[(&str, &Record)],
    gone: &[String],
) -> rusqlite::Result<()> {
    let mut partners: BTreeSet<String> = BTreeSet::new();
    for (id, r) in live {
        let old = current_links(tx, id)?;
        let new = find_partners(tx, id, r)?;
        if old != new {
            drop_links(tx, id)?;
            for p in &new {
                add_link(tx, id, p)?;
            }
            partners.extend(old.symmetric_difference(&new).cloned());
        }
    }
    for id in gone {
        let old = current_links(tx, id)?;
        if !old.is_empty() {
            drop_links(tx, id)?;
            partners.extend(old);
        }
    }
    for p in &partners {
        bump(tx, p)?;
    }
    Ok(())
}

/// Once, for a database that had records before duplicates were detected: computes every
/// record's keys and every link, and bumps the linked records so the index picks them up.
pub(crate) fn backfill(tx: &Connection) -> rusqlite::Result<u64> {
    let rows: Vec<(String, String, bool)> = tx
        .prepare("SELECT id, json, gone_at IS NULL FROM records ORDER BY id")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let decoded: Vec<(String, Record, bool)> = rows
        .into_iter()
        .filter_map(|(id, json, live)| {
            // An undecodable record is reported when it is read; it has no keys.
            serde_json::from_str::<Record>(&json)
                .ok()
                .map(|r| (id, r, live))
        })
        .collect();
    for (id, r, _) in &decoded {
        write_keys(tx, id, r)?;
    }
    let mut linked: BTreeSet<String> = BTreeSet::new();
    for (id, r, live) in &decoded {
        if !live {
            continue;
        }
        for p in find_partners(tx, id, r)? {
            add_link(tx, id, &p)?;
            linked.insert(p);
            linked.insert(id.clone());
        }
    }
    for id in &linked {
        bump(tx, id)?;
    }
    Ok(linked.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_model::{LocalizedText, RecordId};

    fn rec(title: &str) -> Record {
        Record::new(
            RecordId::new("a", Kind::Process, "1"),
            "https://a.example.it/p/1",
            "it",
            LocalizedText::single("it", title),
        )
    }

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn keys_need_a_non_trivial_title() {
        let k = match_keys(&rec("Bilancio 2024"));
        assert!(k.iter().all(|k| !k.starts_with("t:")), "{k:?}");
        let k = match_keys(&rec("Piano del verde"));
        assert!(k.contains("t:it:piano del verde") && k.contains("t::piano del verde"));
        let k = match_keys(&rec("Riqualificazione"));
        assert!(k.contains("t::riqualificazione"), "{k:?}");
        assert!(k.contains("u:a.example.it/p/1"));
    }

    #[test]
    fn links_in_the_description_are_keys() {
        let mut r = rec("x");
        r.description_html.insert_sanitized(
            "it",
            r#"<p>Vedi <a href="http://b.example.it/c/9/?x=1&amp;y=2#top">qui</a></p>"#,
        );
        let k = match_keys(&r);
        assert!(k.contains("l:b.example.it/c/9/?x=1&y=2"), "{k:?}");
    }

    #[test]
    fn places_must_be_compatible() {
        let mut a = rec("Bilancio partecipativo 2026 del comune");
        let mut b = rec("Bilancio partecipativo 2026 del comune");
        assert!(places_compatible(&a, &b), "unknown places match");
        a.territory.region = Some("08".into());
        assert!(
            places_compatible(&a, &b),
            "a known place matches an unknown one"
        );
        b.territory.region = Some("16".into());
        assert!(!places_compatible(&a, &b), "Emilia-Romagna is not Puglia");
        b.territory.region = Some("08".into());
        a.territory.comune = Some("037006".into());
        b.territory.comune = Some("040012".into());
        assert!(!places_compatible(&a, &b), "Bologna is not Forlì");
        b.territory.comune = None;
        assert!(places_compatible(&a, &b), "a comune matches its region");
    }

    #[test]
    fn a_meeting_is_not_a_copy_of_its_process() {
        assert!(kinds_compatible(Kind::Process, Kind::Consultation));
        assert!(kinds_compatible(Kind::Meeting, Kind::Meeting));
        assert!(!kinds_compatible(Kind::Process, Kind::Meeting));
        assert!(!kinds_compatible(Kind::Proposal, Kind::Assembly));
    }

    #[test]
    fn date_overlap_rules() {
        let mut a = rec("x");
        let mut b = rec("x");
        assert!(dates_overlap(&a, &b), "no dates on either side overlap");
        (a.start_date, a.end_date) = (d("2024-01-01"), d("2024-01-31"));
        (b.start_date, b.end_date) = (d("2024-01-31"), d("2024-02-28"));
        assert!(dates_overlap(&a, &b), "a shared day overlaps");
        b.start_date = d("2024-02-01");
        assert!(!dates_overlap(&a, &b) && !dates_overlap(&b, &a));
        b.start_date = None;
        assert!(dates_overlap(&a, &b), "a missing start is open-ended");
        (b.start_date, b.end_date) = (d("2024-03-01"), None);
        assert!(!dates_overlap(&a, &b));
        a.end_date = None;
        assert!(dates_overlap(&a, &b), "a missing end is open-ended");
    }
}
