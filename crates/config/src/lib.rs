//! Snodo's configuration file (`config/snodo.toml`): parse, then validate, then build.
//!
//! Unknown keys are errors that name the key and the file; every problem is reported at once, one
//! line each, naming the key and the fix. Connector-specific keys of a source are checked by the
//! connector's own typed params, through the [`KindCheck`] list the caller passes in, so this crate
//! never depends on connectors, the store or the index.
//!
//! Environment overrides (one documented way): `SNODO_DATA_DIR`, `SNODO_DATABASE_URL`,
//! `SNODO_LISTEN`, `SNODO_ADMIN_TOKEN` replace `storage.data_dir`, `storage.database_url`,
//! `server.listen`, `server.admin_token`.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use snodo_model::record::is_valid_source_id;
use snodo_model::Territory;

pub use toml;

/// The commented example shipped with the binary (`snodo config example`).
pub const EXAMPLE: &str = include_str!("../../../config/examples/snodo.example.toml");

pub const DEFAULT_SCHEDULE: &str = "0 0 */6 * * *";

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from, for messages.
    pub path: PathBuf,
    pub storage: Storage,
    pub server: Server,
    pub harvest: Harvest,
    pub log: Log,
    /// Who publishes the DCAT-AP_IT catalogue (`/catalog.ttl`); none is published without it.
    pub catalog: Option<Catalog>,
    pub sources: Vec<Source>,
}

/// The administration that publishes the hub's open-data catalogue, as dati.gov.it requires it:
/// DCAT-AP_IT names every publisher by its IPA code and wants a contact e-mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The administration's name (`"Dipartimento della Funzione Pubblica"`).
    pub publisher_name: String,
    /// Its code in the Indice dei domicili digitali della PA (IPA), e.g. `"dfp"`.
    pub publisher_id: String,
    /// Where questions about the data go.
    pub contact_email: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// The SQLite file and the index directory live here (relative to the working directory).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `postgres://user:password@host:5432/database` puts the store on PostgreSQL, so that
    /// several processes (one harvester, many API replicas) share it; the index stays local, in
    /// `data_dir`. Unset (the default), the store is the SQLite file in `data_dir`.
    #[serde(default)]
    pub database_url: Option<String>,
}

impl Storage {
    /// The PostgreSQL URL when one is set.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref().filter(|u| !u.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// An optional restriction of the origins whose pages may read the public API from a browser.
    /// Unset (the default), every origin may: the widget embeds anywhere with one line. A list
    /// limits reading to those origins (`"*"` in it allows all again; `[]` allows none).
    #[serde(default)]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Bearer token for admin endpoints; they are off when empty.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// The public base URL (`https://hub.example.it`), used in the embed snippet.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Sustained requests per minute per client address on the public API; 0 turns it off.
    #[serde(default = "default_rate_limit_per_minute")]
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once before the sustained rate applies.
    #[serde(default = "default_rate_limit_burst")]
    pub rate_limit_burst: u32,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Longest time one request may take before a 503.
    #[serde(default = "default_server_timeout")]
    pub request_timeout_secs: u64,
    /// Longest accepted path and query string, in bytes each; a longer path gets 414, a longer
    /// query string 400.
    #[serde(default = "default_max_uri_bytes")]
    pub max_uri_bytes: usize,
    /// Largest accepted request body, in bytes; larger gets 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Search answers kept in memory for repeated searches (about 10 KiB each); emptied whenever
    /// the index changes. 0 turns the cache off.
    #[serde(default = "default_search_cache_entries")]
    pub search_cache_entries: usize,
    /// Publishes the console's table of sources (health, last success, last error, records,
    /// next run), read-only, at `/status/sources`. Off by default; the console itself, at
    /// `/admin`, always needs the admin token.
    #[serde(default)]
    pub public_status_page: bool,
    /// The site's official accessibility statement, published through AgID's form
    /// (`https://form.agid.gov.it/view/…`); linked from `/accessibilita`.
    #[serde(default)]
    pub accessibility_statement_url: Option<String>,
    /// Where visitors report an accessibility barrier: an e-mail address or an http(s) address.
    #[serde(default)]
    pub accessibility_contact: Option<String>,
}

