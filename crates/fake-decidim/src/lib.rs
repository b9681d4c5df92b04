//! A fake Decidim server for tests and the offline demo.
//!
//! This crate owns a tiny GraphQL executor that answers like Decidim's public API as far as a
//! harvester can tell: queries are parsed and validated against the reconstructed SDL of the
//! configured Decidim version (`connectors/decidim/schemas/`), then executed over a JSON data tree
//! ([`Dataset`]) written in Decidim's own GraphQL shapes. Nothing is keyed by query text.
//!
//! What it reproduces:
//! - graphql-ruby style validation errors (HTTP 200, `errors`, no `data`);
//! - Decidim's visibility rules (published, non-private spaces), with a switch to misbehave
//!   ([`Flags::leak_private`]) so a harvester's own filter can be tested;
//! - Relay connections with opaque cursors and a page size capped at 50;
//! - graphql-ruby's max depth (15) and max complexity (300 on 0.26, 5000 from 0.27);
//! - per-version differences, which come from the SDL itself;
//! - fault injection ([`Faults`]) and a request log ([`FakeDecidim::requests`]).
//!
//! Bundled samples ([`Dataset::sample`]), hand-written Italian content in Decidim's shapes, with
//! dates chosen so that, seen from late 2026 until the end of 2028, some processes are open
//! (ending in 2030 or later, or open-ended), some upcoming (starting in 2029) and some closed:
//!
//! | name | like | processes (open/upcoming/closed) | assemblies | locales |
//! |---|---|---|---|---|
//! | `partecipa` | ParteciPa, national | 8 (3/2/3) + 1 unpublished | 3 (one private but transparent) + 1 private | it, en |
//! | `emilia-romagna` | PartecipAzioni | 6 (3/1/2) + 1 unpublished | 1 + 1 private | it |
//! | `puglia` | Puglia Partecipa | 5 (2/1/2) + 1 unpublished | 1 + 1 private | it |
//! | `hostile` | a misbehaving instance | script/iframe/`javascript:` payloads, German only, empty texts, null dates, ~45 KB texts; leaks its unpublished and private spaces | 1 + 1 private | mixed |
//!
//! Meetings (Relay connections of each Meetings component) are dated so that some are past and
//! some upcoming (2029–2030) through 2028. Those a careful harvester keeps: `partecipa` 9 (3 in
//! 2029–2030, in it/en and one English only), `emilia-romagna` 6 (2), `puglia` 5 (1) and
//! `hostile` 3 (1). Beside them sit
//! what a harvester must drop: a withdrawn meeting (`partecipa`, `hostile`), a private
//! non-transparent one (hidden, except on `hostile` which leaks it) and one hidden by moderation.
//! `hostile` has an upcoming meeting with script, image and iframe payloads in its title,
//! description, address and venue, plus `;`, `,`, `\` and a newline to escape in a calendar.
//!
//! Proposals carry `author { name nickname }` so tests can check a harvester never stores them.
//!
//! What it must not do: talk to anything but loopback clients, or be used as a real server.
//!
//! ```
//! use snodo_fake_decidim::{execute, Dataset, Version};
//! let data = Dataset::sample("partecipa").expect("bundled sample");
//! let response = execute(
//!     Version::V0_28,
//!     &data,
//!     "{ participatoryProcesses { slug } }",
//!     &serde_json::json!({}),
//! );
//! assert!(response["data"]["participatoryProcesses"].as_array().is_some());
//! ```

mod analysis;
mod dataset;
mod errors;
mod exec;
mod schema;
mod server;
mod version;

pub use dataset::{Dataset, DatasetError, Flags};
pub use exec::{execute, execute_with};
pub use schema::{complexity, validate, validate_sdl};
pub use server::{FakeDecidim, Faults, LoggedRequest};
pub use version::{schema_sdl, UnknownVersion, Version};
