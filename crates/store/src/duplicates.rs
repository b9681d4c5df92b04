//! Cross-platform duplicates: the same consultation published on two sources.
//!
//! Two live records of different sources are duplicates only with evidence beyond a title: (a) one's
//! URL is linked from the other's description, or (b) a folded title (in a locale both have, or
//! the two default-locale titles) is the same and non-generic **and** their dates agree (same
//! start, ends within a few days) **and** their places are the same entity at the same level. Every record keeps its match
//! keys in `record_keys` (written with its content), so finding the partners of a record is an
//! index lookup; the links themselves live in `record_links`, both directions, between live
//! records only. Records read from the store carry their partners in `same_as`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::{params, Connection};
use snodo_model::text::fold_for_matching;
use snodo_model::{Kind, Record, Territory};

use crate::error::DbError;
use crate::sqlite::SqliteTx;
use crate::write::WriteTx;

/// A folded title this long (in characters) or with this many words says enough to match on.
const MIN_TITLE_CHARS: usize = 15;
const MIN_TITLE_WORDS: usize = 3;

/// A title that more records than this have (on any source, gone ones too) is generic —
/// "Bilancio partecipativo 2025" of fifty comuni — and says nothing about identity: it links
/// nothing. This also bounds the work of finding partners, which compares every holder.
pub(crate) const MAX_TITLE_HOLDERS: usize = 12;

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

/// The 64-bit hash (FNV-1a) SQLite finds a title's holders by (`record_keys.title_hash`,
/// schema 8): of the folded title, the same for `t:{locale}:{title}` and `t::{title}`; `None`
/// for link keys, which keep an index of the keys themselves (a source's pages, inserted in
/// order). An index of the title keys was written at random by every new record and outgrew
/// the writer's page cache (318 MB at 900,000 records, against 32 MiB: a store of 900,000 took
/// 1.38× as long to take in 100,000 records as an empty one); an entry of this one is about
/// 15 bytes. A plain integer column, so any SQLite reads and checks the store. Stored, so it
/// must never change; titles with one hash are told apart by their keys.
pub(crate) fn title_hash(key: &str) -> Option<i64> {
    let (_, title) = key.strip_prefix("t:")?.split_once(':')?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in title.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Some(h as i64)
}

/// What decides whether two records that share only a title are the same: when and where.
/// Small, so the backfill can keep it for many records instead of whole records.
///
/// A title alone proves nothing: "Consulta dei giovani", "Bilancio partecipativo 2026" or
/// "Comunità di pratiche per la partecipazione" name different bodies in different places. Two
/// records that share a title are one only when their dates agree and their places are the
/// same entity at the same level; everything else needs an explicit link.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WhenWhere {
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    place: Option<Place>,
}

/// The finest place a record names: the level matters, so a national body and a regional body
/// of the same name stay two.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    National,
    Region(String),
    Province(String),
    Comune(String),
}

impl Place {
    fn of(t: &Territory) -> Option<Place> {
        if let Some(c) = &t.comune {
            Some(Place::Comune(c.clone()))
        } else if let Some(p) = &t.province {
            Some(Place::Province(p.clone()))
        } else if let Some(r) = &t.region {
            Some(Place::Region(r.clone()))
        } else if t.national {
            Some(Place::National)
        } else {
            None
        }
    }
}

/// Ends of one cross-posted consultation may differ by a few days (one site counts the last
/// day, the other the day after; a deadline extended on one of them).
pub(crate) const END_TOLERANCE_DAYS: i64 = 3;

impl WhenWhere {
    pub(crate) fn of(r: &Record) -> WhenWhere {
        WhenWhere {
            start: r.start_date,
            end: r.end_date,
            place: Place::of(&r.territory),
        }
    }

    /// Two records matched by title only are the same when their dates agree and their places
    /// are one.
    pub(crate) fn matches(&self, other: &WhenWhere) -> bool {
        dates_agree(self, other) && same_place(self, other)
    }
}

/// Both dated, the same start, ends within [`END_TOLERANCE_DAYS`]. Undated records (permanent
/// bodies, most assemblies) are linked only by an explicit link.
pub(crate) fn dates_agree(a: &WhenWhere, b: &WhenWhere) -> bool {
    match (a.start, a.end, b.start, b.end) {
        (Some(s1), Some(e1), Some(s2), Some(e2)) => {
            s1 == s2 && (e1 - e2).num_days().abs() <= END_TOLERANCE_DAYS
        }
        _ => false,
    }
}

