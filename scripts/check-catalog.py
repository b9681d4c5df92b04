#!/usr/bin/env python3
"""Validates the hub's DCAT-AP_IT catalogue against the SHACL shapes in tests/fixtures/shacl/.

Usage: check-catalog.py BASE_URL   (a running Snodo with a [catalog] section, e.g. `snodo demo`)

Checks /catalog.ttl and /catalog.jsonld against the European DCAT-AP 2.1.1 shapes and the
DCAT-AP_IT shapes, that both describe the same graph, that every source's licence is the one
configured (AgID's "Licenza sconosciuta" for an unknown one, never CC BY), and that a
deliberately broken catalogue fails with each of its faults named.
"""
import json
import sys
import urllib.request
from pathlib import Path

from pyshacl import validate
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "tests" / "fixtures" / "shacl"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
LIC = "https://w3id.org/italia/controlled-vocabulary/licences/"


def shapes() -> Graph:
    g = Graph()
    for f in ("dcat-ap_2.1.1_shacl_shapes.ttl", "dcat-ap_2.1.1_shacl_range.ttl", "dcat-ap_it.shapes.ttl"):
        g.parse(SHAPES / f, format="turtle")
    return g


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.headers.get("content-type", ""), r.read()


def check(name: str, data: Graph, sh: Graph) -> None:
    conforms, _, text = validate(data, shacl_graph=sh, inference="none", abort_on_first=False)
    if not conforms:
        sys.exit(f"{name} does not conform:\n{text}")
    print(f"{name}: conforms ({len(data)} triples)")


def main() -> None:
    base = sys.argv[1].rstrip("/")
    sh = shapes()
    ctype, ttl = fetch(f"{base}/catalog.ttl")
    assert ctype.startswith("text/turtle"), ctype
    ctype, jsonld = fetch(f"{base}/catalog.jsonld")
    assert ctype.startswith("application/ld+json"), ctype
    g_ttl = Graph().parse(data=ttl, format="turtle")
    g_json = Graph().parse(data=jsonld, format="json-ld")
    check("/catalog.ttl", g_ttl, sh)
    check("/catalog.jsonld", g_json, sh)
    if not isomorphic(g_ttl, g_json):
        sys.exit("/catalog.ttl and /catalog.jsonld describe different graphs")

    # Every configured source is a dataset whose distributions carry the source's licence.
    _, body = fetch(f"{base}/api/v1/sources")
    sources = json.loads(body)
    catalog = URIRef(f"{base}/catalog")
    datasets = set(g_ttl.objects(catalog, DCAT.dataset))
    assert URIRef(f"{base}/catalog/dataset/all") in datasets
    for s in sources:
        ds = URIRef(f"{base}/catalog/dataset/{s['id']}")
        assert ds in datasets, f"no dataset for source {s['id']}"
        want = {"unknown": f"{LIC}C11_Unknown", "CC-BY-4.0": f"{LIC}A21_CCBY40"}.get(s.get("licence", "unknown"))
        for dist in g_ttl.objects(ds, DCAT.distribution):
            lic = str(g_ttl.value(dist, DCT.license))
            if want:
                assert lic == want, f"{dist}: licence {lic}, configured {s.get('licence')}"
            assert "CCBY" not in lic or s.get("licence", "unknown") != "unknown", f"{dist} claims {lic}"
            # the distribution's address answers; an export holds this source's records only
            url = str(g_ttl.value(dist, DCAT.accessURL))
            with urllib.request.urlopen(url, timeout=30) as r:
                assert r.status == 200, f"{url}: {r.status}"
                body = r.read()
            if url.endswith(f"export.jsonl?source={s['id']}"):
                rows = [json.loads(line) for line in body.splitlines() if line.strip()]
                assert rows and all(row["source"] == s["id"] for row in rows), url
    print(f"{len(sources)} sources: one dataset each, distributions answer, licences as configured")

    # The shapes catch what a broken catalogue gets wrong.
    bad = Graph().parse(SHAPES / "invalid-catalog.ttl", format="turtle")
    conforms, report, _ = validate(bad, shacl_graph=sh, inference="none")
    assert not conforms, "the broken catalogue passed: the shapes check nothing"
    SH = Namespace("http://www.w3.org/ns/shacl#")
    paths = {str(p) for p in report.objects(None, SH.resultPath)}
    for p in (DCT.identifier, DCAT.theme, DCT.rightsHolder, DCT.accrualPeriodicity, DCT.license, DCT["format"], DCT.modified):
        assert str(p) in paths, f"the shapes missed {p}: {sorted(paths)}"
    print("the deliberately broken catalogue fails on each of its faults")


if __name__ == "__main__":
    main()
