//! What a site offers to harvest, for an operator whose source yields nothing (`snodo check`):
//! the page's own answer, the feeds and APIs it announces (`<link rel="alternate">`, WordPress's
//! `rel="https://api.w.org/"`), and the usual addresses of the platforms Snodo reads — a WordPress
//! feed and REST API, Decidim's GraphQL at `/api`, CONSUL's at `/graphql`. Each probe is one
//! request through the harvester's own client (robots.txt, rate limits, public addresses only).

use serde::Serialize;
use serde_json::{json, Value};
use snodo_connector::http::{HttpClient, HttpError, HttpResponse};

/// One address asked and what it answered.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub url: String,
    /// `200 application/rss+xml`, `404`, or the error in words.
    pub answer: String,
}

/// Something harvestable found on the site.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `decidim`, `consul`, `feed` or `wordpress`.
    pub kind: &'static str,
    pub url: String,
    /// What the site calls it (a feed's title), or what told us (a Decidim version).
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The configured address and how it answered.
    pub page: Probe,
    pub probes: Vec<Probe>,
    /// Best first: a platform API, then feeds, then a generic REST API.
    pub findings: Vec<Finding>,
}

impl Discovery {
    /// A `[[sources]]` block for the best finding, to paste into the configuration.
    pub fn suggestion(&self, id: &str, name: &str) -> Option<String> {
        let f = self.findings.first()?;
        let head = format!(
            "[[sources]]\nid = {}\nname = {}\n",
            toml_str(id),
            toml_str(name)
        );
        Some(match f.kind {
            "wordpress" => format!(
                "{head}kind = \"json\"\nflavor = \"wordpress\"\nurl = {}\n",
                toml_str(&format!(
                    "{}/wp/v2/posts?_embed=1",
                    f.url.trim_end_matches('/')
                ))
            ),
            kind => format!("{head}kind = \"{kind}\"\nurl = {}\n", toml_str(&f.url)),
        })
    }
}

