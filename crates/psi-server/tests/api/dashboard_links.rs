//! The dashboard's **QR codes and deeplinks** screen over real HTTP: it offers only interactions
//! with a QR code, generates the link endpoint's links for the chosen instance, environment and
//! pre-filled values (read back with psi-link), downloads the QR code as PNG and SVG, shows the
//! **Embed** snippet with its live preview, and makes short `sourceURL` links for editors only.

use psi_link::{Environment, LinkRequest};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dashboard::{Session, answer, location, person};
use crate::demo_fixture::{Demo, create_interaction, demo, set_active};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::db::operators::Role;

backend_tests!(
    the_screen_offers_qr_interactions_and_generates_their_links,
    the_embed_tab_holds_the_snippet_and_its_preview,
    refused_choices_show_the_apis_message_and_other_interactions_are_not_found,
    short_links_are_made_by_editors_through_the_api,
);

fn screen(demo: &Demo) -> String {
    format!("/dashboard/services/{}/links", demo.did)
}

/// `key=value` pairs, form-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    query.finish()
}

/// The query-string key of a pre-filled value of the demo's member credential.
fn fill(demo: &Demo, name: &str) -> String {
    format!("fill:{}:{name}", demo.member)
}

/// The value of the read-only input `id` (links hold no character askama escapes, except `&`).
fn input(html: &str, id: &str) -> String {
    let start = format!("id=\"{id}\" type=\"text\" value=\"");
    let at = html
        .find(&start)
        .unwrap_or_else(|| panic!("input {id}: {html}"))
        + start.len();
    html[at..].split('"').next().unwrap().replace("&#38;", "&")
}

