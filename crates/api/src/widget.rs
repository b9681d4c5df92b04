//! The embeddable widget's script, at a stable address and at addresses pinned by content.
//!
//! `/widget.js` always serves the current script with a short cache, so embeds that use it follow
//! upgrades. `/widget/{digest}.js` serves one exact script for good (a year's cache, immutable):
//! that is what a Subresource Integrity hash needs, and what the `/embed` snippet gives editors.
//! Earlier releases stay in `widget/releases/` (`scripts/widget-release.sh` puts them there), so
//! a pinned embed keeps working after an upgrade instead of failing its integrity check.

use std::sync::LazyLock;

use base64::Engine as _;
use sha2::{Digest, Sha384};

/// One version of the script.
#[derive(Debug)]
pub struct Script {
    /// The file name under `/widget/`: the first 16 bytes of its SHA-384, in hex, and `.js`.
    pub file: String,
    /// The value of the `integrity` attribute: `sha384-` and the digest in base64.
    pub integrity: String,
    pub body: &'static str,
}

impl Script {
    fn new(body: &'static str) -> Self {
        let digest = Sha384::digest(body.as_bytes());
        Script {
            file: format!("{}.js", hex::encode(&digest[..16])),
            integrity: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
            body,
        }
    }

    /// The address of this version under a hub's base URL (no trailing slash).
    pub fn url(&self, base: &str) -> String {
        format!("{base}/widget/{}", self.file)
    }
}

const CURRENT: &str = include_str!("../../../widget/widget.js");
const RELEASES: &[&str] = include!(concat!(env!("OUT_DIR"), "/widget_releases.rs"));

/// The current script first, then the earlier releases.
static SCRIPTS: LazyLock<Vec<Script>> = LazyLock::new(|| {
    std::iter::once(CURRENT)
        .chain(RELEASES.iter().copied().filter(|r| *r != CURRENT))
        .map(Script::new)
        .collect()
});

/// The script this build serves at `/widget.js`.
pub fn current() -> &'static Script {
    &SCRIPTS[0]
}

/// The version named `file` (`{digest}.js`), current or released.
pub fn find(file: &str) -> Option<&'static Script> {
    SCRIPTS.iter().find(|s| s.file == file)
}

/// Every version served under `/widget/`, the current one first.
pub fn all() -> &'static [Script] {
    &SCRIPTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_script_is_found_by_its_digest_and_its_integrity_is_sha384() {
        let cur = current();
        assert_eq!(cur.body, CURRENT);
        assert_eq!(find(&cur.file).map(|s| s.body), Some(CURRENT));
        assert_eq!(cur.file.len(), 32 + 3);
        let b64 = cur.integrity.strip_prefix("sha384-").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(raw, Sha384::digest(CURRENT.as_bytes()).to_vec());
        assert!(find("0000000000000000000000000000000.js").is_none());
        assert!(find("../widget.js").is_none());
    }

    #[test]
    fn every_released_file_is_named_by_its_own_digest() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../widget/releases");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "js") {
                continue;
            }
            let body = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let digest = Sha384::digest(body.as_bytes());
            assert_eq!(
                name,
                format!("{}.js", hex::encode(&digest[..16])),
                "{} is not named by its digest: run scripts/widget-release.sh",
                path.display()
            );
            assert!(find(&name).is_some(), "{name} is not served");
        }
    }
}