fn is_web_address(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn is_email_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !s
                .chars()
                .any(|c| c.is_whitespace() || "<>\"',;:/".contains(c))
    })
}

/// Whether `s` is an IP address or a CIDR network (`10.0.0.0/8`, `fd00::/8`).
pub fn is_ip_network(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Harvest {
    /// Default cron schedule (with seconds) for sources that set none.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Sources fetched and stored at once (their indexing, which never touches the platform,
    /// may overlap the next ones).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_sources: usize,
    #[serde(default = "one")]
    pub per_host_concurrency: usize,
    #[serde(default = "default_min_delay_ms")]
    pub min_delay_ms: u64,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_retry_budget")]
    pub retry_budget: u32,
    #[serde(default = "default_max_body_mb")]
    pub max_body_mb: u64,
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_secs: u64,
    /// Random delay (0..jitter) added to each scheduled run so many sources don't fire together.
    #[serde(default = "default_jitter")]
    pub jitter_secs: u64,
    /// A contact URL or e-mail put in the User-Agent, so platform operators can reach us.
    #[serde(default = "default_contact")]
    pub contact: String,
    /// Let public sources reach loopback and private addresses (off: a redirect or DNS answer
    /// pointing inside the network is refused). Only for sources on an internal network.
    #[serde(default)]
    pub allow_private_addresses: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    #[serde(default)]
    pub format: LogFormat,
    /// An `EnvFilter` directive (`info`, `snodo=debug`); `RUST_LOG` wins when set.
    #[serde(default = "default_level")]
    pub level: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format `{s}`; expected text or json")),
        }
    }
}

/// One configured source.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub schedule: String,
    pub enabled: bool,
    pub territory: Territory,
    /// The operator's additions to the topic keywords (`[sources.topics]`: a name, or the
    /// beginning of a word, → a theme code).
    pub topic_rules: Vec<snodo_model::topics::TopicRule>,
    /// The licence the platform publishes its texts under (`licence = "CC-BY-4.0"`); `None` when
    /// it is `"unknown"` or not given: then nothing Snodo publishes claims one.
    pub licence: Option<&'static snodo_model::licence::Licence>,
    /// How the platform asks to be credited (`attribution = "…"`); the source's name otherwise.
    pub attribution: Option<String>,
    /// Connector-specific keys, checked by the connector's typed params.
    pub params: toml::Table,
}

impl Source {
    pub fn cron(&self) -> cron::Schedule {
        // Validated at load time.
        cron::Schedule::from_str(&self.schedule).unwrap_or_else(|_| {
            cron::Schedule::from_str(DEFAULT_SCHEDULE).expect("the default schedule is valid")
        })
    }

    /// The shortest time between the next few scheduled runs: how often the source's data may
    /// change, as the open-data catalogue states it.
    pub fn period(&self) -> Option<chrono::Duration> {
        let next: Vec<_> = self.cron().upcoming(chrono::Utc).take(8).collect();
        next.windows(2).map(|w| w[1] - w[0]).min()
    }
}

/// A connector kind the caller knows, with the check of its specific keys.
pub struct KindCheck {
    pub kind: &'static str,
    /// Returns one message per bad key (`"page_size: must be at most 50"`).
    pub check: fn(&toml::Table) -> Result<(), Vec<String>>,
}

/// Everything wrong with a config file, one problem per line.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {p}", self.path.display())?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_storage")]
    storage: Storage,
    #[serde(default = "default_server")]
    server: Server,
    #[serde(default = "default_harvest")]
    harvest: Harvest,
    #[serde(default = "default_log")]
    log: Log,
    #[serde(default)]
    catalog: Option<Catalog>,
    #[serde(default)]
    sources: Vec<toml::Table>,
}

const SOURCE_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "url",
    "schedule",
    "enabled",
    "territory",
    "topics",
    "licence",
    "attribution",
];

