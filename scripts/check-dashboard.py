#!/usr/bin/env python3
"""Checks a Grafana dashboard JSON (the parts Grafana's import needs) and writes its PromQL
expressions as recording rules, for `promtool check rules` to parse.

Usage: check-dashboard.py DASHBOARD.json RULES_OUT.yml
"""
import glob
import json
import re
import sys


def fail(msg):
    sys.exit(f"{sys.argv[1]}: {msg}")


def exported_metrics():
    """Metric names described in the Rust sources (`describe_*!("name", …)`)."""
    names = set()
    for path in glob.glob("crates/**/*.rs", recursive=True):
        text = open(path, encoding="utf-8").read()
        names.update(re.findall(r'describe_(?:counter|gauge|histogram)!\(\s*"([a-z_]+)"', text))
    return names


def main():
    dash = json.load(open(sys.argv[1], encoding="utf-8"))
    for key, kind in [("title", str), ("uid", str), ("schemaVersion", int), ("panels", list)]:
        if not isinstance(dash.get(key), kind):
            fail(f"`{key}` missing or not a {kind.__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dash["uid"]):
        fail("uid must be 1-40 letters, digits, - or _")
    inputs = {i["name"] for i in dash.get("__inputs", [])}
    known = exported_metrics() | {"up"}
    ids, exprs = set(), []
    for p in dash["panels"]:
        for key in ["id", "type", "title", "gridPos", "targets"]:
            if key not in p:
                fail(f"panel {p.get('title')!r} has no `{key}`")
        if p["id"] in ids:
            fail(f"panel id {p['id']} used twice")
        ids.add(p["id"])
        g = p["gridPos"]
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > 24:
            fail(f"panel {p['title']!r}: gridPos must be integers within 24 columns")
        uid = p.get("datasource", {}).get("uid", "")
        if uid.startswith("${") and uid[2:-1] not in inputs:
            fail(f"panel {p['title']!r} uses {uid}, which __inputs does not declare")
        for t in p["targets"]:
            expr = t.get("expr", "")
            if not expr:
                fail(f"panel {p['title']!r} has a target without `expr`")
            for name in re.findall(r"\b(snodo_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?=[{\[( ]|$)", expr):
                if name not in known:
                    fail(f"panel {p['title']!r}: {name} is not a metric Snodo exports")
            exprs.append(expr)
    for v in dash.get("templating", {}).get("list", []):
        exprs.extend(re.findall(r"label_values\(([a-z_]+)", v.get("definition", "")))
    # $instance is a Grafana variable: give promtool a regex it can parse
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(exprs):
        e = e.replace("$instance", ".*")
        rules.append(f"      - record: dashboard:expr{i}")
        rules.append("        expr: " + json.dumps(e))
    open(sys.argv[2], "w", encoding="utf-8").write("\n".join(rules) + "\n")
    print(f"{sys.argv[1]}: {len(dash['panels'])} panels, {len(exprs)} expressions, metrics known")


if __name__ == "__main__":
    main()
