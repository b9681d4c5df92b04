//! Every GraphQL document this connector can send. They are static texts (no introspection, no
//! string building at run time), kept as `.graphql` files under `queries/` and validated in tests
//! against the SDL of every Decidim version each one is meant for.

pub const PROBE_VERSION: &str = include_str!("../queries/probe_version.graphql");
pub const PROBE_ORGANIZATION_NAME: &str =
    include_str!("../queries/probe_organization_name.graphql");
pub const PROBE_ORGANIZATION_NAME_TRANSLATED: &str =
    include_str!("../queries/probe_organization_name_translated.graphql");
pub const PROBE_TAXONOMIES: &str = include_str!("../queries/probe_taxonomies.graphql");
pub const PROBE_PROCESS_TYPES: &str = include_str!("../queries/probe_process_types.graphql");

pub const PROCESSES: &str = include_str!("../queries/processes.graphql");
pub const PROCESSES_TAXONOMIES: &str = include_str!("../queries/processes_taxonomies.graphql");
pub const PROCESSES_MINIMAL: &str = include_str!("../queries/processes_minimal.graphql");
pub const ASSEMBLIES: &str = include_str!("../queries/assemblies.graphql");
pub const ASSEMBLIES_TAXONOMIES: &str = include_str!("../queries/assemblies_taxonomies.graphql");
pub const ASSEMBLIES_MINIMAL: &str = include_str!("../queries/assemblies_minimal.graphql");

pub const COUNT_PROPOSALS: &str = include_str!("../queries/count_proposals.graphql");
pub const COUNT_MEETINGS: &str = include_str!("../queries/count_meetings.graphql");
pub const COUNT_DEBATES: &str = include_str!("../queries/count_debates.graphql");
pub const COUNT_SURVEYS: &str = include_str!("../queries/count_surveys.graphql");
pub const COUNT_BUDGETS: &str = include_str!("../queries/count_budgets.graphql");
pub const COUNT_BATCH: &str = include_str!("../queries/count_batch.graphql");

pub const MEETINGS: &str = include_str!("../queries/meetings.graphql");

/// How many components [`COUNT_BATCH`] counts in one request (its `c1`…`c8` slots).
pub const BATCH_SLOTS: usize = 8;

/// Every query text this connector can send, by operation name.
pub const QUERIES: &[(&str, &str)] = &[
    ("ProbeVersion", PROBE_VERSION),
    ("ProbeOrganizationName", PROBE_ORGANIZATION_NAME),
    (
        "ProbeOrganizationNameTranslated",
        PROBE_ORGANIZATION_NAME_TRANSLATED,
    ),
    ("ProbeTaxonomies", PROBE_TAXONOMIES),
    ("ProbeProcessTypes", PROBE_PROCESS_TYPES),
    ("Processes", PROCESSES),
    ("ProcessesTaxonomies", PROCESSES_TAXONOMIES),
    ("ProcessesMinimal", PROCESSES_MINIMAL),
    ("Assemblies", ASSEMBLIES),
    ("AssembliesTaxonomies", ASSEMBLIES_TAXONOMIES),
    ("AssembliesMinimal", ASSEMBLIES_MINIMAL),
    ("CountProposals", COUNT_PROPOSALS),
    ("CountMeetings", COUNT_MEETINGS),
    ("CountDebates", COUNT_DEBATES),
    ("CountSurveys", COUNT_SURVEYS),
    ("CountBudgets", COUNT_BUDGETS),
    ("CountBatch", COUNT_BATCH),
    ("Meetings", MEETINGS),
];

/// The Decidim API versions this crate has schemas for (`schemas/decidim-{label}.graphql`).
pub const VERSIONS: &[&str] = &["0.26", "0.27", "0.28", "0.30dev-2024-10", "0.30dev-2025-01"];

const ALL: &[&str] = VERSIONS;
const UP_TO_0_28: &[&str] = &["0.26", "0.27", "0.28"];
const FROM_0_27: &[&str] = &["0.27", "0.28", "0.30dev-2024-10", "0.30dev-2025-01"];
const FROM_0_29: &[&str] = &["0.30dev-2024-10", "0.30dev-2025-01"];
const WITH_SCOPES: &[&str] = &["0.26", "0.27", "0.28", "0.30dev-2024-10"];
const WITH_TAXONOMIES: &[&str] = &["0.30dev-2025-01"];

/// For each query in [`QUERIES`], the versions whose schema it must validate against: where it
/// is meant to work. Probes are also sent to other versions, where failing *is* the answer
/// (tests check that they do fail there, so that each probe really tells versions apart).
/// `CountBatch` validates everywhere but is only sent where the complexity budget allows it
/// (0.27 on, or when `max_complexity` is configured high enough).
pub const QUERY_TARGETS: &[(&str, &[&str])] = &[
    ("ProbeVersion", ALL),
    ("ProbeOrganizationName", UP_TO_0_28),
    ("ProbeOrganizationNameTranslated", FROM_0_29),
    ("ProbeTaxonomies", WITH_TAXONOMIES),
    ("ProbeProcessTypes", FROM_0_27),
    ("Processes", WITH_SCOPES),
    ("ProcessesTaxonomies", WITH_TAXONOMIES),
    ("ProcessesMinimal", ALL),
    ("Assemblies", ALL),
    ("AssembliesTaxonomies", WITH_TAXONOMIES),
    ("AssembliesMinimal", ALL),
    ("CountProposals", ALL),
    ("CountMeetings", ALL),
    ("CountDebates", ALL),
    ("CountSurveys", ALL),
    ("CountBudgets", ALL),
    ("CountBatch", ALL),
    ("Meetings", ALL),
];

/// The versions `name` is meant for (empty for an unknown name).
pub fn targets(name: &str) -> &'static [&'static str] {
    QUERY_TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or(&[])
}
