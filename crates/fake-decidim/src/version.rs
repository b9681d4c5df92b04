//! Decidim versions whose SDL ships with the connector.

use std::fmt;
use std::str::FromStr;

/// The `max_depth` of every Decidim release from 0.20 to 0.30 (`decidim-api`'s schema).
pub(crate) const MAX_DEPTH: u64 = 15;

/// A Decidim release line whose reconstructed SDL is bundled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// Decidim 0.26.
    V0_26,
    /// Decidim 0.27.
    V0_27,
    /// Decidim 0.28.
    V0_28,
    /// Decidim's development branch in October 2024 (close to 0.29).
    V0_30Dev2024_10,
    /// Decidim's development branch in January 2025 (close to 0.30).
    V0_30Dev2025_01,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 5] = [
        Version::V0_26,
        Version::V0_27,
        Version::V0_28,
        Version::V0_30Dev2024_10,
        Version::V0_30Dev2025_01,
    ];

    /// The short name used in file names and configuration: `"0.26"`, …, `"0.30dev-2025-01"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_26 => "0.26",
            Version::V0_27 => "0.27",
            Version::V0_28 => "0.28",
            Version::V0_30Dev2024_10 => "0.30dev-2024-10",
            Version::V0_30Dev2025_01 => "0.30dev-2025-01",
        }
    }

    /// What `decidim { version }` answers by default (the `version.rb` of the SDL's source).
    pub fn release(self) -> &'static str {
        match self {
            Version::V0_26 => "0.26.8",
            Version::V0_27 => "0.27.9",
            Version::V0_28 => "0.28.4",
            Version::V0_30Dev2024_10 | Version::V0_30Dev2025_01 => "0.30.0.dev",
        }
    }

    /// graphql-ruby's `max_complexity` as Decidim configures it: 300 on 0.26, 5000 from 0.27.
    pub fn default_max_complexity(self) -> u64 {
        match self {
            Version::V0_26 => 300,
            _ => 5000,
        }
    }

    /// graphql-ruby's `max_depth` as Decidim configures it.
    pub fn default_max_depth(self) -> u64 {
        MAX_DEPTH
    }

    /// From 0.28 on, image fields hold full URLs instead of paths.
    pub(crate) fn full_image_urls(self) -> bool {
        self >= Version::V0_28
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version name that is not one of [`Version::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Decidim version `{0}`; known versions: 0.26, 0.27, 0.28, 0.30dev-2024-10, 0.30dev-2025-01")]
pub struct UnknownVersion(pub String);

impl FromStr for Version {
    type Err = UnknownVersion;

    /// Accepts the [`Version::as_str`] names, plus `0.29` (the 2024-10 snapshot) and `0.30`
    /// (the 2025-01 snapshot).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Version::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .or(match s {
                "0.29" => Some(Version::V0_30Dev2024_10),
                "0.30" => Some(Version::V0_30Dev2025_01),
                _ => None,
            })
            .ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

/// The reconstructed SDL of a version, as shipped in `connectors/decidim/schemas/`.
pub fn schema_sdl(v: Version) -> &'static str {
    match v {
        Version::V0_26 => include_str!("../../../connectors/decidim/schemas/decidim-0.26.graphql"),
        Version::V0_27 => include_str!("../../../connectors/decidim/schemas/decidim-0.27.graphql"),
        Version::V0_28 => include_str!("../../../connectors/decidim/schemas/decidim-0.28.graphql"),
        Version::V0_30Dev2024_10 => {
            include_str!("../../../connectors/decidim/schemas/decidim-0.30dev-2024-10.graphql")
        }
        Version::V0_30Dev2025_01 => {
            include_str!("../../../connectors/decidim/schemas/decidim-0.30dev-2025-01.graphql")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Version::ALL {
            assert_eq!(v.as_str().parse::<Version>(), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!("0.29".parse::<Version>(), Ok(Version::V0_30Dev2024_10));
        let err = "0.17".parse::<Version>().unwrap_err();
        assert!(err.to_string().contains("0.17"));
    }

    #[test]
    fn sdl_is_the_right_file() {
        assert!(schema_sdl(Version::V0_26).contains("version.rb 0.26"));
        assert!(schema_sdl(Version::V0_30Dev2025_01).contains("type Taxonomy"));
        assert!(!schema_sdl(Version::V0_28).contains("type Taxonomy"));
    }
}
