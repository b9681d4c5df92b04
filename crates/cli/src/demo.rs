//! `snodo demo`: the whole product offline. Starts sample Decidim platforms (bundled data, three
//! API versions) on loopback, harvests them into a real store and index, and serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use snodo_config::{Config, Source};
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};

/// (source id, name, dataset, Decidim version, default territory)
const DEMO_SOURCES: &[(&str, &str, &str, Version, &str)] = &[
    (
        "partecipa",
        "ParteciPa (demo)",
        "partecipa",
        Version::V0_28,
        "IT",
    ),
    (
        "partecipazioni-emr",
        "PartecipAzioni (demo)",
        "emilia-romagna",
        Version::V0_27,
        "08",
    ),
    (
        "puglia-partecipa",
        "Puglia Partecipa (demo)",
        "puglia",
        Version::V0_26,
        "16",
    ),
];

pub async fn run(
    listen: SocketAddr,
    data_dir: PathBuf,
    cors: Vec<String>,
    rate_limit_per_minute: u32,
) -> anyhow::Result<ExitCode> {
    let mut fakes = Vec::new();
    let mut config = Config::empty(data_dir);
    config.path = PathBuf::from("(snodo demo)");
    config.harvest.min_delay_ms = 0;
    config.harvest.jitter_secs = 0;
    config.server.cors_allowed_origins = (!cors.is_empty()).then_some(cors);
    config.server.rate_limit_per_minute = rate_limit_per_minute;
    // the console at /admin, with the token the environment gives (as `serve` reads it)
    config.server.admin_token = std::env::var("SNODO_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    // a sample publisher, so the demo shows the DCAT-AP_IT catalogue too
    config.catalog = Some(snodo_config::Catalog {
        publisher_name: "Snodo (demo)".into(),
        publisher_id: "snodo_demo".into(),
        contact_email: "demo@example.invalid".into(),
    });
    for (id, name, dataset, version, territory) in DEMO_SOURCES {
        let data = Dataset::sample(dataset)
            .with_context(|| format!("the bundled sample `{dataset}` is missing"))?;
        let fake = FakeDecidim::start(*version, data, Faults::default())
            .await
            .context("cannot start a sample platform on loopback")?;
        tracing::info!(source = id, url = %fake.url(), version = version.as_str(), "sample Decidim platform started");
        config.sources.push(Source {
            id: (*id).into(),
            name: (*name).into(),
            kind: "decidim".into(),
            url: fake.url(),
            // Once a day: the demo harvests at start; this keeps it from re-harvesting often.
            schedule: "0 0 3 * * *".into(),
            enabled: true,
            territory: snodo_model::territory::from_code(territory)?,
            topic_rules: Vec::new(),
            // sample data: nobody has established a licence, and the demo says so
            licence: None,
            attribution: None,
            params: toml_table(),
        });
        fakes.push(fake);
    }
    let app = crate::app::App::open(config).await?;
    let ids: Vec<String> = DEMO_SOURCES.iter().map(|s| s.0.to_owned()).collect();
    app.harvest(&ids, false).await?;
    app.serve(listen, crate::app::Role::All).await?;
    drop(fakes);
    Ok(ExitCode::SUCCESS)
}

fn toml_table() -> snodo_config::toml::Table {
    snodo_config::toml::Table::new()
}
