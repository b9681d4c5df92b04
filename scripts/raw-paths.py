#!/usr/bin/env python3
"""Raw, non-UTF-8 requests against every operation of a running Snodo's OpenAPI document.

For each path of /api/v1/openapi.json, its path parameters are replaced with percent-encoded
bytes that are not UTF-8 and with malformed escapes, and every operation also gets such query
values and names. Every answer must be a 4xx `application/problem+json` whose `detail` is not
empty, never a 5xx. Usage: raw-paths.py BASE_URL. Exits 1 on the first kind of failure, listing all.
"""
import http.client
import json
import sys
import urllib.parse

BAD = ["%FF%FE", "%C3", "%ED%A0%80", "%C0%AF", "a%ZZb", "50%", "%E2%82"]


def get(conn, method, target):
    conn.request(method, target, headers={"Origin": "https://www.comune.example.it"})
    r = conn.getresponse()
    body = r.read()
    return r.status, r.getheader("content-type") or "", body


def main():
    base = urllib.parse.urlsplit(sys.argv[1])
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
    status, _, body = get(conn, "GET", "/api/v1/openapi.json")
    assert status == 200, status
    paths = json.loads(body)["paths"]
    failures, sent = [], 0
    for path, item in paths.items():
        methods = [m.upper() for m in item if m in ("get", "post")]
        targets = []
        if "{" in path:
            targets += [path.replace("{id}", b).replace("{*id}", b) for b in BAD]
        clean = path.replace("{id}", "partecipa").replace("{*id}", "partecipa:process:1")
        # /status answers health checks whatever they append; it reads no parameter.
        if path != "/status":
            targets += [f"{clean}?q={b}" for b in BAD] + [f"{clean}?{b}=1" for b in BAD]
        for method in methods:
            for t in targets:
                sent += 1
                status, ctype, body = get(conn, method, t)
                ok = 400 <= status < 500 and ctype.startswith("application/problem+json")
                detail = ""
                if ok:
                    try:
                        detail = json.loads(body).get("detail") or ""
                    except ValueError:
                        ok = False
                if not ok or not detail:
                    failures.append(f"{method} {t}: {status} {ctype} {body[:120]!r}")
    print(f"raw paths: {sent} requests over {len(paths)} paths, {len(failures)} failures")
    for f in failures:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