/// Both places known and the same entity at the same level: Bologna is not Forlì, and a
/// national process is not a regional one of the same name.
pub(crate) fn same_place(a: &WhenWhere, b: &WhenWhere) -> bool {
    matches!((&a.place, &b.place), (Some(x), Some(y)) if x == y)
}

/// A process on one platform may be published as a consultation on another, but a meeting that
/// shares its process's title, or links to its page, is part of it, not a copy of it.
pub(crate) fn kinds_compatible(a: Kind, b: Kind) -> bool {
    let space = |k| {
        matches!(
            k,
            Kind::Process
                | Kind::Assembly
                | Kind::Consultation
                | Kind::Conference
                | Kind::Initiative
        )
    };
    a == b || space(a) && space(b)
}

/// Replaces the stored match keys of a record.
pub(crate) fn write_keys(tx: &mut dyn WriteTx, id: &str, r: &Record) -> Result<(), DbError> {
    tx.replace_keys(id, &match_keys(r))
}

/// The live records of other sources that duplicate `r` (live, stored with its keys), sorted.
fn find_partners(tx: &mut dyn WriteTx, id: &str, r: &Record) -> Result<BTreeSet<String>, DbError> {
    let rows = tx.key_partners(id, &r.id.source, MAX_TITLE_HOLDERS)?;
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
    let mine = WhenWhere::of(r);
    for (other, title_only) in by_title_only {
        // An undecodable partner is reported when it is read; it matches nothing here.
        if title_only && !when_where(tx, &other)?.is_some_and(|p| mine.matches(&p)) {
            continue;
        }
        out.insert(other);
    }
    Ok(out)
}

/// When and where of a stored record; `None` if it is missing or cannot be decoded.
fn when_where(tx: &mut dyn WriteTx, id: &str) -> Result<Option<WhenWhere>, DbError> {
    Ok(tx
        .record_json(id)?
        .and_then(|j| serde_json::from_str::<Record>(&j).ok())
        .map(|r| WhenWhere::of(&r)))
}

/// Recomputes the links of records whose content or liveness changed in this transaction:
/// `live` were just written (they already have a fresh `seq`), `gone` were just marked gone.
/// Partners whose set of links changed get a new `seq`.
pub(crate) fn relink(
    tx: &mut dyn WriteTx,
    live: &[(&str, &Record)],
    gone: &[String],
) -> Result<(), DbError> {
    let mut partners: BTreeSet<String> = BTreeSet::new();
    for (id, r) in live {
        let old = tx.links(id)?;
        let new = find_partners(tx, id, r)?;
        if old != new {
            tx.drop_links(id)?;
            for p in &new {
                tx.add_link(id, p)?;
            }
            partners.extend(old.symmetric_difference(&new).cloned());
        }
    }
    for id in gone {
        let old = tx.links(id)?;
        if !old.is_empty() {
            tx.drop_links(id)?;
            partners.extend(old);
        }
    }
    for p in &partners {
        tx.bump(p)?;
    }
    Ok(())
}

// ---- The one-time backfill for records stored before duplicates were detected ----
//
// Driven in chunks by `crate::backfill`, each chunk a transaction of its own: (1) the keys of
// every record, (2) the links between live records, (3) a new `seq` for every linked record.
// Each step takes the id of the last record the previous chunk did and returns its own last
// id, `None` when nothing is left.

