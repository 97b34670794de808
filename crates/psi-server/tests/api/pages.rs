//! The web pages around links: the start page, the app-link landing page, the app-site
//! association files, the embed's link.json and the static files, over real HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use figment::providers::Serialized;
use psi_testkit::Reply;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder};
use crate::helpers::{
    ADMIN_TOKEN, Backend, Logs, TestApp, TestDb, expect_error, expect_json, spawn_app, spawn_app_on,
};
use crate::model;

backend_tests!(
    a_desktop_gets_name_description_qr_and_the_link_without_callback,
    a_phone_gets_a_button_whose_link_carries_its_browsers_callback,
    query_choices_are_checked_like_the_link_endpoint_checks_them,
    unknown_and_paused_interactions_are_clear_pages_with_their_status,
    markup_from_every_source_is_inert_on_every_page,
    the_landing_page_explains_offers_stores_retry_and_qr,
    a_payload_that_does_not_decode_is_a_friendly_400_page,
    app_site_association_files_come_from_configuration,
    static_files_are_cached_by_etag_and_the_embed_loads_anywhere,
    the_embeds_link_json_follows_the_pages_rules_with_cors,
    the_status_stream_follows_the_latest_event_of_its_session,
    redirects_go_to_configured_origins_or_the_services_completion_url,
    markup_in_attribute_names_is_inert_on_the_landing_page,
    markup_in_query_names_is_inert_on_the_start_pages_error_pages,
    the_start_page_offers_the_instance_its_query_picks,
    the_landing_page_fits_android_iphone_and_desktop,
    in_app_browsers_are_asked_to_open_the_landing_page_in_the_browser,
    store_buttons_come_from_the_apps_ids_and_explicit_urls_win,
);

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const INSTAGRAM_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 325.0.0.35.91 \
    (iPhone15,2; iOS 17_4; en_US; en; scale=3.00; 1179x2556; 591206071)";
const TELEGRAM_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; \
    wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile \
    Safari/537.36 Telegram-Android/10.11.2 (Google Pixel 8; Android 14; SDK 34; HIGH)";
const MARKUP: &str = "<script>alert(\"x\")</script> 'q' & \"dq\"";
const MARKUP_ESCAPED: &str =
    "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#39;q&#39; &#38; &#34;dq&#34;";

/// Markup in quotes of both kinds, for names as well as values.
const NAME_MARKUP: &str = "<script>alert(1)</script> \"dq\" 'q'";
const NAME_MARKUP_ESCAPED: &str =
    "&#60;script&#62;alert(1)&#60;/script&#62; &#34;dq&#34; &#39;q&#39;";

/// A service "Club" with an interaction that requires a self-attested, pre-fillable "Membership"
/// credential (Full name, Born, Height, Level, Photo) and issues a service-attested one.
struct Club {
    did: String,
    interaction: String,
    instance: String,
    /// Self-attested, pre-fillable.
    member: String,
    /// Service-attested, issued.
    membership: String,
}

impl Club {
    fn interaction_path(&self) -> String {
        format!(
            "/api/v1/services/{}/interactions/{}",
            self.did, self.interaction
        )
    }
}