fn toml_str(s: &str) -> String {
    // a TOML basic string is a JSON string for everything a URL or a name holds
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn describe(result: &Result<HttpResponse, HttpError>) -> String {
    match result {
        Ok(r) => format!("{} {}", r.status, r.content_type()),
        Err(HttpError::Status { status, .. }) => status.to_string(),
        Err(e) => e.to_string(),
    }
}

fn is_feed_type(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    [
        "rss+xml",
        "atom+xml",
        "application/xml",
        "text/xml",
        "feed+json",
    ]
    .iter()
    .any(|t| ct.contains(t))
}

/// Feeds and the WordPress API an HTML page announces in its `<link>`s, as absolute addresses.
fn announced(page_url: &str, html: &str) -> Vec<Finding> {
    let Ok(base) = url::Url::parse(page_url) else {
        return Vec::new();
    };
    let doc = scraper::Html::parse_document(html);
    let Ok(links) = scraper::Selector::parse("link[rel][href]") else {
        return Vec::new();
    };
    let mut out: Vec<Finding> = Vec::new();
    for link in doc.select(&links) {
        let el = link.value();
        let rel = el.attr("rel").unwrap_or("").to_ascii_lowercase();
        let Some(href) = el.attr("href").and_then(|h| base.join(h.trim()).ok()) else {
            continue;
        };
        if !matches!(href.scheme(), "http" | "https") {
            continue;
        }
        let ty = el.attr("type").unwrap_or("");
        let finding = if rel.split_ascii_whitespace().any(|r| r == "alternate") && is_feed_type(ty)
        {
            Finding {
                kind: "feed",
                url: href.to_string(),
                note: el.attr("title").unwrap_or("").trim().to_owned(),
            }
        } else if rel == "https://api.w.org/" {
            Finding {
                kind: "wordpress",
                url: href.to_string(),
                note: "announced by the page (WordPress REST API)".into(),
            }
        } else {
            continue;
        };
        if !out.iter().any(|f| f.url == finding.url) {
            out.push(finding);
        }
    }
    out
}

/// Asks the site what it offers. Never fails: every answer, error included, is part of the report.
pub async fn discover(http: &HttpClient, url: &str) -> Discovery {
    let mut findings = Vec::new();
    let mut probes = Vec::new();
    let first = http
        .get(
            url,
            &[(
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )],
        )
        .await;
    let page = Probe {
        url: url.to_owned(),
        answer: describe(&first),
    };
    if let Ok(r) = &first {
        let ct = r.content_type();
        if is_feed_type(&ct) {
            findings.push(Finding {
                kind: "feed",
                url: url.to_owned(),
                note: "the configured address is itself a feed".into(),
            });
        } else if ct.contains("html") {
            findings.extend(announced(&r.url, &String::from_utf8_lossy(&r.body)));
        }
    }
    let Some(origin) = url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
    else {
        return Discovery {
            page,
            probes,
            findings,
        };
    };

    // The home page announces the site's feeds and APIs, wherever the configured address points.
    let home = format!("{origin}/");
    let first_was_home = first.as_ref().is_ok_and(|r| {
        r.content_type().contains("html") && url::Url::parse(&r.url).is_ok_and(|u| u.path() == "/")
    });
    if !first_was_home {
        let r = http
            .get(&home, &[("accept", "text/html,application/xhtml+xml")])
            .await;
        probes.push(Probe {
            url: home.clone(),
            answer: describe(&r),
        });
        if let Some(r) = r.ok().filter(|r| r.content_type().contains("html")) {
            for f in announced(&r.url, &String::from_utf8_lossy(&r.body)) {
                if !findings.iter().any(|g| g.url == f.url) {
                    findings.push(f);
                }
            }
        }
    }

    // Decidim answers GraphQL at /api; `decidim { version }` exists in every release.
    let api = format!("{origin}/api");
    let probe_version = snodo_decidim::QUERIES
        .iter()
        .find(|(name, _)| *name == "ProbeVersion")
        .map(|(_, q)| *q)
        .unwrap_or("query ProbeVersion { decidim { version } }");
    let answer = graphql(http, &api, probe_version).await;
    probes.push(Probe {
        url: api.clone(),
        answer: answer.0,
    });
    if let Some(data) = answer.1 {
        if let Some(d) = data.pointer("/data/decidim").filter(|d| d.is_object()) {
            let version = d["version"].as_str().unwrap_or("version hidden");
            findings.insert(
                0,
                Finding {
                    kind: "decidim",
                    url: origin.clone(),
                    note: format!("Decidim GraphQL API at /api ({version})"),
                },
            );
        }
    }
    // CONSUL answers GraphQL at /graphql.
    let gql = format!("{origin}/graphql");
    let answer = graphql(http, &gql, "{ __typename }").await;
    probes.push(Probe {
        url: gql,
        answer: answer.0,
    });
    if answer
        .1
        .as_ref()
        .is_some_and(|v| v.pointer("/data/__typename").is_some())
        && !findings.iter().any(|f| f.kind == "decidim")
    {
        findings.insert(
            0,
            Finding {
                kind: "consul",
                url: origin.clone(),
                note: "a GraphQL API at /graphql, where CONSUL serves it".into(),
            },
        );
    }
    // WordPress: the feed and the REST API at their usual addresses.
    if !findings.iter().any(|f| f.kind == "feed") {
        let feed = format!("{origin}/feed/");
        let r = http.get(&feed, &[]).await;
        probes.push(Probe {
            url: feed.clone(),
            answer: describe(&r),
        });
        if r.as_ref().is_ok_and(|r| is_feed_type(&r.content_type())) {
            findings.push(Finding {
                kind: "feed",
                url: feed,
                note: "the usual WordPress feed".into(),
            });
        }
    }
    if !findings.iter().any(|f| f.kind == "wordpress") {
        let wp = format!("{origin}/wp-json/");
        let r = http.get(&wp, &[("accept", "application/json")]).await;
        probes.push(Probe {
            url: wp.clone(),
            answer: describe(&r),
        });
        let is_wp = r
            .as_ref()
            .ok()
            .and_then(|r| r.json().ok())
            .is_some_and(|v| {
                v["namespaces"]
                    .as_array()
                    .is_some_and(|ns| ns.iter().any(|n| n == "wp/v2"))
            });
        if is_wp {
            findings.push(Finding {
                kind: "wordpress",
                url: wp,
                note: "WordPress REST API (wp/v2)".into(),
            });
        }
    }
    // platform APIs first, then feeds, then the generic REST API
    findings.sort_by_key(|f| match f.kind {
        "decidim" | "consul" => 0,
        "feed" => 1,
        _ => 2,
    });
    Discovery {
        page,
        probes,
        findings,
    }
}

/// A GraphQL POST: how it answered, and its JSON when it was JSON.
async fn graphql(http: &HttpClient, url: &str, query: &str) -> (String, Option<Value>) {
    match http.post_json(url, &json!({ "query": query })).await {
        Ok(v) => {
            let words = if v.get("data").is_some() {
                "200 GraphQL data".to_owned()
            } else if v.get("errors").is_some() {
                "200 GraphQL errors".to_owned()
            } else {
                "200 JSON, not GraphQL".to_owned()
            };
            (words, Some(v))
        }
        Err(HttpError::Status { status, .. }) => (status.to_string(), None),
        Err(e) => (e.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_and_the_wordpress_api_announced_by_a_page() {
        let html = r#"<html><head>
            <link rel="alternate" type="application/rss+xml" title="Consultazioni &raquo; Feed" href="/feed/">
            <link rel="alternate" type="application/rss+xml" title="Commenti" href="https://www.example.it/comments/feed/">
            <link rel="https://api.w.org/" href="https://www.example.it/wp-json/">
            <link rel="alternate" type="text/html" href="/en/">
            <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
            <link rel="stylesheet" href="/style.css">
        </head></html>"#;
        let found = announced("https://www.example.it/consultazioni/", html);
        let urls: Vec<(&str, &str)> = found.iter().map(|f| (f.kind, f.url.as_str())).collect();
        assert_eq!(
            urls,
            [
                ("feed", "https://www.example.it/feed/"),
                ("feed", "https://www.example.it/comments/feed/"),
                ("wordpress", "https://www.example.it/wp-json/"),
            ]
        );
        assert_eq!(found[0].note, "Consultazioni » Feed");
    }

    #[test]
    fn the_suggestion_is_a_block_to_paste() {
        let d = Discovery {
            page: Probe {
                url: "https://www.example.it/".into(),
                answer: "200 text/html".into(),
            },
            probes: vec![],
            findings: vec![Finding {
                kind: "wordpress",
                url: "https://www.example.it/wp-json/".into(),
                note: String::new(),
            }],
        };
        let block = d.suggestion("esempio", "Comune \"di\" esempio").unwrap();
        assert_eq!(
            block,
            "[[sources]]\nid = \"esempio\"\nname = \"Comune \\\"di\\\" esempio\"\nkind = \"json\"\nflavor = \"wordpress\"\nurl = \"https://www.example.it/wp-json/wp/v2/posts?_embed=1\"\n"
        );
        let parsed: toml::Value = toml::from_str(&block).unwrap();
        assert_eq!(parsed["sources"][0]["flavor"].as_str(), Some("wordpress"));
    }
}