/// Step 1: writes the keys of up to `limit` records after `after` (gone ones too: they may
/// come back). Returns how many records it read and the last id.
pub(crate) fn backfill_keys(
    tx: &Connection,
    after: &str,
    limit: usize,
) -> Result<Option<(usize, String)>, DbError> {
    let rows: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT id, record_json(json, body) FROM records WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![after, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let Some(last) = rows.last().map(|(id, _)| id.clone()) else {
        return Ok(None);
    };
    let mut w = SqliteTx::new(tx);
    for (id, json) in &rows {
        // An undecodable record is reported when it is read; it has no keys.
        if let Ok(r) = serde_json::from_str::<Record>(json) {
            w.replace_keys(id, &match_keys(&r))?;
        }
    }
    Ok(Some((rows.len(), last)))
}

/// Step 2 (every record has its keys): links the live records that share the keys after
/// `after`, about `limit` key rows per call, whole groups of equal keys at a time. Keys are
/// taken in order, `l:` then `t:` (`u:` keys are reached from the `l:` keys that name them):
/// the records of a `t:` key are compared pairwise in memory (kinds, sources, then dates and
/// places), and the records of an `l:{url}` key are linked to the records whose own page is
/// `{url}`. A pair that shares a title and a link is linked by the link whatever its dates,
/// so the union of the two is what [`find_partners`] gives each record. Returns how many key
/// rows the call covered and the last key.
pub(crate) fn backfill_links(
    tx: &Connection,
    after: &str,
    limit: usize,
) -> Result<Option<(usize, String)>, DbError> {
    let upto: Option<String> = tx
        .prepare_cached(
            "SELECT MAX(key) FROM (SELECT key FROM record_keys WHERE key > ?1 AND key < 'u:'
                                   ORDER BY key LIMIT ?2)",
        )?
        .query_row(params![after, limit as i64], |row| row.get(0))?;
    let Some(upto) = upto else {
        return Ok(None);
    };
    let mut rows = 0;
    let mut group: Vec<Member> = Vec::new();
    let mut group_key = String::new();
    // Records holding the key, gone ones too (see `MAX_TITLE_HOLDERS`).
    let mut holders = 0;
    let mut stmt = tx.prepare_cached(
        "SELECT k.key, k.record_id, r.gone_at IS NULL, r.source, r.kind,
                CASE WHEN k.key >= 't:' THEN record_json(r.json, r.body) END
         FROM record_keys k JOIN records r ON r.id = k.record_id
         WHERE k.key > ?1 AND k.key <= ?2
         ORDER BY k.key",
    )?;
    let mut q = stmt.query(params![after, upto])?;
    while let Some(row) = q.next()? {
        rows += 1;
        let key: String = row.get(0)?;
        if key != group_key {
            link_group(tx, &group_key, &group, holders)?;
            group.clear();
            group_key = key;
            holders = 0;
        }
        holders += 1;
        if !row.get::<_, bool>(2)? {
            continue;
        }
        let Ok(kind) = row.get::<_, String>(4)?.parse::<Kind>() else {
            continue;
        };
        let json: Option<String> = row.get(5)?;
        group.push(Member {
            id: row.get(1)?,
            source: row.get(3)?,
            kind,
            // Every record with keys decodes: keys are only written for those.
            when_where: json
                .and_then(|j| serde_json::from_str::<Record>(&j).ok())
                .map(|r| WhenWhere::of(&r)),
        });
    }
    link_group(tx, &group_key, &group, holders)?;
    Ok(Some((rows, upto)))
}

/// A live record that has the key being linked.
struct Member {
    id: String,
    source: String,
    kind: Kind,
    /// For title keys only.
    when_where: Option<WhenWhere>,
}

fn link_group(tx: &Connection, key: &str, group: &[Member], holders: usize) -> Result<(), DbError> {
    let mut w = SqliteTx::new(tx);
    if let Some(url) = key.strip_prefix("l:") {
        let pages: Vec<(String, String, String)> = tx
            .prepare_cached(
                "SELECT r.id, r.source, r.kind FROM record_keys k JOIN records r ON r.id = k.record_id
                 WHERE k.key = 'u:' || ?1 AND r.gone_at IS NULL",
            )?
            .query_map([url], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for m in group {
            for (id, source, kind) in &pages {
                if *source != m.source && kind.parse().is_ok_and(|k| kinds_compatible(m.kind, k)) {
                    w.add_link(&m.id, id)?;
                }
            }
        }
    } else if key.starts_with("t:") && holders <= MAX_TITLE_HOLDERS {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a.source != b.source
                    && kinds_compatible(a.kind, b.kind)
                    && matches!((&a.when_where, &b.when_where), (Some(x), Some(y)) if x.matches(y))
                {
                    w.add_link(&a.id, &b.id)?;
                }
            }
        }
    }
    Ok(())
}

/// Step 3 (every link is in place): gives the next `limit` linked records after `after` a new
/// `seq`, so the index picks up their partners, and so do the records a relink (migration 4)
/// unlinked. Returns how many and the last id.
pub(crate) fn backfill_bump(
    tx: &Connection,
    after: &str,
    limit: usize,
) -> Result<Option<(usize, String)>, DbError> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT record_id FROM (SELECT record_id FROM record_links
                                    UNION SELECT record_id FROM relink_bump)
             WHERE record_id > ?1 ORDER BY record_id LIMIT ?2",
        )?
        .query_map(params![after, limit as i64], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let Some(last) = ids.last().cloned() else {
        return Ok(None);
    };
    let mut w = SqliteTx::new(tx);
    for id in &ids {
        w.bump(id)?;
    }
    Ok(Some((ids.len(), last)))
}

