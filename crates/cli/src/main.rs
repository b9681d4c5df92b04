//! `snodo`: the one binary. Parses the command line, loads the config, opens store and index, and
//! wires harvester, scheduler and API together. Errors reach the user here, with `anyhow` context.

mod alloc;
mod app;
#[cfg(feature = "demo")]
mod demo;
mod output;
mod remote;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use snodo_config::LogFormat;

#[derive(Parser)]
#[command(
    name = "snodo",
    version,
    about = "Snodo: the diffused national hub for public participation in Italy"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "SNODO_CONFIG",
        default_value = "config/snodo.toml"
    )]
    config: PathBuf,
    /// Log format: text (default) or json; overrides [log] format.
    #[arg(long, global = true)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the API, the widget and the public page, and harvest on schedule.
    Serve {
        /// Address to listen on; overrides [server] listen.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// With the store on PostgreSQL: `api` serves search from a local index that follows
        /// the store, `harvester` harvests while it holds the leadership, `all` does both.
        #[arg(long, value_enum, env = "SNODO_ROLE", default_value = "all")]
        role: app::Role,
    },
    /// Harvest now (all sources, or the named ones), store, index, print a summary.
    /// Exit status 0 when every source succeeded, 1 otherwise.
    Harvest {
        sources: Vec<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The configured sources with their last run and health.
    Sources {
        #[arg(long)]
        json: bool,
    },
    /// Search from the terminal (the same engine as the API).
    Search {
        /// The query; several words are joined.
        query: Vec<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        source: Option<String>,
        /// relevance, newest or closing
        #[arg(long)]
        sort: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Fetch one page of a source and print the records it would produce, storing nothing:
    /// how an operator verifies a new or changed source.
    Check {
        source: String,
        /// At most this many records.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the index from the store.
    Reindex,
    /// Start built-in sample Decidim platforms on loopback, harvest them and serve: the whole
    /// product, offline.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the demo keeps its SQLite file and index.
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
        /// Restrict the origins whose pages may read the API (repeatable); every origin may
        /// when none is given.
        #[arg(long = "cors-allow-origin")]
        cors_allow_origin: Vec<String>,
        /// Searches a client may make per minute (0: no limit, for tests that search from one
        /// address faster than any visitor would).
        #[arg(long, default_value_t = 300)]
        rate_limit_per_minute: u32,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Copy the SQLite store to PATH with SQLite's online backup (safe while serving).
    Backup { path: PathBuf },
    /// Move a SQLite store, history included, into an empty PostgreSQL database and check the
    /// copy (row counts, the highest seq, a digest of every record). Stop snodo first; then set
    /// storage.database_url. The index in the data directory stays valid: seqs are kept.
    Migrate {
        /// The SQLite file (storage.data_dir/snodo.sqlite3).
        #[arg(long)]
        from: PathBuf,
        /// postgres://user:password@host:5432/database
        #[arg(long)]
        to: String,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the commented example configuration.
    Example,
    /// Check the configuration and print every problem.
    Check,
}

impl Cmd {
    fn workload(&self) -> alloc::Workload {
        match self {
            Cmd::Harvest { .. } | Cmd::Reindex | Cmd::Migrate { .. } | Cmd::Backup { .. } => {
                alloc::Workload::Batch
            }
            _ => alloc::Workload::Serving,
        }
    }
}

/// Whether opening failed because another process (`snodo serve`) writes the index.
fn index_is_locked(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<snodo_index::IndexError>(),
        Some(snodo_index::IndexError::Locked { .. })
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    alloc::return_freed_memory_sooner(cli.cmd.workload());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Config {
            cmd: ConfigCmd::Example,
        } => {
            print!("{}", snodo_config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config {
            cmd: ConfigCmd::Check,
        } => {
            let cfg = app::load_config(&cli.config)?;
            println!("{}: ok, {} sources", cfg.path.display(), cfg.sources.len());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Migrate { from, to, json } => {
            app::init_logging(cli.log_format.unwrap_or_default(), "warn");
            app::migrate(from, to, json).await
        }
        Cmd::Demo {
            listen,
            data_dir,
            cors_allow_origin,
            rate_limit_per_minute,
        } => {
            app::init_logging(cli.log_format.unwrap_or_default(), "info");
            #[cfg(feature = "demo")]
            return demo::run(listen, data_dir, cors_allow_origin, rate_limit_per_minute).await;
            #[cfg(not(feature = "demo"))]
            {
                let _ = (listen, data_dir, cors_allow_origin, rate_limit_per_minute);
                anyhow::bail!(
                    "this build of snodo has no demo (built with --no-default-features); \
                     build it with `cargo build --release -p snodo-cli` to get `snodo demo`"
                )
            }
        }
        cmd => {
            let cfg = app::load_config(&cli.config)?;
            app::init_logging(cli.log_format.unwrap_or(cfg.log.format), &cfg.log.level);
            match cmd {
                Cmd::Serve { listen, role } => {
                    let listen = match listen {
                        Some(l) => l,
                        None => cfg.server.listen.parse().context("server.listen")?,
                    };
                    let app = app::App::open(cfg).await?;
                    app.serve(listen, role).await?;
                    Ok(ExitCode::SUCCESS)
                }
                Cmd::Harvest { sources, json } => match app::App::open(cfg.clone()).await {
                    Ok(app) => app.harvest(&sources, json).await,
                    // `snodo serve` owns the index: ask it to harvest instead.
                    Err(e) if index_is_locked(&e) => remote::harvest(&cfg, &sources, json).await,
                    Err(e) => Err(e),
                },
                Cmd::Sources { json } => {
                    let app = app::App::open_for_reading(cfg).await?;
                    output::print_sources(&app, json)?;
                    Ok(ExitCode::SUCCESS)
                }
                Cmd::Search {
                    query,
                    kind,
                    status,
                    region,
                    source,
                    sort,
                    limit,
                    lang,
                    json,
                } => {
                    let app = app::App::open_for_reading(cfg).await?;
                    let mut qs: Vec<(&str, String)> = vec![("limit", limit.to_string())];
                    let q = query.join(" ");
                    if !q.trim().is_empty() {
                        qs.push(("q", q));
                    }
                    for (k, v) in [
                        ("kind", kind),
                        ("status", status),
                        ("region", region),
                        ("source", source),
                        ("sort", sort),
                        ("lang", lang),
                    ] {
                        if let Some(v) = v {
                            qs.push((k, v));
                        }
                    }
                    output::search(&app, &qs, json).await
                }
                Cmd::Check {
                    source,
                    limit,
                    json,
                } => {
                    let report = snodo_harvest::registry::check_source(
                        &cfg,
                        &source,
                        limit,
                        Default::default(),
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                    let discovery = if report.records.is_empty() {
                        let d = snodo_harvest::registry::discover_source(&cfg, &source)
                            .await
                            .map_err(|e| anyhow::anyhow!(e))?;
                        let name = cfg
                            .sources
                            .iter()
                            .find(|s| s.id == source)
                            .map_or(source.as_str(), |s| s.name.as_str());
                        let suggestion = d.suggestion(&source, name).unwrap_or_default();
                        Some((d, suggestion))
                    } else {
                        None
                    };
                    output::print_check(
                        &report,
                        discovery.as_ref().map(|(d, s)| (d, s.clone())),
                        json,
                    )?;
                    Ok(if report.ok() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
                Cmd::Reindex => {
                    let started = std::time::Instant::now();
                    let app = app::App::open(cfg).await?;
                    // An index of another schema version was just rebuilt: once is enough.
                    let n = match app.rebuilt_on_open {
                        Some(n) => n,
                        None => app.indexer.rebuild().await.context("reindex failed")?,
                    };
                    println!(
                        "reindexed {n} records in {:.1}s",
                        started.elapsed().as_secs_f64()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Cmd::Backup { path } => {
                    let app = app::App::open(cfg).await?;
                    app.store
                        .backup_to(&path)
                        .with_context(|| format!("backup to {}", path.display()))?;
                    println!("backed up the store to {}", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Cmd::Config { .. } | Cmd::Demo { .. } | Cmd::Migrate { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-shot jobs give freed memory back at once; serving keeps it briefly.
    #[test]
    fn batch_commands_and_serving_commands_free_memory_differently() {
        let workload = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("snodo").chain(args.iter().copied()))
                .unwrap()
                .cmd
                .workload()
        };
        for batch in [&["harvest"][..], &["harvest", "a", "--json"], &["reindex"]] {
            assert_eq!(workload(batch), alloc::Workload::Batch, "{batch:?}");
        }
        for serving in [&["serve"][..], &["demo"]] {
            assert_eq!(workload(serving), alloc::Workload::Serving, "{serving:?}");
        }
    }
}