/// A second instance of the demo interaction.
async fn second_instance(app: &TestApp, demo: &Demo) -> String {
    let created: Value = expect_json(
        app.post(
            &format!("{}/instances", demo.interaction_path()),
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "location", "value": "Berlin"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn the_screen_offers_qr_interactions_and_generates_their_links(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let push = create_interaction(
        &app,
        &demo.did,
        &json!({"name": "Pushed only", "media": ["PUSH"]}),
    )
    .await;
    let push = push["id"].as_str().unwrap();
    let instance = second_instance(&app, &demo).await;
    // Viewers use this screen fully: it changes nothing.
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;

    let list = viewer
        .page(&format!("/dashboard/services/{}/interactions", demo.did))
        .await;
    assert!(
        list.contains(&format!(
            "href=\"{}\">QR codes and deeplinks</a>",
            screen(&demo)
        )),
        "{list}"
    );
    let html = viewer.page(&screen(&demo)).await;
    assert!(
        html.contains("<h1>QR codes and deeplinks</h1>")
            && html.contains(&format!("<option value=\"{}\">", demo.interaction))
            && !html.contains(push),
        "only interactions with a QR code are offered: {html}"
    );

    // The chosen interaction's form: its instances, the environments, an input per attribute of
    // the credential marked "Pre-fill from QR", typed as the attribute is.
    let form = viewer
        .page(&format!(
            "{}?{}",
            screen(&demo),
            query(&[("interaction", &demo.interaction)])
        ))
        .await;
    for part in [
        format!("<option value=\"{instance}\">"),
        "<option value=\"staging\">".to_owned(),
        "Pre-filled values of".to_owned(),
        "type=\"date\"".to_owned(),
        "type=\"number\"".to_owned(),
        ">Generate</button>".to_owned(),
    ] {
        assert!(form.contains(&part), "{part}: {form}");
    }
    assert!(!form.contains("data-copy"), "nothing generated yet");

    let (name, number, birth) = (
        fill(&demo, "Name"),
        fill(&demo, "Member number"),
        fill(&demo, "Date of birth"),
    );
    let choices = query(&[
        ("interaction", &demo.interaction),
        ("instance", &instance),
        ("env", "test"),
        (&name, "Ada Lovelace"),
        (&number, "-12.5"),
        (&birth, "1990-01-01"),
    ]);
    let html = viewer
        .page(&format!("{}?{choices}&generate=1", screen(&demo)))
        .await;
    let mut expected = LinkRequest {
        id: Some(instance.clone()),
        action_id: Some(demo.interaction.clone()),
        service_did: Some(demo.did.clone()),
        ..LinkRequest::default()
    };
    expected.set_prefilled(&demo.member, "Name", "Ada Lovelace");
    expected.set_prefilled(&demo.member, "Member number", "-12.5");
    // The date input's day, as the protocol carries it: seconds at midnight UTC.
    expected.set_prefilled(&demo.member, "Date of birth", "631152000");
    for id in ["app-link", "deep-link"] {
        let decoded = psi_link::decode(&input(&html, id)).expect("a link psi-link decodes");
        assert_eq!(decoded.request, expected, "{id}");
        assert_eq!(
            decoded.origin.environment(),
            Some(Environment::Test),
            "{id}"
        );
    }
    let start_page = input(&html, "start-page");
    assert!(
        start_page.starts_with(&app.url(&format!(
            "/s/{}/{}/start.html?instance={instance}",
            demo.did, demo.interaction
        ))) && start_page.contains("Ada+Lovelace"),
        "{start_page}"
    );
    for copy in ["app-link", "deep-link", "start-page"] {
        assert!(html.contains(&format!("data-copy=\"{copy}\"")), "{html}");
    }
    assert!(
        html.contains("aria-current=\"page\">QR code</a>")
            && html.contains("value=\"1990-01-01\"")
            && html.contains("alt=\"QR code of the app link\""),
        "the form keeps the values; the QR code tab is open: {html}"
    );

    // The downloads: the API's images, as attachments, of the same app link.
    let app_link = input(&html, "app-link");
    for (extension, content_type) in [("png", "image/png"), ("svg", "image/svg+xml")] {
        let path = format!("{}/qr.{extension}?{choices}", screen(&demo));
        let href = format!("href=\"{}\" download", path.replace('&', "&#38;"));
        assert!(html.contains(&href), "{href}: {html}");
        let response = viewer.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{extension}");
        assert_eq!(response.headers()["content-type"], content_type);
        assert_eq!(
            response.headers()["content-disposition"],
            format!(
                "attachment; filename=\"qr-{}.{extension}\"",
                demo.interaction
            )
            .as_str()
        );
        let body = response.bytes().await.unwrap();
        if extension == "png" {
            let image = image::load_from_memory(&body).expect("a PNG").to_luma8();
            let mut prepared = rqrr::PreparedImage::prepare(image);
            let grids = prepared.detect_grids();
            assert_eq!(grids.len(), 1, "one QR code");
            let (_, text) = grids[0].decode().expect("the code reads");
            assert_eq!(text, app_link);
        } else {
            assert!(String::from_utf8_lossy(&body).contains("<svg"));
        }
    }
    app.app.stop().await.unwrap();
}

async fn the_embed_tab_holds_the_snippet_and_its_preview(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;
    let name = fill(&demo, "Name");
    let choices = [
        ("interaction", demo.interaction.as_str()),
        (&name, "Ada"),
        ("generate", "1"),
    ];
    let qr = viewer
        .page(&format!("{}?{}", screen(&demo), query(&choices)))
        .await;
    let tab = format!(
        "{}?{}",
        screen(&demo),
        query(&[choices.as_slice(), &[("tab", "embed")]].concat())
    );
    assert!(
        qr.contains(&format!("href=\"{}\">Embed</a>", tab.replace('&', "&#38;"))),
        "{qr}"
    );
    let html = viewer.page(&tab).await;
    assert!(html.contains("aria-current=\"page\">Embed</a>"), "{html}");
    // The snippet, escaped in its text area, names the service and the interaction.
    let start = html
        .find("<textarea id=\"embed-snippet\"")
        .expect("the snippet");
    let snippet = &html[start..html[start..].find("</textarea>").unwrap() + start];
    for part in [
        format!("data-psi-service=&#34;{}&#34;", demo.did),
        format!("data-psi-interaction=&#34;{}&#34;", demo.interaction),
        format!("src=&#34;{}&#34;", app.url("/embed/psi.js")),
    ] {
        assert!(snippet.contains(&part), "{part}: {snippet}");
    }
    assert!(html.contains("data-copy=\"embed-snippet\""), "{html}");
    // The preview is the embed itself, its script from this origin (the page allows no other).
    assert!(
        html.contains(&format!(
            "<div data-psi-service=\"{}\" data-psi-interaction=\"{}\"",
            demo.did, demo.interaction
        )) && html.contains("<script src=\"/embed/psi.js\" async></script>"),
        "{html}"
    );
    let script = app
        .client
        .get(app.url("/embed/psi.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    let offer = app
        .client
        .get(app.url(&format!(
            "/s/{}/{}/link.json?prefill={}",
            demo.did,
            demo.interaction,
            url::form_urlencoded::byte_serialize(format!("{}:Name=Ada", demo.member).as_bytes())
                .collect::<String>()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        offer.status(),
        StatusCode::OK,
        "the preview's fetch answers"
    );
    app.app.stop().await.unwrap();
}

async fn refused_choices_show_the_apis_message_and_other_interactions_are_not_found(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let editor = crate::dashboard::editor(&app, &demo).await;
    let generate = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("interaction", demo.interaction.as_str()),
            ("generate", "1"),
        ];
        all.extend_from_slice(pairs);
        format!("{}?{}", screen(&demo), query(&all))
    };

    // A value the attribute's type refuses: the API's message, next to the form.
    let number = fill(&demo, "Member number");
    let response = editor.get(&generate(&[(&number, "12,5")])).await;
    let html = answer(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("Member number")
            && html.contains(">Generate</button>")
            && !html.contains("data-copy"),
        "{html}"
    );
    // A paused interaction makes no links.
    set_active(&app, &demo, false).await;
    let response = editor.get(&generate(&[])).await;
    let html = answer(response, StatusCode::CONFLICT).await;
    assert!(
        html.contains("role=\"alert\"") && html.contains("paused"),
        "{html}"
    );
    set_active(&app, &demo, true).await;

    // Interactions without a QR code, and another service's, are not offered: 404.
    let push = create_interaction(
        &app,
        &demo.did,
        &json!({"name": "Pushed only", "media": ["PUSH"]}),
    )
    .await;
    let other = app.create_service("Other").await;
    let elsewhere = create_interaction(&app, &other, &json!({"name": "Elsewhere"})).await;
    for id in [&push["id"], &elsewhere["id"]] {
        let id = id.as_str().unwrap();
        for path in ["", "/qr.png", "/qr.svg"] {
            let url = format!(
                "{}{path}?{}",
                screen(&demo),
                query(&[("interaction", id), ("generate", "1")])
            );
            assert_eq!(
                editor.get(&url).await.status(),
                StatusCode::NOT_FOUND,
                "{url}"
            );
        }
    }
    // Another service's person sees none of this service's screen.
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    for path in ["", "/qr.png"] {
        let url = format!(
            "{}{path}?{}",
            screen(&demo),
            query(&[("interaction", &demo.interaction), ("generate", "1")])
        );
        assert_eq!(
            olga.get(&url).await.status(),
            StatusCode::NOT_FOUND,
            "{url}"
        );
    }
    app.app.stop().await.unwrap();
}

async fn short_links_are_made_by_editors_through_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "eve", Some((&demo.did, Role::Editor))).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let name = fill(&demo, "Name");
    let chosen = [
        ("interaction", demo.interaction.as_str()),
        ("env", "staging"),
        (name.as_str(), "Ada"),
    ];
    let generated = format!(
        "{}?{}",
        screen(&demo),
        query(&[chosen.as_slice(), &[("generate", "1")]].concat())
    );
    let short = format!("{}/short", screen(&demo));

    let editor = Session::sign_in(&app, "eve").await;
    let html = editor.page(&generated).await;
    assert!(html.contains(">Make short link</button>"), "{html}");
    let csrf = editor.csrf(&generated).await;
    let with = |csrf: &str, expires: &str| -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = chosen
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        fields.push(("_csrf".into(), csrf.to_owned()));
        fields.push(("expires".into(), expires.to_owned()));
        fields.push(("one_time".into(), "true".into()));
        fields
    };
    let post = async |session: &Session<'_>, fields: Vec<(String, String)>| {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        session.post(&short, &fields, None).await
    };

    // A forged token and a viewer are refused.
    let forged = post(&editor, with("forged", "3600")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let viewer = Session::sign_in(&app, "vic").await;
    let seen = viewer.page(&generated).await;
    assert!(
        !seen.contains(">Make short link</button>") && seen.contains("data-copy=\"app-link\""),
        "{seen}"
    );
    let viewer_csrf = viewer.csrf(&generated).await;
    let refused = post(&viewer, with(&viewer_csrf, "3600")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A lifetime the API refuses: its message, the page again.
    let response = post(&editor, with(&csrf, "0")).await;
    let html = answer(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"") && html.contains("expires_in_secs"),
        "{html}"
    );

    // Made: the page shows the short link, whose sourceURL serves the request once.
    let made = post(&editor, with(&csrf, "3600")).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER, "{made:?}");
    let to = location(&made).to_owned();
    assert!(
        to.starts_with(&screen(&demo)) && to.contains("short="),
        "{to}"
    );
    let html = editor.page(&to).await;
    let short_link = input(&html, "short-link");
    let decoded = psi_link::decode(&short_link).expect("a link psi-link decodes");
    assert_eq!(decoded.origin.environment(), Some(Environment::Staging));
    let source_url = decoded.request.source_url.clone().expect("a sourceURL");
    assert_eq!(
        decoded.request,
        LinkRequest {
            source_url: Some(source_url.clone()),
            ..LinkRequest::default()
        }
    );
    let request: Value = expect_json(
        app.client.get(&source_url).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(request["actionId"], demo.interaction.as_str());
    assert_eq!(
        request["preparedCredentials"][0]["attributes"][0]["value"], "Ada",
        "{request}"
    );
    let again = app.client.get(&source_url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE, "one download only");
    app.app.stop().await.unwrap();
}