/// The backfill as it was before it ran in chunks: one transaction, every record in memory.
/// Kept as the reference the chunked backfill must agree with.
#[cfg(test)]
pub(crate) fn backfill_in_one_transaction(tx: &Connection) -> Result<u64, DbError> {
    let rows: Vec<(String, String, bool)> = tx
        .prepare("SELECT id, record_json(json, body), gone_at IS NULL FROM records ORDER BY id")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let decoded: Vec<(String, Record, bool)> = rows
        .into_iter()
        .filter_map(|(id, json, live)| {
            serde_json::from_str::<Record>(&json)
                .ok()
                .map(|r| (id, r, live))
        })
        .collect();
    let w = &mut SqliteTx::new(tx);
    for (id, r, _) in &decoded {
        write_keys(w, id, r)?;
    }
    let mut linked: BTreeSet<String> = BTreeSet::new();
    for (id, r, live) in &decoded {
        if !live {
            continue;
        }
        for p in find_partners(w, id, r)? {
            w.add_link(id, &p)?;
            linked.insert(p);
            linked.insert(id.clone());
        }
    }
    for id in &linked {
        w.bump(id)?;
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
    fn a_title_hash_is_the_folded_title_s_whatever_its_locale_and_never_changes() {
        let it = title_hash("t:it:piano del verde").unwrap();
        assert_eq!(title_hash("t::piano del verde"), Some(it));
        assert_ne!(title_hash("t:it:piano dei verdi"), Some(it));
        assert_eq!(title_hash("u:a.example.it/p/1"), None);
        assert_eq!(title_hash("l:a.example.it/p/1"), None);
        assert_eq!(title_hash("t:no-second-colon"), None);
        // Stored in every SQLite store: FNV-1a 64 of the title's bytes, pinned.
        assert_eq!(title_hash("t::"), Some(0xcbf2_9ce4_8422_2325_u64 as i64));
        assert_eq!(title_hash("t::a"), Some(0xaf63_dc4c_8601_ec8c_u64 as i64));
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

    fn same_place(a: &Record, b: &Record) -> bool {
        super::same_place(&WhenWhere::of(a), &WhenWhere::of(b))
    }

    fn dates_agree(a: &Record, b: &Record) -> bool {
        super::dates_agree(&WhenWhere::of(a), &WhenWhere::of(b))
    }

    #[test]
    fn places_must_be_one_entity_at_one_level() {
        let mut a = rec("Bilancio partecipativo 2026 del comune");
        let mut b = rec("Bilancio partecipativo 2026 del comune");
        assert!(!same_place(&a, &b), "unknown places are no evidence");
        a.territory.region = Some("08".into());
        assert!(!same_place(&a, &b), "a known place against an unknown one");
        b.territory.region = Some("16".into());
        assert!(!same_place(&a, &b), "Emilia-Romagna is not Puglia");
        b.territory.region = Some("08".into());
        assert!(same_place(&a, &b), "the same region");
        a.territory.comune = Some("037006".into());
        b.territory.comune = Some("040012".into());
        assert!(!same_place(&a, &b), "Bologna is not Forlì");
        b.territory.comune = None;
        assert!(!same_place(&a, &b), "a comune is not its region");
        b.territory.comune = Some("037006".into());
        assert!(same_place(&a, &b), "the same comune");
        let (mut n, mut r) = (rec("x"), rec("x"));
        n.territory.national = true;
        r.territory.region = Some("08".into());
        assert!(!same_place(&n, &r), "national is not regional");
        r.territory = n.territory.clone();
        assert!(same_place(&n, &r), "both national");
    }

    #[test]
    fn dates_must_agree() {
        let mut a = rec("x");
        let mut b = rec("x");
        assert!(!dates_agree(&a, &b), "undated records are no evidence");
        (a.start_date, a.end_date) = (d("2024-01-01"), d("2024-01-31"));
        (b.start_date, b.end_date) = (d("2024-01-01"), d("2024-02-03"));
        assert!(dates_agree(&a, &b), "same start, ends three days apart");
        b.end_date = d("2024-02-04");
        assert!(!dates_agree(&a, &b), "ends four days apart");
        (b.start_date, b.end_date) = (d("2024-01-02"), d("2024-01-31"));
        assert!(!dates_agree(&a, &b), "another start");
        b.start_date = None;
        assert!(!dates_agree(&a, &b), "a missing start");
        (b.start_date, b.end_date) = (d("2024-01-01"), None);
        assert!(!dates_agree(&a, &b), "a missing end");
    }

    #[test]
    fn a_meeting_is_not_a_copy_of_its_process() {
        assert!(kinds_compatible(Kind::Process, Kind::Consultation));
        assert!(kinds_compatible(Kind::Meeting, Kind::Meeting));
        assert!(!kinds_compatible(Kind::Process, Kind::Meeting));
        assert!(!kinds_compatible(Kind::Proposal, Kind::Assembly));
    }
}
