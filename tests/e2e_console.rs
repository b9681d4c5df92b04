//! The operators' console over HTTP: who gets in, what the table says about a working and a
//! failing source, "harvest now" from a form (and not from another site), a source's runs, and the
//! optional public status page.

mod support;

use std::time::{Duration, Instant};

use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

const TOKEN: &str = "test-token";

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_shows_every_source_and_starts_harvests_from_its_own_pages_only() {
    let good = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("puglia").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let sources = format!(
        "{}schedule = \"0 0 0 1 1 *\"\n\n{}schedule = \"0 0 0 1 1 *\"\n",
        source_toml("good", &good.url(), Some("16")),
        // nothing listens there: every run fails
        source_toml("down", "http://127.0.0.1:9", None)
    );
    let env = Env::with_server("rate_limit_per_minute = 0", &sources);
    assert!(!env.run(&["harvest"]).status.success(), "one source fails");
    let server = env.serve();
    let http = Http::new();
    let admin = server.url("/admin");

    // No credentials, or wrong ones: 401 with the browser's own login prompt.
    for auth in [None, Some(("op", "nope"))] {
        let mut req = http.client().get(&admin);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let a = http.send(req).await;
        assert_eq!(a.status, 401);
        assert!(header(&a, "www-authenticate").starts_with("Basic realm=\"Snodo console\""));
        assert!(a.content_type.starts_with("application/problem+json"));
    }

    // The token as the password (any user name): the table, failing source first.
    let page = http
        .send(
            http.client()
                .get(&admin)
                .basic_auth("operator", Some(TOKEN)),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(header(&page, "cache-control"), "no-store");
    assert!(page.headers.get("access-control-allow-origin").is_none());
    let t = &page.text;
    assert!(t.contains("2 fonti · 1 in errore"), "{t}");
    let down = t.find("down platform").expect("the failing source");
    let ok = t.find("good platform").expect("the working source");
    assert!(down < ok, "failing first");
    assert!(t.contains("<span class=\"h-bad\">In errore</span><br><span class=\"tiny\">da <time"));
    assert!(t.contains("<span class=\"h-ok\">Funziona</span>"));
    // the error in words, and what the good one holds
    assert!(
        t.contains("127.0.0.1:9"),
        "the last error names the address: {t}"
    );
    assert!(t.contains("aria-label=\"Ultimi 30 giorni: 1 raccolta riuscita, 0 fallite;"));
    // the English console, the same
    let en = http
        .send(
            http.client()
                .get(server.url("/en/admin"))
                .basic_auth("x", Some(TOKEN)),
        )
        .await;
    assert!(en.text.contains("2 sources · 1 failing"));

    // "Harvest now" from another site's page is refused; from the console it starts the run.
    let harvest = server.url("/admin/sources/good/harvest?lang=en");
    let forged = http
        .send(
            http.client()
                .post(&harvest)
                .basic_auth("x", Some(TOKEN))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let before = http
        .get(&server.url("/api/v1/sources/good/runs"))
        .await
        .json()["total"]
        .as_u64()
        .unwrap();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let origin = server.url("");
    let origin = origin.trim_end_matches('/');
    let started = no_redirect
        .post(&harvest)
        .basic_auth("x", Some(TOKEN))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let back = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(back == "/en/admin?harvest=started&source=good", "{back}");
    let shown = http
        .send(
            http.client()
                .get(server.url(&back))
                .basic_auth("x", Some(TOKEN)),
        )
        .await;
    assert!(shown
        .text
        .contains("<p class=\"notice\" role=\"status\">Harvest of `good` started.</p>"));
    // a link cannot make the console say words of its own
    for forged in [
        "/en/admin?notice=Send+your+token+to+evil%40example.org",
        "/en/admin?harvest=Send+your+token&source=good",
        "/en/admin?harvest=started&source=%3Cb%3Eevil",
    ] {
        let page = http
            .send(
                http.client()
                    .get(server.url(forged))
                    .basic_auth("x", Some(TOKEN)),
            )
            .await;
        assert_eq!(page.status, 200, "{forged}");
        assert!(!page.text.contains("class=\"notice\""), "{forged}");
        assert!(
            !page.text.contains("evil") && !page.text.contains("Send your token"),
            "{forged}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = http
            .get(&server.url("/api/v1/sources/good/runs"))
            .await
            .json();
        if runs["total"].as_u64().unwrap() > before && runs["items"][0]["outcome"] != "running" {
            assert_eq!(runs["items"][0]["outcome"], "success");
            break;
        }
        assert!(Instant::now() < deadline, "the run never finished: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A source's page: its runs with counts, requests and the error of each failed one.
    let src = http
        .send(
            http.client()
                .get(server.url("/admin/sources/down"))
                .basic_auth("x", Some(TOKEN)),
        )
        .await;
    assert_eq!(src.status, 200);
    assert!(src.text.contains("<td>fallita</td>"), "{}", src.text);
    assert!(src.text.contains("<p class=\"err\">"), "{}", src.text);
    let unknown = http
        .send(
            http.client()
                .get(server.url("/admin/sources/nope"))
                .basic_auth("x", Some(TOKEN)),
        )
        .await;
    assert_eq!(unknown.status, 404);

    // The public status page is off unless the operator turns it on.
    assert_eq!(http.get(&server.url("/status/sources")).await.status, 404);
    drop(server);
    drop(good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_status_page_is_read_only_and_the_console_off_without_a_token() {
    let env = Env::with_server("public_status_page = true", "");
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace("admin_token = \"test-token\"\n", ""),
    )
    .unwrap();
    let server = env.serve();
    let http = Http::new();
    let status = http.get(&server.url("/status/sources")).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert!(status.text.contains("<h1>Stato delle fonti · Snodo</h1>"));
    assert!(!status.text.contains("<form"));
    // without an admin token the console does not exist
    let admin = http
        .send(
            http.client()
                .get(server.url("/admin"))
                .basic_auth("x", Some(TOKEN)),
        )
        .await;
    assert_eq!(admin.status, 404);
    assert!(admin.text.contains("no admin token is configured"));
}