impl Config {
    /// Reads, validates and applies environment overrides.
    pub fn load(path: &Path, kinds: &[KindCheck]) -> Result<Config, ConfigError> {
        let err = |problems: Vec<String>| ConfigError {
            path: path.to_owned(),
            problems,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(vec![format!(
                "cannot read the config file: {e}; pass --config PATH or set SNODO_CONFIG (`snodo config example` prints a commented example)"
            )])
        })?;
        let mut cfg = Self::parse(&text, path, kinds)?;
        cfg.apply_env(|k| std::env::var(k).ok())
            .map_err(|p| err(vec![p]))?;
        Ok(cfg)
    }

    /// Parses and validates TOML text; `path` only names the file in messages.
    pub fn parse(text: &str, path: &Path, kinds: &[KindCheck]) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_owned(),
            problems: vec![one_line_toml_error(text, &e)],
        })?;
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut sources = Vec::new();
        if let Err(e) = cron::Schedule::from_str(&raw.harvest.schedule) {
            let e = cron_error(&e);
            problems.push(format!("harvest.schedule: invalid cron expression `{}` ({e}); use 6 fields with seconds, e.g. \"{DEFAULT_SCHEDULE}\"", raw.harvest.schedule));
        }
        if raw.harvest.max_concurrent_sources == 0 {
            problems.push("harvest.max_concurrent_sources: must be at least 1".into());
        }
        if raw.harvest.per_host_concurrency == 0 {
            problems.push("harvest.per_host_concurrency: must be at least 1".into());
        }
        if raw.server.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen: `{}` is not an address like \"127.0.0.1:8080\"",
                raw.server.listen
            ));
        }
        for o in raw.server.cors_allowed_origins.iter().flatten() {
            if o != "*"
                && url::Url::parse(o)
                    .map(|u| u.origin().ascii_serialization() != *o)
                    .unwrap_or(true)
            {
                problems.push(format!("server.cors_allowed_origins: `{o}` is not an origin like \"https://open.gov.it\" (scheme and host, no path or trailing slash) or \"*\""));
            }
        }
        let srv = &raw.server;
        if let Some(u) = &srv.accessibility_statement_url {
            if !is_web_address(u) {
                problems.push(format!("server.accessibility_statement_url: `{u}` is not a web address like \"https://form.agid.gov.it/view/…\""));
            }
        }
        if let Some(c) = &srv.accessibility_contact {
            if !is_web_address(c) && !is_email_address(c) {
                problems.push(format!("server.accessibility_contact: `{c}` is neither an e-mail address nor a web address"));
            }
        }
        if let Some(c) = &raw.catalog {
            if c.publisher_name.trim().is_empty() {
                problems.push(
                    "catalog.publisher_name: the publishing administration's name is empty".into(),
                );
            }
            if c.publisher_id.is_empty()
                || !c
                    .publisher_id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            {
                problems.push(format!("catalog.publisher_id: `{}` is not an IPA code like \"dfp\" or \"r_emiro\" (letters, digits, _ and -)", c.publisher_id));
            }
            if !is_email_address(&c.contact_email) {
                problems.push(format!(
                    "catalog.contact_email: `{}` is not an e-mail address",
                    c.contact_email
                ));
            }
            if srv.public_url.as_deref().is_none_or(|u| !is_web_address(u)) {
                problems.push("catalog: the catalogue names every dataset by an address under the hub's own, so it needs server.public_url (\"https://hub.example.it\")".into());
            }
        }
        if srv.rate_limit_per_minute > 0 && srv.rate_limit_burst == 0 {
            problems.push("server.rate_limit_burst: must be at least 1 when server.rate_limit_per_minute is set (0 turns rate limiting off)".into());
        }
        for p in &srv.trusted_proxies {
            if !is_ip_network(p) {
                problems.push(format!("server.trusted_proxies: `{p}` is not an IP address or a network like \"10.0.0.0/8\" or \"::1\""));
            }
        }
        if !(1..=600).contains(&srv.request_timeout_secs) {
            problems.push("server.request_timeout_secs: must be between 1 and 600".into());
        }
        if !(256..=65_536).contains(&srv.max_uri_bytes) {
            problems.push("server.max_uri_bytes: must be between 256 and 65536".into());
        }
        if srv.max_body_bytes > 10 * 1024 * 1024 {
            problems.push("server.max_body_bytes: must be at most 10485760 (10 MiB)".into());
        }
        if srv.search_cache_entries > 1_000_000 {
            problems.push(
                "server.search_cache_entries: must be at most 1000000 (about 10 GiB of answers)"
                    .into(),
            );
        }
        for (i, table) in raw.sources.into_iter().enumerate() {
            if let Some(id) = table.get("id").and_then(|v| v.as_str()) {
                if !seen.insert(id.to_owned()) {
                    problems.push(format!("sources[{i}].id: duplicate source id `{id}`; every source needs its own id"));
                }
            }
            match source_from_table(i, table, &raw.harvest.schedule, kinds) {
                Ok(s) => sources.push(s),
                Err(mut p) => problems.append(&mut p),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(Config {
            path: path.to_owned(),
            storage: raw.storage,
            server: raw.server,
            harvest: raw.harvest,
            log: raw.log,
            catalog: raw.catalog,
            sources,
        })
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(d) = var("SNODO_DATA_DIR").filter(|v| !v.is_empty()) {
            self.storage.data_dir = PathBuf::from(d);
        }
        if let Some(u) = var("SNODO_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.storage.database_url = Some(u);
        }
        if let Some(u) = self.storage.database_url() {
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                return Err(
                    "storage.database_url / SNODO_DATABASE_URL: only PostgreSQL is supported, \
                     written postgres://user:password@host:5432/database (leave it unset for \
                     the embedded SQLite store)"
                        .into(),
                );
            }
        }
        if let Some(l) = var("SNODO_LISTEN").filter(|v| !v.is_empty()) {
            if l.parse::<SocketAddr>().is_err() {
                return Err(format!(
                    "SNODO_LISTEN: `{l}` is not an address like \"127.0.0.1:8080\""
                ));
            }
            self.server.listen = l;
        }
        if let Some(t) = var("SNODO_ADMIN_TOKEN").filter(|v| !v.is_empty()) {
            self.server.admin_token = Some(t);
        }
        Ok(())
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    pub fn db_path(&self) -> PathBuf {
        self.storage.data_dir.join("snodo.sqlite3")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.storage.data_dir.join("index")
    }

    /// The admin token, when admin endpoints are on.
    pub fn admin_token(&self) -> Option<&str> {
        self.server.admin_token.as_deref().filter(|t| !t.is_empty())
    }

    /// A config with no sources, for `snodo demo` and tests.
    pub fn empty(data_dir: PathBuf) -> Config {
        Config {
            path: PathBuf::from("(built-in)"),
            storage: Storage {
                data_dir,
                database_url: None,
            },
            server: default_server(),
            harvest: default_harvest(),
            log: default_log(),
            catalog: None,
            sources: Vec::new(),
        }
    }
}

