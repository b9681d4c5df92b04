//! The shipped config and the worked examples of every site connector load and build.

use std::path::Path;

use snodo_config::Config;
use snodo_connector::SourceSpec;

fn build_all(path: &str) -> usize {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let config = Config::load(&p, &snodo_harvest::registry::kinds())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    for s in &config.sources {
        let spec = SourceSpec {
            id: s.id.clone(),
            name: s.name.clone(),
            url: s.url.clone(),
            territory: s.territory.clone(),
        };
        if let Err(e) = snodo_harvest::registry::build(s, &spec) {
            panic!("{path}: source {}: {e}", s.id);
        }
    }
    config.sources.len()
}

#[test]
fn examples_and_shipped_sources_build() {
    assert_eq!(build_all("config/examples/feed.toml"), 1);
    assert_eq!(build_all("config/examples/html.toml"), 1);
    assert_eq!(build_all("config/examples/json.toml"), 3);
    assert_eq!(build_all("config/examples/consul.toml"), 1);
    assert!(build_all("config/examples/italy.toml") >= 2);
    assert!(build_all("config/snodo.toml") >= 5);
}

#[test]
fn a_typo_in_a_site_source_is_an_error_naming_the_key() {
    let text = "[[sources]]\nid = \"x\"\nname = \"X\"\nkind = \"html\"\nurl = \"https://x.it\"\n[sources.item]\ntitel = \"h1\"\n";
    let e = Config::parse(text, Path::new("t.toml"), &snodo_harvest::registry::kinds())
        .unwrap_err()
        .to_string();
    assert!(e.contains("titel"), "{e}");
}