async fn club(app: &TestApp) -> Club {
    let (did, member, membership) = model::service_with_definitions(app, "Club").await;
    let interaction = model::interaction(
        app,
        &did,
        json!({
            "name": "Join the club",
            "description": "Show your card and become a member.",
            "parameters": [{"name": "location", "value": "Online"}],
            "required_credentials": [{"credential_id": member, "prefill_from_qr": true}],
            "issued_credentials": [membership],
        }),
    )
    .await;
    Club {
        interaction: interaction["id"].as_str().unwrap().to_owned(),
        instance: interaction["instances"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        did,
        member,
        membership,
    }
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn page(app: &TestApp, path: &str, user_agent: &str) -> Page {
    let response = app
        .client
        .get(app.url(path))
        .header("user-agent", user_agent)
        .send()
        .await
        .expect("request");
    Page {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

fn start_path(demo: &Club) -> String {
    format!("/s/{}/{}/start.html", demo.did, demo.interaction)
}

/// The value of the first `attribute="..."` after `marker`, entities decoded.
fn attribute_after(body: &str, marker: &str, attribute: &str) -> String {
    let from = body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {body}"));
    let rest = &body[from..];
    let start = rest.find(&format!("{attribute}=\"")).expect("attribute") + attribute.len() + 2;
    let value = &rest[start..start + rest[start..].find('"').expect("closing quote")];
    value.replace("&#38;", "&").replace("&#34;", "\"")
}

/// The JSON a link carries, with the fields psi-link drops.
fn payload_json(link: &str) -> Value {
    let payload = link.rsplit('/').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// Every page gets the security headers.
fn assert_page_headers(page: &Page) {
    assert_eq!(page.headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(
        !page.body.contains("<script>"),
        "no inline script: {}",
        page.body
    );
    assert!(
        !page.body.contains(" style=\""),
        "no inline style: {}",
        page.body
    );
}

async fn a_desktop_gets_name_description_qr_and_the_link_without_callback(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let page = page(&app, &start_path(&demo), DESKTOP).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_page_headers(&page);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(
        page.body.contains("<h1>Join the club</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Show your card and become a member."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<svg class=\"qr-code\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("id=\"start\""),
        "no phone button on a desktop"
    );

    let link = attribute_after(&page.body, "id=\"link\"", "value");
    assert_eq!(
        attribute_after(&page.body, "id=\"open\"", "href"),
        link,
        "the desktop page offers the link as a link too"
    );
    let decoded = psi_link::decode(&link).expect("the page's link decodes");
    assert_eq!(
        decoded.request.action_id.as_deref(),
        Some(demo.interaction.as_str())
    );
    assert_eq!(
        decoded.request.service_did.as_deref(),
        Some(demo.did.as_str())
    );
    assert_eq!(decoded.request.id.as_deref(), Some(demo.instance.as_str()));
    assert_eq!(
        decoded.request.callback, None,
        "desktop links carry no callback"
    );
    assert!(
        link.starts_with("https://proofspace.id/native/execute/"),
        "{link}"
    );
    let session = payload_json(&link)["psiSession"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session.len(), 22);
    let status_url = attribute_after(&page.body, "id=\"status\"", "data-status-url");
    assert_eq!(
        status_url,
        format!("/s/{}/{}/status/{session}", demo.did, demo.interaction)
    );

    let again = crate::pages::page(&app, &start_path(&demo), DESKTOP).await;
    let other = attribute_after(&again.body, "id=\"link\"", "value");
    assert_ne!(
        payload_json(&other)["psiSession"],
        json!(session),
        "a session per visit"
    );
}

async fn a_phone_gets_a_button_whose_link_carries_its_browsers_callback(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let path = format!("{}?instance={}", start_path(&demo), demo.instance);
    let vectors: Value =
        serde_json::from_str(include_str!("../../../../vectors/callbacks.json")).unwrap();
    for case in vectors["cases"].as_array().unwrap() {
        let page = page(&app, &path, case["ua"].as_str().unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", case["name"]);
        let expected = case["callback"]
            .as_str()
            .map(|c| c.replace("PAGE_URL", &app.url(&path)));
        let link = match case["platform"].as_str().unwrap() {
            "desktop" => {
                assert!(!page.body.contains("id=\"start\""), "{}", case["name"]);
                attribute_after(&page.body, "id=\"link\"", "value")
            }
            _ => {
                assert!(
                    !page.body.contains("qr-code"),
                    "{}: no QR on phones",
                    case["name"]
                );
                attribute_after(&page.body, "id=\"start\"", "href")
            }
        };
        let request = psi_link::decode(&link).expect("decodes").request;
        // An empty callback is left out of the link.
        let expected = expected.filter(|c| !c.is_empty());
        assert_eq!(request.callback, expected, "{}", case["name"]);
    }
}

async fn query_choices_are_checked_like_the_link_endpoint_checks_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let base = start_path(&demo);
    let name = format!("{}:Full name=Alice", demo.member);
    let number = format!("{}:Height=42", demo.member);
    let path = format!(
        "{base}?prefill={}&prefill={number}&callback=https://shop.test/back",
        enc(&name)
    );
    let phone = page(&app, &path, CHROME_ANDROID).await;
    assert_eq!(phone.status, StatusCode::OK, "{}", phone.body);
    let request = psi_link::decode(&attribute_after(&phone.body, "id=\"start\"", "href"))
        .unwrap()
        .request;
    assert_eq!(request.callback.as_deref(), Some("https://shop.test/back"));
    let prepared = &request.prepared_credentials.unwrap()[0];
    assert_eq!(prepared.credential_id, demo.member);
    assert_eq!(prepared.attributes[0].value, "Alice");
    assert_eq!(prepared.attributes[1].value, "42");
    assert!(phone.body.contains("<dd>Alice</dd>"), "{}", phone.body);

    let desktop = page(&app, &path, DESKTOP).await;
    let link = attribute_after(&desktop.body, "id=\"link\"", "value");
    assert_eq!(psi_link::decode(&link).unwrap().request.callback, None);

    let refused = [
        (
            format!(
                "{base}?prefill={}",
                enc(&format!("{}:Full name=x", demo.membership))
            ),
            "does not require",
        ),
        (
            format!(
                "{base}?prefill={}",
                enc(&format!("{}:Height=many", demo.member))
            ),
            "Height",
        ),
        (
            format!(
                "{base}?prefill={}",
                enc(&format!("{}:Shoe size=4", demo.member))
            ),
            "Shoe size",
        ),
        (
            format!("{base}?prefill=nonsense"),
            "CREDENTIAL_ID:NAME=VALUE",
        ),
        (format!("{base}?instance=nope"), "instance"),
        (format!("{base}?callback=javascript:alert(1)"), "javascript"),
    ];
    for (path, named) in refused {
        let page = page(&app, &path, DESKTOP).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            page.body
        );
        assert_page_headers(&page);
        assert!(
            page.body.contains(named),
            "{path} names {named}: {}",
            page.body
        );
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn unknown_and_paused_interactions_are_clear_pages_with_their_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    for path in [
        format!("/s/{}/nope/start.html", demo.did),
        format!("/s/GbzPqgnU4XsMs7xg9mYJW8/{}/start.html", demo.interaction),
        "/s/not-a-did/x/start.html".to_owned(),
    ] {
        let page = page(&app, &path, DESKTOP).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_page_headers(&page);
        assert!(page.body.contains("<h1>Not found</h1>"), "{}", page.body);
    }
    let pause = app
        .patch(
            &demo.interaction_path(),
            ADMIN_TOKEN,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(pause.status(), StatusCode::OK);
    let paused = page(&app, &start_path(&demo), CHROME_ANDROID).await;
    assert_eq!(paused.status, StatusCode::CONFLICT);
    assert_page_headers(&paused);
    assert!(
        paused
            .body
            .contains("This interaction is paused by the service."),
        "{}",
        paused.body
    );
}

async fn markup_from_every_source_is_inert_on_every_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let refused = app
        .post(
            &format!("/api/v1/services/{}/interactions", demo.did),
            ADMIN_TOKEN,
            &json!({"name": "<script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "names refuse markup"
    );
    let interaction = model::interaction(
        &app,
        &demo.did,
        json!({
            "name": "Markup test",
            "description": MARKUP,
            "parameters": [{"name": "where", "value": MARKUP}],
            "required_credentials": [{"credential_id": demo.member, "prefill_from_qr": true}],
        }),
    )
    .await;
    let id = interaction["id"].as_str().unwrap();
    let prefill = enc(&format!("{}:Full name={MARKUP}", demo.member));
    let callback = enc("https://cb.test/?q=\"><script>alert(1)</script>");
    let start = format!(
        "/s/{}/{id}/start.html?prefill={prefill}&callback={callback}",
        demo.did
    );
    for user_agent in [DESKTOP, CHROME_ANDROID] {
        let page = page(&app, &start, user_agent).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_page_headers(&page);
        // Description, parameter value and pre-filled value: three escaped copies.
        assert_eq!(
            page.body.matches(MARKUP_ESCAPED).count(),
            3,
            "{}",
            page.body
        );
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
    }
    // The landing page of such a link shows the pre-filled value and the callback, escaped.
    let request = json!({
        "id": interaction["instances"][0]["id"], "actionId": id, "serviceDid": demo.did,
        "preparedCredentials": [{"credentialId": demo.member, "attributes": [{"name": "Full name", "value": MARKUP}]}],
        "callback": "https://cb.test/?q=\"><script>alert(1)</script>",
    });
    let payload = URL_SAFE_NO_PAD.encode(request.to_string());
    let landing = page(&app, &format!("/native/execute/{payload}"), DESKTOP).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
    assert_page_headers(&landing);
    assert!(landing.body.contains(MARKUP_ESCAPED), "{}", landing.body);
    assert!(
        landing
            .body
            .contains("https://cb.test/?q=&#34;&#62;&#60;script&#62;"),
        "{}",
        landing.body
    );
    assert!(!landing.body.contains("<script>alert"), "{}", landing.body);
    // A payload that does not decode echoes nothing unescaped either.
    let bad = page(&app, &format!("/native/execute/{}", enc(MARKUP)), DESKTOP).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(!bad.body.contains("<script>alert"), "{}", bad.body);
}

async fn the_landing_page_explains_offers_stores_retry_and_qr(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default(
            "pages.app_store_url",
            "https://apps.apple.com/app/id123",
        ))
        .merge(Serialized::default(
            "pages.google_play_url",
            "https://play.google.com/store/apps/details?id=org.example.wallet&hl=en",
        ));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let link = expect_json(
        app.get(
            &format!(
                "{}/link?prefill={}",
                demo.interaction_path(),
                enc(&format!("{}:Full name=Bob", demo.member))
            ),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let app_link = link["app_link"].as_str().unwrap();
    let payload = app_link.rsplit('/').next().unwrap();
    let page = page(&app, &format!("/native/execute/{payload}"), DESKTOP).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_page_headers(&page);
    assert!(
        page.body.contains("<p class=\"service\">Club</p>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<h1>Join the club</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dd>Bob</dd>"), "{}", page.body);
    assert_eq!(
        attribute_after(&page.body, "id=\"open-app\"", "href"),
        link["deep_link"].as_str().unwrap()
    );
    assert_eq!(
        attribute_after(&page.body, "id=\"app-store\"", "href"),
        "https://apps.apple.com/app/id123"
    );
    assert_eq!(
        attribute_after(&page.body, "id=\"google-play\"", "href"),
        "https://play.google.com/store/apps/details?id=org.example.wallet&hl=en"
    );
    assert_eq!(
        qr_content(&page.body),
        app_link,
        "the QR code is the app link"
    );
    // A standard-alphabet, padded, percent-encoded payload of older builds opens the same page.
    let standard =
        base64::engine::general_purpose::STANDARD.encode(URL_SAFE_NO_PAD.decode(payload).unwrap());
    let older = crate::pages::page(
        &app,
        &format!("/native/execute/{}", enc(&standard)),
        DESKTOP,
    )
    .await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.body);
    assert!(older.body.contains("<dd>Bob</dd>"));
}

async fn a_payload_that_does_not_decode_is_a_friendly_400_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let not_json = URL_SAFE_NO_PAD.encode("hello");
    let no_action = URL_SAFE_NO_PAD.encode(r#"{"serviceDid":"GbzPqgnU4XsMs7xg9mYJW8"}"#);
    for (payload, named) in [
        ("%%%", "base64"),
        (not_json.as_str(), "not JSON"),
        (no_action.as_str(), "actionId"),
    ] {
        let page = page(&app, &format!("/native/execute/{payload}"), DESKTOP).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{payload}: {}",
            page.body
        );
        assert_page_headers(&page);
        assert!(
            page.body.contains("This link cannot be opened"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(named),
            "{payload} names {named}: {}",
            page.body
        );
    }
}

async fn app_site_association_files_come_from_configuration(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/.well-known/apple-app-site-association",
        "/.well-known/assetlinks.json",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{path} unconfigured"
        );
    }
    let db = TestDb::new(backend).await;
    let fingerprint = (0..32)
        .map(|i| format!("{i:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let figment = db
        .figment()
        .merge(Serialized::default("pages.ios_team_id", "ABCDE12345"))
        .merge(Serialized::default(
            "pages.ios_bundle_ids",
            ["org.example.wallet"],
        ))
        .merge(Serialized::default(
            "pages.android_package",
            "org.example.wallet",
        ))
        .merge(Serialized::default(
            "pages.android_cert_fingerprints",
            [&fingerprint],
        ));
    let app = spawn_app_on(db, figment).await;
    let apple = app
        .client
        .get(app.url("/.well-known/apple-app-site-association"))
        .send()
        .await
        .unwrap();
    assert_eq!(apple.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        expect_json(apple, StatusCode::OK).await,
        json!({"applinks": {"details": [{
            "appIDs": ["ABCDE12345.org.example.wallet"],
            "components": [{"/": "/native/execute/*", "comment": "interaction links"}],
        }]}})
    );
    let android = app
        .client
        .get(app.url("/.well-known/assetlinks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(android.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        expect_json(android, StatusCode::OK).await,
        json!([{
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "org.example.wallet",
                "sha256_cert_fingerprints": [fingerprint.to_uppercase()],
            },
        }])
    );
}

async fn static_files_are_cached_by_etag_and_the_embed_loads_anywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let start = page(&app, &start_path(&demo), DESKTOP).await;
    let css = attribute_after(&start.body, "rel=\"stylesheet\"", "href");
    let script = attribute_after(&start.body, "<script", "src");
    for (path, content_type) in [
        (css.as_str(), "text/css; charset=utf-8"),
        (script.as_str(), "text/javascript; charset=utf-8"),
        ("/embed/psi.js", "text/javascript; charset=utf-8"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], content_type);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let etag = response.headers()["etag"].clone();
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        if path.contains("?v=") {
            assert!(cache.contains("immutable"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "public, max-age=300");
        }
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"], etag);
    }
    let embed = app
        .client
        .get(app.url("/embed/psi.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.headers()["access-control-allow-origin"], "*");
    assert!(
        embed
            .text()
            .await
            .unwrap()
            .contains("Psi = { mount: mount }")
    );
    let missing = page(&app, "/assets/nope.js", DESKTOP).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn the_embeds_link_json_follows_the_pages_rules_with_cors(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let path = format!(
        "/s/{}/{}/link.json?page_url={}",
        demo.did,
        demo.interaction,
        enc("https://shop.test/join.html")
    );
    let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
        (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    let get = |user_agent: &'static str| {
        app.client
            .get(app.url(&path))
            .header("user-agent", user_agent)
            .header("origin", "https://shop.test")
            .send()
    };
    let desktop = get(DESKTOP).await.unwrap();
    assert_eq!(desktop.headers()["access-control-allow-origin"], "*");
    assert_eq!(desktop.headers()["cache-control"], "no-store");
    let desktop = expect_json(desktop, StatusCode::OK).await;
    assert_eq!(desktop["platform"], "desktop");
    assert_eq!(desktop["callback"], Value::Null);
    assert!(desktop["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let status_url = desktop["status_url"].as_str().unwrap();
    assert!(status_url.starts_with(&app.url("/s/")), "{status_url}");

    let iphone = expect_json(get(safari).await.unwrap(), StatusCode::OK).await;
    assert_eq!(iphone["platform"], "ios");
    assert_eq!(iphone["qr_svg"], Value::Null);
    assert_eq!(iphone["callback"], "https://shop.test/join.html");
    let request = psi_link::decode(iphone["link"].as_str().unwrap())
        .unwrap()
        .request;
    assert_eq!(
        request.callback.as_deref(),
        Some("https://shop.test/join.html")
    );

    let bad = app
        .client
        .get(app.url(&format!(
            "/s/{}/{}/link.json?page_url=javascript:1",
            demo.did, demo.interaction
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .client
        .get(app.url(&format!("/s/{}/nope/link.json", demo.did)))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // With embed origins configured, other sites get no CORS answer.
    let db = TestDb::new(backend).await;
    let figment = db.figment().merge(Serialized::default(
        "pages.embed_origins",
        ["https://shop.test"],
    ));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let path = format!("/s/{}/{}/link.json", demo.did, demo.interaction);
    for (origin, allowed) in [("https://shop.test", true), ("https://evil.test", false)] {
        let response = app
            .client
            .get(app.url(&path))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        let header = response
            .headers()
            .get("access-control-allow-origin")
            .cloned();
        assert_eq!(header.is_some(), allowed, "{origin}: {header:?}");
    }
}

async fn the_status_stream_follows_the_latest_event_of_its_session(backend: Backend) {
    // The engine's fixture: "Join" calls a webhook on a receiver on loopback.
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    let start = page(
        app,
        &format!("/s/{}/{}/start.html", fx.did, fx.join),
        DESKTOP,
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let status_url = attribute_after(&start.body, "id=\"status\"", "data-status-url");
    let link = attribute_after(&start.body, "id=\"link\"", "value");
    let session = payload_json(&link)["psiSession"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        status_url.ends_with(&format!("/status/{session}")),
        "{status_url}"
    );
    let mut stream = app.client.get(app.url(&status_url)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()[CONTENT_TYPE], "text/event-stream");
    assert_eq!(stream.headers()["cache-control"], "no-store");
    next_status(&mut stream, r#"{"state":"waiting_for_holder"}"#).await;

    // A session that is not a link's is refused before any event starts.
    let holder = Holder::new();
    let events = format!("/wallet/v1/services/{}/events", fx.did);
    let mut body = json!({"actionId": fx.join, "presented": fx.applicant_presented("Ada")});
    body["session"] = json!("../other");
    expect_error(
        holder.post(app, &events, body.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // The wallet runs the page's link; the webhook takes a while, then declines.
    fx.receiver.on_json("/hook", |request| {
        Reply::json(json!({
            "ok": false,
            "message": "Your card <b>expired</b>",
            "actionEventId": request["actionEventId"],
            "type": "failure",
        }))
        // Within the webhook's 2 s timeout, longer than the stream's 1 s poll.
        .after(std::time::Duration::from_millis(1600))
    });
    body["session"] = json!(session);
    let watch = async {
        next_status(&mut stream, r#"{"state":"started"}"#).await;
        next_status(
            &mut stream,
            r#"{"state":"failed","message":"Your card <b>expired</b>"}"#,
        )
        .await;
    };
    let (response, ()) = tokio::join!(holder.post(app, &events, body), watch);
    let outcome = expect_json(response, StatusCode::OK).await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk()).await;
    assert!(
        matches!(end, Ok(Ok(None))),
        "a final state ends the stream: {end:?}"
    );

    // Another service's path does not reach this session's event.
    let other = app.create_service("Other").await;
    let elsewhere = status_url.replace(&fx.did, &other);
    let mut stream = app.client.get(app.url(&elsewhere)).send().await.unwrap();
    next_status(&mut stream, r#"{"state":"waiting_for_holder"}"#).await;
    let bad = app
        .client
        .get(app.url(&format!("/s/{}/{}/status/short", fx.did, fx.join)))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
}

/// Reads the stream until a `status` event with this data arrives (at most 10 s).
async fn next_status(stream: &mut reqwest::Response, data: &str) {
    let wanted = format!("data: {data}\n");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(seen.contains(&wanted) && seen.contains("event: status\n")) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {data} within 10 s; got {seen:?}"))
            .expect("stream")
            .unwrap_or_else(|| panic!("stream ended before {data}; got {seen:?}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn redirects_go_to_configured_origins_or_the_services_completion_url(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db.figment().merge(Serialized::default(
        "pages.redirect_origins",
        ["https://shop.test"],
    ));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let allowed = format!(
        "{}?redirect={}",
        start_path(&demo),
        enc("https://shop.test/thanks?o=1&x=2")
    );
    let page_ok = page(&app, &allowed, DESKTOP).await;
    assert_eq!(page_ok.status, StatusCode::OK, "{}", page_ok.body);
    assert_eq!(
        attribute_after(&page_ok.body, "id=\"status\"", "data-redirect"),
        "https://shop.test/thanks?o=1&x=2"
    );
    for redirect in [
        "https://evil.test/",
        "javascript:alert(1)",
        "https://shop.test.evil.test/",
    ] {
        let path = format!("{}?redirect={}", start_path(&demo), enc(redirect));
        let refused = page(&app, &path, DESKTOP).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(
            refused.body.contains("redirect_origins"),
            "{}",
            refused.body
        );
    }

    // Without `redirect` the page stays, or goes where the service set (any origin: the
    // service chose it through its API); a visitor's allowed `redirect` still wins.
    let plain = page(&app, &start_path(&demo), DESKTOP).await;
    assert!(!plain.body.contains("data-redirect"), "{}", plain.body);
    let welcome = "https://club.example.org/welcome?new=1";
    let response = app
        .patch(
            &demo.interaction_path(),
            ADMIN_TOKEN,
            &json!({"completion_url": welcome}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let configured = page(&app, &start_path(&demo), CHROME_ANDROID).await;
    assert_eq!(
        attribute_after(&configured.body, "id=\"status\"", "data-redirect"),
        welcome
    );
    let chosen = page(&app, &allowed, DESKTOP).await;
    assert_eq!(
        attribute_after(&chosen.body, "id=\"status\"", "data-redirect"),
        "https://shop.test/thanks?o=1&x=2"
    );
}

/// Reads the one QR code of a page's inline `<svg>`: its runs drawn 8 pixels a module, read by
/// rqrr.
fn qr_content(body: &str) -> String {
    let svg = &body[body.find("<svg class=\"qr-code\"").expect("a QR code")..];
    let side: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|side| side.parse().ok())
        .expect("the code's side");
    let scale = 8;
    let pixels = (side * scale) as u32;
    let mut image = image::GrayImage::from_pixel(pixels, pixels, image::Luma([255]));
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the code's path");
    for run in path.split('M').filter(|run| !run.is_empty()) {
        // `X Yh<len>v1h-<len>z`
        let (x, rest) = run.split_once(' ').expect("x");
        let (y, rest) = rest.split_once('h').expect("y");
        let len = rest.split('v').next().expect("length");
        let (x, y, len): (usize, usize, usize) =
            (x.parse().unwrap(), y.parse().unwrap(), len.parse().unwrap());
        for px in x * scale..(x + len) * scale {
            for py in y * scale..(y + 1) * scale {
                image.put_pixel(px as u32, py as u32, image::Luma([0]));
            }
        }
    }
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("a readable QR code").1
}

async fn markup_in_attribute_names_is_inert_on_the_landing_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    // A hand-made link: nothing checks attribute names against a schema before the page shows
    // them, so the name is as hostile as the value.
    let request = json!({
        "id": demo.instance, "actionId": demo.interaction, "serviceDid": demo.did,
        "preparedCredentials": [{
            "credentialId": demo.member,
            "attributes": [{"name": NAME_MARKUP, "value": format!("v {NAME_MARKUP}")}],
        }],
    });
    let payload = URL_SAFE_NO_PAD.encode(request.to_string());
    for user_agent in [DESKTOP, CHROME_ANDROID] {
        let landing = page(&app, &format!("/native/execute/{payload}"), user_agent).await;
        assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
        assert_page_headers(&landing);
        assert_eq!(landing.headers["cache-control"], "no-store");
        assert!(
            landing.body.contains(&format!(
                "<dt>{NAME_MARKUP_ESCAPED}</dt><dd>v {NAME_MARKUP_ESCAPED}</dd>"
            )),
            "the name and the value, escaped: {}",
            landing.body
        );
        assert!(!landing.body.contains(NAME_MARKUP), "{}", landing.body);
        assert!(!landing.body.contains("<script>alert"), "{}", landing.body);
        assert!(!landing.body.contains("\"dq\""), "{}", landing.body);
        assert!(!landing.body.contains("'q'"), "{}", landing.body);
        // The retry carries the name intact: escaping is for the page, not for the link.
        let mut retry = attribute_after(&landing.body, "id=\"open-app\"", "href");
        if user_agent == CHROME_ANDROID {
            retry = parse_intent(&retry).deep_link;
        }
        let retry = psi_link::decode(&retry).expect("the retry decodes").request;
        let attribute = &retry.prepared_credentials.expect("prepared")[0].attributes[0];
        assert_eq!(attribute.name, NAME_MARKUP);
        assert_eq!(attribute.value, format!("v {NAME_MARKUP}"));
        assert_eq!(retry.id.as_deref(), Some(demo.instance.as_str()));
    }
    // A credential id with markup does not decode: the 400 page names it, escaped.
    let request = json!({
        "actionId": demo.interaction, "serviceDid": demo.did,
        "preparedCredentials": [{
            "credentialId": NAME_MARKUP,
            "attributes": [{"name": NAME_MARKUP, "value": "x"}],
        }],
    });
    let payload = URL_SAFE_NO_PAD.encode(request.to_string());
    let refused = page(&app, &format!("/native/execute/{payload}"), DESKTOP).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_page_headers(&refused);
    assert!(
        refused.body.contains("<h1>This link cannot be opened</h1>"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(&format!("Malformed credential id `{NAME_MARKUP_ESCAPED}`")),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("<script>alert"), "{}", refused.body);
}

async fn markup_in_query_names_is_inert_on_the_start_pages_error_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let base = start_path(&demo);
    let instance = "\"><script>alert(1)</script>";
    let attribute = "<script>alert(1)</script>\"x'";
    let cases = [
        (
            format!("{base}?instance={}", enc(instance)),
            StatusCode::BAD_REQUEST,
            "<h1>This link is not valid</h1>",
            // `{id:?}`: the quote gets a backslash, then the page escapes all.
            "`instance`: the interaction has no instance \
             &#34;\\&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;&#34;"
                .to_owned(),
        ),
        (
            format!(
                "{base}?prefill={}",
                enc(&format!("{}:{attribute}=Alice", demo.member))
            ),
            StatusCode::BAD_REQUEST,
            "<h1>This link is not valid</h1>",
            "attribute &#34;&#60;script&#62;alert(1)&#60;/script&#62;\\&#34;x&#39;&#34;: \
             the schema has no such attribute"
                .to_owned(),
        ),
        (
            format!(
                "{base}?prefill={}",
                enc(&format!("{instance}:3:CL:1:x:{attribute}=Alice"))
            ),
            StatusCode::BAD_REQUEST,
            "<h1>This link is not valid</h1>",
            "`prefill`: the interaction does not require the credential \
             &#34;\\&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;:3:CL:1:x&#34;"
                .to_owned(),
        ),
        (
            format!("/s/{}/{}/start.html", demo.did, enc(instance)),
            StatusCode::NOT_FOUND,
            "<h1>Not found</h1>",
            "Nothing here: interaction not found. Check the address.".to_owned(),
        ),
    ];
    for (path, status, title, message) in cases {
        for user_agent in [DESKTOP, CHROME_ANDROID] {
            let page = page(&app, &path, user_agent).await;
            assert_eq!(page.status, status, "{path}: {}", page.body);
            assert_page_headers(&page);
            assert!(page.body.contains(title), "{path}: {}", page.body);
            assert!(
                page.body.contains(&message),
                "{path} names it, escaped: {}",
                page.body
            );
            assert!(
                !page.body.contains("<script>alert"),
                "{path}: {}",
                page.body
            );
            assert!(!page.body.contains("\"><"), "{path}: {}", page.body);
        }
    }
}

async fn the_start_page_offers_the_instance_its_query_picks(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let second = expect_json(
        app.post(
            &format!("{}/instances", demo.interaction_path()),
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "location", "value": "Harbour hall"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["is_default"], false, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();
    assert_ne!(second, demo.instance);

    // Without a choice: the default instance and its value.
    let default = page(&app, &start_path(&demo), DESKTOP).await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.body);
    assert!(
        default.body.contains("<dt>location</dt><dd>Online</dd>"),
        "{}",
        default.body
    );
    let link = attribute_after(&default.body, "id=\"link\"", "value");
    assert_eq!(
        psi_link::decode(&link).unwrap().request.id.as_deref(),
        Some(demo.instance.as_str())
    );

    let path = format!("{}?instance={second}", start_path(&demo));
    let desktop = page(&app, &path, DESKTOP).await;
    assert_eq!(desktop.status, StatusCode::OK, "{}", desktop.body);
    assert_page_headers(&desktop);
    assert!(
        desktop
            .body
            .contains("<dt>location</dt><dd>Harbour hall</dd>"),
        "the second instance's value: {}",
        desktop.body
    );
    assert!(
        !desktop.body.contains("Online"),
        "not the default's: {}",
        desktop.body
    );
    let link = attribute_after(&desktop.body, "id=\"link\"", "value");
    assert_eq!(attribute_after(&desktop.body, "id=\"open\"", "href"), link);
    assert_eq!(qr_content(&desktop.body), link, "the QR code is the link");
    let request = psi_link::decode(&link).expect("decodes").request;
    assert_eq!(request.id.as_deref(), Some(second.as_str()));
    assert_eq!(
        request.action_id.as_deref(),
        Some(demo.interaction.as_str())
    );
    assert_eq!(request.service_did.as_deref(), Some(demo.did.as_str()));
    assert_eq!(request.callback, None);

    let phone = page(&app, &path, CHROME_ANDROID).await;
    assert_eq!(phone.status, StatusCode::OK, "{}", phone.body);
    assert!(
        phone
            .body
            .contains("<dt>location</dt><dd>Harbour hall</dd>"),
        "{}",
        phone.body
    );
    assert!(!phone.body.contains("Online"), "{}", phone.body);
    let button = attribute_after(&phone.body, "id=\"start\"", "href");
    let request = psi_link::decode(&button).expect("decodes").request;
    assert_eq!(request.id.as_deref(), Some(second.as_str()));
    assert_eq!(
        request.action_id.as_deref(),
        Some(demo.interaction.as_str())
    );
    assert_eq!(
        request.callback.as_deref(),
        Some("googlechrome://"),
        "Chrome's callback"
    );
}

/// An `intent:` link taken apart: the deep link it stands for, its package and its fallback
/// (percent-decoded).
struct Intent {
    deep_link: String,
    package: Option<String>,
    fallback: Option<String>,
}

fn parse_intent(href: &str) -> Intent {
    let rest = href
        .strip_prefix("intent://")
        .unwrap_or_else(|| panic!("an intent: link: {href}"));
    let (path, extras) = rest
        .split_once("#Intent;")
        .unwrap_or_else(|| panic!("#Intent; in {href}"));
    let extras = extras
        .strip_suffix(";end")
        .unwrap_or_else(|| panic!("ends with ;end: {href}"));
    let (mut scheme, mut package, mut fallback) = (None, None, None);
    for part in extras.split(';') {
        let (key, value) = part
            .split_once('=')
            .unwrap_or_else(|| panic!("key=value: {part} in {href}"));
        let slot = match key {
            "scheme" => &mut scheme,
            "package" => &mut package,
            "S.browser_fallback_url" => {
                // Encoded whole: nothing in it may end or split the intent's parts.
                assert!(
                    value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"%-._*".contains(&b)),
                    "{value}"
                );
                &mut fallback
            }
            other => panic!("unexpected {other} in {href}"),
        };
        assert!(slot.is_none(), "{key} twice in {href}");
        *slot = Some(value.to_owned());
    }
    let scheme = scheme.unwrap_or_else(|| panic!("a scheme in {href}"));
    Intent {
        deep_link: format!("{scheme}://{path}"),
        package,
        fallback: fallback.map(|value| {
            url::form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .expect("one value")
                .1
                .into_owned()
        }),
    }
}

/// The app link and the deep link of the Club's interaction, from the link endpoint.
async fn club_links(app: &TestApp, demo: &Club) -> (String, String) {
    let link = expect_json(
        app.get(&format!("{}/link", demo.interaction_path()), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    (
        link["app_link"].as_str().unwrap().to_owned(),
        link["deep_link"].as_str().unwrap().to_owned(),
    )
}

fn landing_path(app_link: &str) -> String {
    format!("/native/execute/{}", app_link.rsplit('/').next().unwrap())
}

async fn the_landing_page_fits_android_iphone_and_desktop(backend: Backend) {
    let db = TestDb::new(backend).await;
    let play = "https://play.google.com/store/apps/details?id=org.example.wallet&hl=en";
    let figment = db
        .figment()
        .merge(Serialized::default(
            "pages.android_package",
            "org.example.wallet",
        ))
        .merge(Serialized::default("pages.google_play_url", play))
        .merge(Serialized::default("pages.app_store_id", "1234567890"));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let (app_link, deep_link) = club_links(&app, &demo).await;
    let path = landing_path(&app_link);

    let android = page(&app, &path, CHROME_ANDROID).await;
    assert_eq!(android.status, StatusCode::OK, "{}", android.body);
    assert_page_headers(&android);
    assert_eq!(android.headers["vary"], "User-Agent");
    let href = attribute_after(&android.body, "id=\"open-app\"", "href");
    let intent = parse_intent(&href);
    assert_eq!(intent.deep_link, deep_link, "{href}");
    let (scheme, rest) = deep_link.split_once("://").unwrap();
    assert!(
        href.starts_with(&format!("intent://{rest}#Intent;scheme={scheme};")),
        "{href}"
    );
    assert_eq!(intent.package.as_deref(), Some("org.example.wallet"));
    assert_eq!(intent.fallback.as_deref(), Some(play), "{href}");
    assert!(
        href.contains("%26hl%3Den;"),
        "the fallback's query is encoded: {href}"
    );
    assert!(!android.body.contains("qr-code"), "no QR code on a phone");
    assert!(
        !android.body.contains("id=\"in-app\""),
        "Chrome is no in-app browser"
    );
    assert_eq!(
        attribute_after(&android.body, "id=\"google-play\"", "href"),
        play
    );
    assert_eq!(
        attribute_after(&android.body, "id=\"app-store\"", "href"),
        "https://apps.apple.com/app/id1234567890"
    );

    let iphone = page(&app, &path, SAFARI_IOS).await;
    assert_eq!(iphone.status, StatusCode::OK, "{}", iphone.body);
    assert_eq!(iphone.headers["vary"], "User-Agent");
    assert_eq!(
        attribute_after(&iphone.body, "id=\"open-app\"", "href"),
        deep_link
    );
    assert!(!iphone.body.contains("qr-code"), "no QR code on a phone");
    assert!(!iphone.body.contains("intent:"), "{}", iphone.body);
    assert!(
        !iphone.body.contains("id=\"in-app\""),
        "Safari is no in-app browser"
    );

    let desktop = page(&app, &path, DESKTOP).await;
    assert_eq!(desktop.status, StatusCode::OK, "{}", desktop.body);
    assert_eq!(desktop.headers["vary"], "User-Agent");
    assert_eq!(
        attribute_after(&desktop.body, "id=\"open-app\"", "href"),
        deep_link
    );
    assert_eq!(
        qr_content(&desktop.body),
        app_link,
        "the QR code is the app link"
    );
    assert!(!desktop.body.contains("id=\"in-app\""));
    // No `User-Agent` at all is a desktop.
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<svg class=\"qr-code\"")
    );
}

async fn in_app_browsers_are_asked_to_open_the_landing_page_in_the_browser(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = club(&app).await;
    let (app_link, deep_link) = club_links(&app, &demo).await;
    let path = landing_path(&app_link);
    let web_view = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) \
        AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile \
        Safari/537.36";
    for (user_agent, note) in [
        (INSTAGRAM_IOS, "You are in Instagram's browser"),
        (TELEGRAM_ANDROID, "You are in Telegram's browser"),
        (web_view, "You are in an app's own browser"),
    ] {
        let landing = page(&app, &path, user_agent).await;
        assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
        assert_page_headers(&landing);
        let at = landing
            .body
            .find("<p class=\"notice\" id=\"in-app\">")
            .unwrap_or_else(|| panic!("{note}: a note in {}", landing.body));
        let text = &landing.body[at..at + landing.body[at..].find("</p>").unwrap()];
        assert!(text.contains(note), "{text}");
        assert!(
            text.contains("cannot open the ProofSpace app. Open this page in your browser"),
            "{text}"
        );
        assert!(
            at < landing.body.find("<h1>").unwrap(),
            "the note comes first: {}",
            landing.body
        );
        assert!(!landing.body.contains("qr-code"), "no QR code on a phone");
        // The page still offers the app, in its platform's form.
        let href = attribute_after(&landing.body, "id=\"open-app\"", "href");
        if user_agent == INSTAGRAM_IOS {
            assert_eq!(href, deep_link);
        } else {
            let intent = parse_intent(&href);
            assert_eq!(intent.deep_link, deep_link);
            // Nothing configured: neither package nor fallback.
            assert_eq!((intent.package, intent.fallback), (None, None), "{href}");
        }
        // No store is configured: the holder is told to use theirs.
        assert!(!landing.body.contains("id=\"google-play\""));
        assert!(!landing.body.contains("id=\"app-store\""));
        assert!(
            landing
                .body
                .contains("Install the ProofSpace app from your app store"),
            "{}",
            landing.body
        );
    }
    // Telegram on a desktop opens links in the system browser: no note there.
    let desktop_telegram = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Telegram/4.16";
    let desktop = page(&app, &path, desktop_telegram).await;
    assert!(!desktop.body.contains("id=\"in-app\""), "{}", desktop.body);
}

async fn store_buttons_come_from_the_apps_ids_and_explicit_urls_win(backend: Backend) {
    const NOTE: &str = "shows no app store buttons";
    // Nothing to make a store link of: one warning at startup, naming the settings.
    let logs = Logs::capture();
    let bare = spawn_app(backend).await;
    let logged = logs.text();
    assert_eq!(logged.matches(NOTE).count(), 1, "{logged}");
    assert!(
        logged.contains("app_store_id") && logged.contains("android_package"),
        "{logged}"
    );
    drop(logs);
    bare.app.stop().await.unwrap();

    // A package alone gives the Google Play button and the intent link's package and fallback.
    let db = TestDb::new(backend).await;
    let figment = db.figment().merge(Serialized::default(
        "pages.android_package",
        "org.example.wallet",
    ));
    let logs = Logs::capture();
    let app = spawn_app_on(db, figment).await;
    assert!(!logs.text().contains(NOTE), "{}", logs.text());
    drop(logs);
    let demo = club(&app).await;
    let (app_link, deep_link) = club_links(&app, &demo).await;
    let path = landing_path(&app_link);
    let play = "https://play.google.com/store/apps/details?id=org.example.wallet";
    for user_agent in [CHROME_ANDROID, SAFARI_IOS, DESKTOP] {
        let landing = page(&app, &path, user_agent).await;
        assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
        assert_eq!(
            attribute_after(&landing.body, "id=\"google-play\"", "href"),
            play
        );
        assert!(
            !landing.body.contains("id=\"app-store\""),
            "{}",
            landing.body
        );
    }
    let android = page(&app, &path, CHROME_ANDROID).await;
    let intent = parse_intent(&attribute_after(&android.body, "id=\"open-app\"", "href"));
    assert_eq!(intent.deep_link, deep_link);
    assert_eq!(intent.package.as_deref(), Some("org.example.wallet"));
    assert_eq!(intent.fallback.as_deref(), Some(play));
    // Without signing certificates there is no app-site association to publish.
    let assetlinks = app
        .client
        .get(app.url("/.well-known/assetlinks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(assetlinks.status(), StatusCode::NOT_FOUND);
    app.app.stop().await.unwrap();

    // An App Store id alone gives the App Store button.
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("pages.app_store_id", "1234567890"));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let path = landing_path(&club_links(&app, &demo).await.0);
    let landing = page(&app, &path, SAFARI_IOS).await;
    assert_eq!(
        attribute_after(&landing.body, "id=\"app-store\"", "href"),
        "https://apps.apple.com/app/id1234567890"
    );
    assert!(
        !landing.body.contains("id=\"google-play\""),
        "{}",
        landing.body
    );
    app.app.stop().await.unwrap();

    // Explicit URLs win over the ones made from the id and the package.
    let db = TestDb::new(backend).await;
    let explicit_store = "https://apps.apple.com/de/app/wallet/id1234567890";
    let explicit_play = "https://play.google.com/store/apps/details?id=org.example.wallet&hl=de";
    let base = db
        .figment()
        .merge(Serialized::default("pages.app_store_id", "1234567890"))
        .merge(Serialized::default(
            "pages.android_package",
            "org.example.wallet",
        ));
    // An App Store id that is not digits is refused by name, URL or not.
    for bad in ["id1234567890", "https://apps.apple.com/app/id1"] {
        let error = psi_server::Config::from_figment(
            base.clone()
                .merge(Serialized::default("pages.app_store_url", explicit_store))
                .merge(Serialized::default("pages.app_store_id", bad)),
        )
        .expect_err(bad)
        .to_string();
        assert!(error.contains("`pages.app_store_id`"), "{error}");
        assert!(error.contains("digits only"), "{error}");
    }
    let figment = base
        .merge(Serialized::default("pages.app_store_url", explicit_store))
        .merge(Serialized::default("pages.google_play_url", explicit_play));
    let app = spawn_app_on(db, figment).await;
    let demo = club(&app).await;
    let path = landing_path(&club_links(&app, &demo).await.0);
    let landing = page(&app, &path, CHROME_ANDROID).await;
    assert_eq!(
        attribute_after(&landing.body, "id=\"app-store\"", "href"),
        explicit_store
    );
    assert_eq!(
        attribute_after(&landing.body, "id=\"google-play\"", "href"),
        explicit_play
    );
    let intent = parse_intent(&attribute_after(&landing.body, "id=\"open-app\"", "href"));
    assert_eq!(intent.fallback.as_deref(), Some(explicit_play));
    assert_eq!(intent.package.as_deref(), Some("org.example.wallet"));
}