fn source_from_table(
    i: usize,
    mut t: toml::Table,
    default_schedule: &str,
    kinds: &[KindCheck],
) -> Result<Source, Vec<String>> {
    let mut problems = Vec::new();
    let take_str = |t: &mut toml::Table,
                    key: &str,
                    required: bool,
                    problems: &mut Vec<String>|
     -> Option<String> {
        match t.remove(key) {
            Some(toml::Value::String(s)) => Some(s),
            Some(other) => {
                problems.push(format!(
                    "sources[{i}].{key}: expected a string, found {}",
                    other.type_str()
                ));
                None
            }
            None if required => {
                problems.push(format!(
                    "sources[{i}].{key}: missing (every source needs {})",
                    SOURCE_KEYS[..4].join(", ")
                ));
                None
            }
            None => None,
        }
    };
    let id = take_str(&mut t, "id", true, &mut problems);
    let label = |key: &str| match &id {
        Some(id) => format!("sources[{i}] (`{id}`).{key}"),
        None => format!("sources[{i}].{key}"),
    };
    let name = take_str(&mut t, "name", true, &mut problems);
    let kind = take_str(&mut t, "kind", true, &mut problems);
    let url = take_str(&mut t, "url", true, &mut problems);
    let schedule = take_str(&mut t, "schedule", false, &mut problems)
        .unwrap_or_else(|| default_schedule.to_owned());
    let territory_code = take_str(&mut t, "territory", false, &mut problems);
    let licence_id = take_str(&mut t, "licence", false, &mut problems);
    let attribution = take_str(&mut t, "attribution", false, &mut problems)
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    let enabled = match t.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            problems.push(format!(
                "{}: expected true or false, found {}",
                label("enabled"),
                other.type_str()
            ));
            true
        }
    };
    if let Some(id) = &id {
        if !is_valid_source_id(id) {
            problems.push(format!(
                "{}: `{id}` must match [a-z0-9-]+ (lower-case letters, digits, '-')",
                label("id")
            ));
        }
    }
    if let Some(u) = &url {
        match url::Url::parse(u) {
            Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
            _ => problems.push(format!("{}: `{u}` is not an http(s) URL", label("url"))),
        }
    }
    if let Err(e) = cron::Schedule::from_str(&schedule) {
        let e = cron_error(&e);
        problems.push(format!("{}: invalid cron expression `{schedule}` ({e}); use 6 fields with seconds, e.g. \"{DEFAULT_SCHEDULE}\"", label("schedule")));
    }
    let territory = match territory_code
        .as_deref()
        .map(snodo_model::territory::from_code)
    {
        None => Territory::default(),
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            problems.push(format!("{}: {e}", label("territory")));
            Territory::default()
        }
    };
    let licence = match licence_id.as_deref().map(str::trim) {
        None => None,
        Some(l) if l.eq_ignore_ascii_case(snodo_model::licence::UNKNOWN) => None,
        Some(l) => match snodo_model::licence::by_spdx(l) {
            Some(known) => Some(known),
            None => {
                let known: Vec<&str> = snodo_model::licence::KNOWN.iter().map(|k| k.spdx).collect();
                problems.push(format!(
                    "{}: `{l}` is not a licence Snodo knows; use its SPDX id, one of {}, or \"unknown\"",
                    label("licence"),
                    known.join(", ")
                ));
                None
            }
        },
    };
    let mut topic_rules = Vec::new();
    match t.remove("topics") {
        None => {}
        Some(toml::Value::Table(rules)) => {
            for (keyword, code) in rules {
                let rule = code
                    .as_str()
                    .and_then(|c| snodo_model::topics::TopicRule::new(&keyword, c));
                match rule {
                    Some(r) => topic_rules.push(r),
                    None => {
                        let codes: Vec<&str> = snodo_model::topics::THEMES
                            .iter()
                            .map(|t| t.code)
                            .collect();
                        problems.push(format!(
                            "{}: `{keyword}` = {code} is not a theme code; expected one of {}",
                            label("topics"),
                            codes.join(", ")
                        ));
                    }
                }
            }
        }
        Some(other) => problems.push(format!(
            "{}: expected a table of name = \"THEME\" (e.g. [sources.topics] \"Mobilità dolce\" = \"TRAN\"), found {}",
            label("topics"),
            other.type_str()
        )),
    }
    if let Some(k) = &kind {
        match kinds.iter().find(|c| c.kind == k) {
            None => {
                let known: Vec<&str> = kinds.iter().map(|c| c.kind).collect();
                problems.push(format!(
                    "{}: unknown kind `{k}`; known kinds: {}",
                    label("kind"),
                    known.join(", ")
                ));
            }
            Some(c) => {
                if let Err(msgs) = (c.check)(&t) {
                    problems.extend(msgs.into_iter().map(|m| {
                        format!(
                            "sources[{i}]{} ({k}): {m}",
                            id.as_ref().map(|i| format!(" (`{i}`)")).unwrap_or_default()
                        )
                    }));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Source {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        // as given: `/feed/` and `/feed` may be different resources (the Decidim and CONSUL
        // connectors take a base URL and trim it themselves)
        url: url.unwrap_or_default(),
        schedule,
        enabled,
        territory,
        topic_rules,
        licence,
        attribution,
        params: t,
    })
}

/// cron's messages quote the expression over several lines; keep the last, which says why.
fn cron_error(e: &cron::error::Error) -> String {
    let s = e.to_string();
    s.lines()
        .rev()
        .find(|l| l.trim().len() > 1)
        .unwrap_or(&s)
        .trim()
        .to_owned()
}

/// toml's messages span several lines with a source excerpt; keep one line with the position.
fn one_line_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            let line = if text[..span.start.min(text.len())].ends_with('\n') {
                line + 1
            } else {
                line
            };
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_rate_limit_per_minute() -> u32 {
    300
}
fn default_rate_limit_burst() -> u32 {
    60
}
fn default_server_timeout() -> u64 {
    10
}
fn default_max_uri_bytes() -> usize {
    // Above the API's own 500-character limit on `q`, so an over-long query is a 400 naming `q`.
    16 * 1024
}
fn default_max_body_bytes() -> usize {
    16 * 1024
}
fn default_search_cache_entries() -> usize {
    1024
}
fn default_schedule() -> String {
    DEFAULT_SCHEDULE.into()
}
fn default_max_concurrent() -> usize {
    4
}
fn one() -> usize {
    1
}
fn default_min_delay_ms() -> u64 {
    250
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    60
}
fn default_max_retries() -> u32 {
    3
}
fn default_retry_budget() -> u32 {
    20
}
fn default_max_body_mb() -> u64 {
    32
}
fn default_max_retry_after() -> u64 {
    300
}
fn default_jitter() -> u64 {
    60
}
fn default_contact() -> String {
    "https://github.com/snodo/snodo".into()
}
fn default_level() -> String {
    "info".into()
}
fn default_storage() -> Storage {
    Storage {
        data_dir: default_data_dir(),
        database_url: None,
    }
}
fn default_server() -> Server {
    Server {
        listen: default_listen(),
        cors_allowed_origins: None,
        admin_token: None,
        public_url: None,
        rate_limit_per_minute: default_rate_limit_per_minute(),
        rate_limit_burst: default_rate_limit_burst(),
        trusted_proxies: Vec::new(),
        request_timeout_secs: default_server_timeout(),
        max_uri_bytes: default_max_uri_bytes(),
        max_body_bytes: default_max_body_bytes(),
        search_cache_entries: default_search_cache_entries(),
        public_status_page: false,
        accessibility_statement_url: None,
        accessibility_contact: None,
    }
}
fn default_harvest() -> Harvest {
    Harvest {
        schedule: default_schedule(),
        max_concurrent_sources: default_max_concurrent(),
        per_host_concurrency: 1,
        min_delay_ms: default_min_delay_ms(),
        connect_timeout_secs: default_connect_timeout(),
        request_timeout_secs: default_request_timeout(),
        max_retries: default_max_retries(),
        retry_budget: default_retry_budget(),
        max_body_mb: default_max_body_mb(),
        max_retry_after_secs: default_max_retry_after(),
        jitter_secs: default_jitter(),
        contact: default_contact(),
        allow_private_addresses: false,
    }
}
fn default_log() -> Log {
    Log {
        format: LogFormat::Text,
        level: default_level(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_check(_: &toml::Table) -> Result<(), Vec<String>> {
        Ok(())
    }
    fn strict_check(t: &toml::Table) -> Result<(), Vec<String>> {
        let bad: Vec<String> = t
            .keys()
            .filter(|k| *k != "page_size")
            .map(|k| format!("unknown key `{k}`"))
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad)
        }
    }
    const KINDS: &[KindCheck] = &[
        KindCheck {
            kind: "decidim",
            check: strict_check,
        },
        KindCheck {
            kind: "feed",
            check: ok_check,
        },
    ];

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("snodo.toml"), KINDS)
    }

    #[test]
    fn the_shipped_example_and_config_parse() {
        parse(EXAMPLE).unwrap();
        let shipped = include_str!("../../../config/snodo.toml");
        let c = parse(shipped).unwrap();
        assert!(c.source("partecipa").is_some());
    }

    /// The other Italian platforms ship off, each after the evidence that it exists.
    #[test]
    fn the_italian_platforms_ship_disabled_with_their_evidence() {
        let text = include_str!("../../../config/examples/italy.toml");
        let italy = parse(text).unwrap();
        assert!(italy.sources.len() >= 2);
        for s in &italy.sources {
            assert!(!s.enabled, "{} must ship disabled", s.id);
            let at = text.find(&format!("id = \"{}\"", s.id)).unwrap();
            let comment = text[..at].rsplit("[[sources]]").nth(1).unwrap_or("");
            assert!(comment.contains("Evidence:"), "{} has no evidence", s.id);
        }
    }

    #[test]
    fn a_minimal_config_gets_defaults() {
        let c = parse("[[sources]]\nid = \"a\"\nname = \"A\"\nkind = \"decidim\"\nurl = \"https://a.it/\"\nterritory = \"16\"\npage_size = 20\n").unwrap();
        assert_eq!(c.storage.data_dir, PathBuf::from("data"));
        assert_eq!(c.sources[0].url, "https://a.it/", "kept as given");
        assert_eq!(c.sources[0].schedule, DEFAULT_SCHEDULE);
        assert_eq!(c.sources[0].territory.region.as_deref(), Some("16"));
        assert_eq!(
            c.sources[0]
                .params
                .get("page_size")
                .and_then(|v| v.as_integer()),
            Some(20)
        );
    }

    #[test]
    fn unknown_top_level_key_names_key_file_and_line() {
        let e = parse("[storage]\ndata_dir = \"d\"\ndatadir = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("snodo.toml: line 3"), "{e}");
        assert!(e.contains("datadir"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = parse(
            r#"
[[sources]]
id = "a"
name = "A"
kind = "decidim"
url = "https://a.it"
schedule = "every day"
page_sise = 3

[[sources]]
id = "a"
name = "B"
kind = "ckan"
url = "ftp://b.it"
territory = "99"
"#,
        )
        .unwrap_err();
        let all = e.to_string();
        assert_eq!(e.problems.len(), 6, "{all}");
        assert!(
            all.contains("sources[0] (`a`).schedule: invalid cron expression `every day`"),
            "{all}"
        );
        assert!(all.contains("unknown key `page_sise`"), "{all}");
        assert!(all.contains("duplicate source id `a`"), "{all}");
        assert!(
            all.contains("unknown kind `ckan`; known kinds: decidim, feed"),
            "{all}"
        );
        assert!(all.contains("`ftp://b.it` is not an http(s) URL"), "{all}");
        assert!(all.contains("sources[1] (`a`).territory"), "{all}");
        assert!(all.lines().all(|l| l.starts_with("snodo.toml: ")));
    }

    #[test]
    fn bad_ids_and_missing_keys() {
        let e =
            parse("[[sources]]\nid = \"Part Ecipa\"\nkind = \"decidim\"\nurl = \"https://a.it\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("must match [a-z0-9-]+"), "{e}");
        assert!(e.contains("sources[0].name: missing"), "{e}");
    }

    #[test]
    fn environment_overrides() {
        let mut c = parse("").unwrap();
        c.apply_env(|k| match k {
            "SNODO_DATA_DIR" => Some("/var/lib/snodo".into()),
            "SNODO_ADMIN_TOKEN" => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/snodo"));
        assert_eq!(c.admin_token(), Some("s3cret"));
        assert_eq!(c.storage.database_url(), None, "SQLite unless asked");
        c.apply_env(|k| (k == "SNODO_DATABASE_URL").then(|| "postgres://s@db/snodo".into()))
            .unwrap();
        assert_eq!(c.storage.database_url(), Some("postgres://s@db/snodo"));
        let e = c
            .apply_env(|k| (k == "SNODO_DATABASE_URL").then(|| "mysql://db/snodo".into()))
            .unwrap_err();
        assert!(e.contains("only PostgreSQL"), "{e}");
        assert!(c
            .apply_env(|k| (k == "SNODO_LISTEN").then(|| "nope".into()))
            .is_err());
    }

    #[test]
    fn server_limits_have_defaults_and_are_checked() {
        let c = parse("").unwrap();
        assert_eq!(
            (c.server.rate_limit_per_minute, c.server.rate_limit_burst),
            (300, 60)
        );
        assert_eq!(c.server.request_timeout_secs, 10);
        let c = parse("[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\nrate_limit_per_minute = 0\nrate_limit_burst = 0\n").unwrap();
        assert_eq!(c.server.trusted_proxies.len(), 3);
        let e = parse("[server]\ntrusted_proxies = [\"10.0.0.0/33\", \"proxy.local\"]\nrate_limit_burst = 0\nrequest_timeout_secs = 0\nmax_uri_bytes = 10\nmax_body_bytes = 999999999\nsearch_cache_entries = 2000000\n")
            .unwrap_err();
        let all = e.to_string();
        assert_eq!(e.problems.len(), 7, "{all}");
        assert!(all.contains("`10.0.0.0/33` is not an IP address"), "{all}");
        assert!(all.contains("`proxy.local`"), "{all}");
        assert!(all.contains("server.rate_limit_burst"), "{all}");
        assert!(all.contains("server.request_timeout_secs"), "{all}");
        assert!(all.contains("server.max_uri_bytes"), "{all}");
        assert!(all.contains("server.max_body_bytes"), "{all}");
        assert!(all.contains("server.search_cache_entries"), "{all}");
    }

    #[test]
    fn accessibility_addresses_are_checked() {
        let e = parse("[catalog]\npublisher_name = \" \"\npublisher_id = \"d f p\"\ncontact_email = \"nobody\"\n")
            .unwrap_err()
            .to_string();
        for key in [
            "catalog.publisher_name",
            "catalog.publisher_id",
            "catalog.contact_email",
            "server.public_url",
        ] {
            assert!(e.contains(key), "{key}: {e}");
        }
        let c = parse("[server]\npublic_url = \"https://hub.example.it\"\n[catalog]\npublisher_name = \"Dipartimento della Funzione Pubblica\"\npublisher_id = \"dfp\"\ncontact_email = \"opendata@example.it\"\n").unwrap();
        assert_eq!(c.catalog.map(|c| c.publisher_id), Some("dfp".to_string()));
        let e = parse("[server]\naccessibility_statement_url = \"form.agid.gov.it\"\naccessibility_contact = \"javascript:alert(1)\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.accessibility_statement_url"), "{e}");
        assert!(e.contains("server.accessibility_contact"), "{e}");
        for ok in [
            "accessibilita@comune.example.it",
            "https://example.it/contatti",
        ] {
            let c = parse(&format!("[server]\naccessibility_contact = \"{ok}\"\n")).unwrap();
            assert_eq!(c.server.accessibility_contact.as_deref(), Some(ok));
        }
    }

    #[test]
    fn cors_origins_are_checked() {
        let e = parse("[server]\ncors_allowed_origins = [\"https://open.gov.it/\", \"*\", \"https://ok.it\"]\n").unwrap_err().to_string();
        assert!(e.contains("`https://open.gov.it/` is not an origin"), "{e}");
        assert!(!e.contains("ok.it`"), "{e}");
    }

    #[test]
    fn licences_are_spdx_ids_or_unknown() {
        let src = |extra: &str| {
            format!("[[sources]]\nid = \"a\"\nname = \"A\"\nkind = \"decidim\"\nurl = \"https://a.it\"\n{extra}")
        };
        let c = parse(&src(
            "licence = \"cc-by-4.0\"\nattribution = \"Comune di A\"\n",
        ))
        .unwrap();
        assert_eq!(c.sources[0].licence.map(|l| l.spdx), Some("CC-BY-4.0"));
        assert_eq!(c.sources[0].attribution.as_deref(), Some("Comune di A"));
        for unknown in ["", "licence = \"unknown\"\n"] {
            let c = parse(&src(unknown)).unwrap();
            assert_eq!(c.sources[0].licence, None);
        }
        let e = parse(&src("licence = \"GPL-3.0\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`GPL-3.0` is not a licence Snodo knows"), "{e}");
        assert!(e.contains("CC0-1.0") && e.contains("\"unknown\""), "{e}");
        // the shipped configuration claims no licence it has not checked
        let shipped = parse(include_str!("../../../config/snodo.toml")).unwrap();
        assert!(shipped.sources.iter().all(|s| s.licence.is_none()));
    }

    #[test]
    fn topic_rules_are_read_per_source_and_checked() {
        let src =
            "[[sources]]\nid = \"a\"\nname = \"A\"\nkind = \"decidim\"\nurl = \"https://a.it\"\n";
        let c = parse(&format!("{src}[sources.topics]\n\"Cammini\" = \"TRAN\"\n")).unwrap();
        assert_eq!(c.sources[0].topic_rules.len(), 1);
        assert_eq!(c.sources[0].topic_rules[0].theme, "TRAN");
        let e = parse(&format!("{src}[sources.topics]\n\"Cammini\" = \"WALK\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sources[0] (`a`).topics: `Cammini`"), "{e}");
        assert!(e.contains("AGRI, ECON"), "{e}");
    }

    /// The one-line embed works on any site with the configuration Snodo ships.
    #[test]
    fn shipped_config_restricts_no_origin() {
        let config = parse(include_str!("../../../config/snodo.toml")).unwrap();
        assert_eq!(config.server.cors_allowed_origins, None);
        assert_eq!(default_server().cors_allowed_origins, None);
    }
}
