//! `GET .../interactions/{id}/link` and its QR codes: links decode with psi-link to the request
//! asked for; callbacks and pre-filled values are checked. Links read the interaction through the
//! configuration cache: on PostgreSQL, a change through another process shows at once.

use figment::providers::Serialized;
use psi_link::{Decoder, Environment, LinkKind, LinkOrigin, LinkRequest, LinkTarget};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::demo_fixture::{Demo, create_interaction, demo, set_active};
use crate::engine::support::Holder;
use crate::helpers::{
    ADMIN_TOKEN, Backend, TestApp, TestDb, expect_error, expect_json, spawn_app, spawn_app_on,
    start,
};

backend_tests!(
    the_app_link_decodes_to_the_default_instance_of_the_interaction,
    links_point_at_each_environment_and_default_to_the_configured_one,
    a_configured_own_domain_and_scheme_are_used_by_default,
    a_chosen_instance_goes_into_the_link,
    a_callback_is_carried_and_a_script_callback_refused,
    values_prefill_the_pre_fillable_credential,
    the_answer_gives_the_start_page_and_the_embed_snippet_with_the_same_choices,
    prefill_is_refused_off_the_pre_fillable_credential_naming_it,
    prefill_values_must_fit_the_attribute_type,
    a_paused_interaction_gives_no_link,
    the_png_qr_code_reads_back_as_the_app_link,
    the_svg_qr_code_and_its_parameters,
    another_services_token_cannot_make_links_for_this_interaction,
    new_ids_keep_a_link_with_one_prefilled_value_at_qr_version_13,
    an_interaction_with_a_legacy_hex_id_still_gets_links_and_runs,
);

/// `GET` of the link JSON with the query `query` (already encoded), as the admin.
async fn link(app: &TestApp, demo: &Demo, query: &str) -> Value {
    let path = format!("{}?{query}", demo.link_path());
    expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await
}

async fn link_error(app: &TestApp, demo: &Demo, query: &str, status: StatusCode) -> String {
    let path = format!("{}?{query}", demo.link_path());
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::CONFLICT => "conflict",
        _ => "validation_failed",
    };
    expect_error(app.get(&path, ADMIN_TOKEN).await, status, code).await
}

fn decode(link: &Value) -> psi_link::DecodedLink {
    psi_link::decode(link.as_str().unwrap()).expect("a link psi-link decodes")
}

fn request_of(demo: &Demo) -> LinkRequest {
    LinkRequest {
        id: Some(demo.instance.clone()),
        action_id: Some(demo.interaction.clone()),
        service_did: Some(demo.did.clone()),
        ..LinkRequest::default()
    }
}

/// `prefill` query parameters, percent-encoded.
fn prefill(credential: &str, name: &str, value: &str) -> String {
    let text = format!("{credential}:{name}={value}");
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("prefill", &text)
        .finish()
}

async fn the_app_link_decodes_to_the_default_instance_of_the_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let view = link(&app, &demo, "").await;
    let expected = request_of(&demo);
    let app_link = decode(&view["app_link"]);
    assert_eq!(app_link.request, expected);
    assert_eq!(app_link.kind, LinkKind::App);
    assert_eq!(
        app_link.origin,
        LinkOrigin::Environment(Environment::Production)
    );
    assert_eq!(decode(&view["deep_link"]).request, expected);
    assert_eq!(view["request"], serde_json::to_value(&expected).unwrap());
    assert_eq!(view["dense"], false);
    let version = view["qr_version"].as_u64().unwrap();
    assert_eq!(view["qr_modules"].as_u64().unwrap(), 4 * version + 17);
}

async fn links_point_at_each_environment_and_default_to_the_configured_one(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("links.default_env", "staging"));
    let app = spawn_app_on(db, figment).await;
    let demo = demo(&app).await;
    let default = link(&app, &demo, "").await;
    assert!(
        default["app_link"]
            .as_str()
            .unwrap()
            .starts_with("https://stage.proofspace.id/native/execute/"),
        "{default}"
    );
    for env in Environment::ALL {
        let view = link(&app, &demo, &format!("env={env}")).await;
        let deep = view["deep_link"].as_str().unwrap();
        let prefix = format!("{}://{}/native/execute/", env.scheme(), env.domain());
        assert!(deep.starts_with(&prefix), "{deep}");
        let decoded = decode(&view["deep_link"]);
        assert_eq!(decoded.kind, LinkKind::Deep);
        assert_eq!(decoded.origin.environment(), Some(env));
        assert_eq!(decoded.request, request_of(&demo));
        let app_link = view["app_link"].as_str().unwrap();
        assert!(
            app_link.starts_with(&format!("https://{}/native/execute/", env.domain())),
            "{app_link}"
        );
    }
    let message = link_error(&app, &demo, "env=qa", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        message.contains("`env`") && message.contains("qa"),
        "{message}"
    );
}

async fn a_configured_own_domain_and_scheme_are_used_by_default(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("links.domain", "links.example.org"))
        .merge(Serialized::default("links.scheme", "exampleapp"));
    let app = spawn_app_on(db, figment).await;
    let demo = demo(&app).await;
    let view = link(&app, &demo, "").await;
    let deep = view["deep_link"].as_str().unwrap();
    assert!(
        deep.starts_with("exampleapp://links.example.org/native/execute/"),
        "{deep}"
    );
    let target = LinkTarget::custom("links.example.org", "exampleapp").unwrap();
    let decoded = Decoder::new()
        .with_target(target)
        .decode(view["app_link"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded.request, request_of(&demo));
    let test = link(&app, &demo, "env=test").await;
    assert!(
        test["deep_link"]
            .as_str()
            .unwrap()
            .starts_with("testzakaio://test.proofspace.id/")
    );
}

async fn a_chosen_instance_goes_into_the_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let created = expect_json(
        app.post(
            &format!("{}/instances", demo.interaction_path()),
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "location", "value": "Berlin"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let instance = created["id"].as_str().unwrap();
    let view = link(&app, &demo, &format!("instance={instance}")).await;
    assert_eq!(
        decode(&view["app_link"]).request.id.as_deref(),
        Some(instance)
    );
    let message = link_error(
        &app,
        &demo,
        "instance=nope",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("`instance`"), "{message}");
    let message = link_error(&app, &demo, "colour=red", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains("colour"), "{message}");
}

async fn a_callback_is_carried_and_a_script_callback_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    for callback in ["https://shop.example/return.html", "googlechrome://"] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("callback", callback)
            .finish();
        let view = link(&app, &demo, &query).await;
        assert_eq!(
            decode(&view["app_link"]).request.callback.as_deref(),
            Some(callback)
        );
    }
    for callback in ["javascript:alert(1)", "data:text/html,x", "not a url"] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("callback", callback)
            .finish();
        let message = link_error(&app, &demo, &query, StatusCode::BAD_REQUEST).await;
        assert!(message.contains("`callback`"), "{callback}: {message}");
    }
}

async fn values_prefill_the_pre_fillable_credential(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let query = [
        prefill(&demo.member, "Name", "Alice Smith"),
        prefill(&demo.member, "Member number", "-12.5"),
        prefill(&demo.member, "Date of birth", "631152000"),
    ]
    .join("&");
    let view = link(&app, &demo, &query).await;
    let mut expected = request_of(&demo);
    expected.set_prefilled(&demo.member, "Name", "Alice Smith");
    expected.set_prefilled(&demo.member, "Member number", "-12.5");
    expected.set_prefilled(&demo.member, "Date of birth", "631152000");
    assert_eq!(decode(&view["app_link"]).request, expected);
    assert_eq!(view["request"], serde_json::to_value(&expected).unwrap());
}

async fn the_answer_gives_the_start_page_and_the_embed_snippet_with_the_same_choices(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let name = r#"Ada "<b>" & Co"#;
    let callback = "https://shop.example/back?a=1&b=2";
    let query = format!(
        "instance={}&{}&{}",
        demo.instance,
        prefill(&demo.member, "Name", name),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("callback", callback)
            .finish()
    );
    let view = link(&app, &demo, &query).await;

    // The start page, opened on a phone, offers the same request.
    let start_page = view["start_page"].as_str().unwrap();
    let page_path = format!("/s/{}/{}/start.html?", demo.did, demo.interaction);
    assert!(start_page.starts_with(&app.url(&page_path)), "{start_page}");
    let html = app
        .client
        .get(start_page)
        .header("user-agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, after) = html
        .split_once(r#"id="start" href=""#)
        .expect("a start button");
    let href = after.split('"').next().unwrap();
    let mut offered = psi_link::decode(href).unwrap().request;
    offered.psi_session = None;
    let mut expected = request_of(&demo);
    expected.set_prefilled(&demo.member, "Name", name);
    expected.callback = Some(callback.to_owned());
    assert_eq!(offered, expected);

    // The snippet: every value escaped for its attribute, the pre-filled ones as a JSON array.
    let prefill_json = serde_json::to_string(&[format!("{}:Name={name}", demo.member)]).unwrap();
    let attribute = |text: &str| {
        text.replace('&', "&#38;")
            .replace('"', "&#34;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
    };
    assert_eq!(
        view["embed"],
        format!(
            "<div data-psi-service=\"{}\" data-psi-interaction=\"{}\" data-psi-instance=\"{}\" \
             data-psi-prefill=\"{}\" data-psi-callback=\"{}\"></div>\n\
             <script src=\"{}\" async></script>",
            demo.did,
            demo.interaction,
            demo.instance,
            attribute(&prefill_json),
            attribute(callback),
            app.url("/embed/psi.js"),
        )
    );
    // Without choices, the page and the snippet name only the interaction.
    let plain = link(&app, &demo, "").await;
    assert_eq!(plain["start_page"], app.url(&page_path.replace('?', "")));
    assert!(
        !plain["embed"]
            .as_str()
            .unwrap()
            .contains("data-psi-instance")
    );
}

async fn prefill_is_refused_off_the_pre_fillable_credential_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    // The issued, service-attested credential is not required: nothing to pre-fill.
    let message = link_error(
        &app,
        &demo,
        &prefill(&demo.membership, "Level", "1"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains(&demo.membership) && message.contains("does not require"),
        "{message}"
    );

    // Required but service-attested (so never marked pre-fill).
    let interaction = create_interaction(
        &app,
        &demo.did,
        &json!({"name": "Show membership",
                "required_credentials": [{"credential_id": demo.membership}]}),
    )
    .await;
    let path = format!(
        "/api/v1/services/{}/interactions/{}/link?{}",
        demo.did,
        interaction["id"].as_str().unwrap(),
        prefill(&demo.membership, "Level", "1")
    );
    let message = expect_error(
        app.get(&path, ADMIN_TOKEN).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("pre-fill from QR"), "{message}");

    let message = link_error(
        &app,
        &demo,
        &prefill(&demo.member, "Nickname", "Al"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains("\"Nickname\"") && message.contains("no such attribute"),
        "{message}"
    );

    let message = link_error(
        &app,
        &demo,
        "prefill=Name%3DAlice",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("CREDENTIAL_ID:NAME=VALUE"), "{message}");
}

async fn prefill_values_must_fit_the_attribute_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    for (name, value, words) in [
        ("Date of birth", "abc", "a date is seconds"),
        ("Date of birth", "1990-01-01", "a date is seconds"),
        ("Member number", "12,5", "a number is decimal"),
    ] {
        let message = link_error(
            &app,
            &demo,
            &prefill(&demo.member, name, value),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            message.contains(&format!("\"{name}\"")) && message.contains(words),
            "{name}={value}: {message}"
        );
    }
}

/// Two processes on one PostgreSQL database: a pause and a resume through one show in the other's
/// links as soon as its notification arrives, long before the cache's own bound (5 s).
#[tokio::test]
async fn on_postgres_a_pause_through_another_process_shows_in_its_links_at_once() {
    const AT_ONCE: std::time::Duration = std::time::Duration::from_secs(1);
    let app = spawn_app(Backend::Postgres).await;
    let demo = demo(&app).await;
    let other = start(app.db.figment()).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}{}", other.addr, demo.link_path());
    let status = async || {
        let response = client.get(&url).bearer_auth(ADMIN_TOKEN).send().await;
        response.expect("the other process answers").status()
    };
    // The second read comes from the cache.
    for _ in 0..2 {
        assert_eq!(status().await, StatusCode::OK);
    }
    for (active, expected) in [(false, StatusCode::CONFLICT), (true, StatusCode::OK)] {
        set_active(&app, &demo, active).await;
        let changed = std::time::Instant::now();
        loop {
            let now = status().await;
            if now == expected {
                break;
            }
            assert!(
                changed.elapsed() < AT_ONCE,
                "active: {active} through one process, still {now} from the other after {AT_ONCE:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    other.stop().await.expect("the other process stops");
}

async fn a_paused_interaction_gives_no_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    set_active(&app, &demo, false).await;
    let message = link_error(&app, &demo, "", StatusCode::CONFLICT).await;
    assert!(
        message.contains("paused") && message.contains("Join the demo club"),
        "{message}"
    );
    let png = format!("{}/qr.png", demo.link_path());
    expect_error(
        app.get(&png, ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    set_active(&app, &demo, true).await;
    link(&app, &demo, "").await;
}

/// Reads the one QR code in a PNG image.
fn read_png(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("a readable QR code").1
}

async fn the_png_qr_code_reads_back_as_the_app_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let query = format!(
        "{}&callback=https%3A%2F%2Fshop.example%2F&env=test",
        prefill(&demo.member, "Name", "Alice")
    );
    let view = link(&app, &demo, &query).await;
    let response = app
        .get(&format!("{}/qr.png?{query}", demo.link_path()), ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "image/png");
    let png = response.bytes().await.unwrap();
    assert_eq!(read_png(&png), view["app_link"].as_str().unwrap());
}

async fn the_svg_qr_code_and_its_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let svg = app
        .get(&format!("{}/qr.svg", demo.link_path()), ADMIN_TOKEN)
        .await;
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()[CONTENT_TYPE], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    let png_width = |png: &[u8]| image::load_from_memory(png).unwrap().width();
    let mut widths = Vec::new();
    for query in ["size=4&ec=L", "size=8&ec=L", "size=4&ec=H"] {
        let response = app
            .get(&format!("{}/qr.png?{query}", demo.link_path()), ADMIN_TOKEN)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let view = link(&app, &demo, query).await;
        let png = response.bytes().await.unwrap();
        let modules = view["qr_modules"].as_u64().unwrap() as u32;
        let size: u32 = query[5..6].parse().unwrap();
        assert_eq!(png_width(&png), (modules + 8) * size, "{query}");
        widths.push(png_width(&png));
    }
    assert_eq!(widths[1], 2 * widths[0], "size scales the image");
    assert!(widths[2] > widths[0], "a higher level makes a denser code");
    for query in ["size=0", "size=33", "ec=X", "size=big"] {
        let response = app
            .get(&format!("{}/qr.png?{query}", demo.link_path()), ADMIN_TOKEN)
            .await;
        expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

async fn another_services_token_cannot_make_links_for_this_interaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let other = app.create_service("Other").await;
    let (_, other_token) = app.create_token(&other).await;
    let (_, own_token) = app.create_token(&demo.did).await;
    expect_json(app.get(&demo.link_path(), &own_token).await, StatusCode::OK).await;
    for suffix in ["", "/qr.png", "/qr.svg"] {
        let path = format!("{}{suffix}", demo.link_path());
        expect_error(
            app.get(&path, &other_token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Another service's DID in the path, with that service's own token: no such interaction.
    let path = format!(
        "/api/v1/services/{other}/interactions/{}/link",
        demo.interaction
    );
    let message = expect_error(
        app.get(&path, &other_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(message, "interaction not found");
    expect_error(
        app.get(&demo.link_path(), "wrong").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

/// A new interaction of the demo service requiring its pre-fillable member card, with a second
/// instance; returns the interaction and that instance.
async fn join_with_an_instance(app: &TestApp, demo: &Demo, name: &str) -> (String, String) {
    let interaction = create_interaction(
        app,
        &demo.did,
        &json!({"name": name,
                "required_credentials": [{"credential_id": demo.member, "prefill_from_qr": true}]}),
    )
    .await;
    let interaction = interaction["id"].as_str().unwrap().to_owned();
    let instance = expect_json(
        app.post(
            &format!(
                "/api/v1/services/{}/interactions/{interaction}/instances",
                demo.did
            ),
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "location", "value": "Berlin"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    (interaction, instance["id"].as_str().unwrap().to_owned())
}

/// The link JSON of `interaction`'s `instance` with `query` (already encoded) added.
async fn link_of(
    app: &TestApp,
    did: &str,
    interaction: &str,
    instance: &str,
    query: &str,
) -> Value {
    let path = format!(
        "/api/v1/services/{did}/interactions/{interaction}/link?instance={instance}&{query}"
    );
    expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await
}

// Version 10 at level M holds 213 bytes; the prefix `https://proofspace.id/native/execute/`
// takes 37, leaving 176 base64 characters, 132 bytes of JSON. The request with one pre-filled
// value has 194 bytes besides its two ids: 121 of member names and punctuation, 44 of the
// service DID (twice), 14 of `:3:CL:1:member` and 15 of `Name` and `Alice Smith`. So no ids fit
// version 10; up to 13 characters each keep the 331 bytes of version 13, the smallest possible
// (docs/protocol.md §2, "QR codes").
async fn new_ids_keep_a_link_with_one_prefilled_value_at_qr_version_13(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let (interaction, instance) = join_with_an_instance(&app, &demo, "Join with Alice").await;
    for id in [&interaction, &instance] {
        assert_eq!(id.len(), 10, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
    let query = prefill(&demo.member, "Name", "Alice Smith");
    let view = link_of(&app, &demo.did, &interaction, &instance, &query).await;
    let app_link = view["app_link"].as_str().unwrap();
    assert!(app_link.starts_with("https://proofspace.id/native/execute/"));
    let request = decode(&view["app_link"]).request;
    assert_eq!(request.id.as_deref(), Some(instance.as_str()));
    assert_eq!(request.action_id.as_deref(), Some(interaction.as_str()));
    assert_eq!(request.prepared_credentials.as_ref().unwrap().len(), 1);
    assert_eq!(
        app_link.len(),
        37 + (4 * (194 + 20_usize)).div_ceil(3),
        "{app_link}"
    );
    assert_eq!(view["qr_version"], 13, "{view}");
    assert_eq!(view["dense"], true);

    // Without a pre-filled value the code is version 8 (32 hex characters made it 10).
    let view = link_of(&app, &demo.did, &interaction, &instance, "").await;
    assert_eq!(view["qr_version"], 8, "{view}");
    assert_eq!(view["dense"], false);
}

async fn an_interaction_with_a_legacy_hex_id_still_gets_links_and_runs(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let (template, _) = join_with_an_instance(&app, &demo, "Join").await;

    // The same interaction as psi stored it before ids were shortened: 32 hex characters.
    let legacy = "db512a15258745679d17d26b1b2006b4";
    let legacy_instance = "705a0ff5c29648c69b4ef1ffa5ddcaf9";
    let pool = app.db.raw_pool().await;
    for (sql, binds) in [
        (
            "INSERT INTO interactions (id, service_id, name, description, active, media, \
             webhook_url, webhook_key_id, webhook_auth, webhook_timeout_ms, completion_url, \
             waiting_deadline_secs, created_at, updated_at) \
             SELECT $1, service_id, 'Legacy join', description, active, media, webhook_url, \
             webhook_key_id, webhook_auth, webhook_timeout_ms, completion_url, \
             waiting_deadline_secs, created_at, updated_at FROM interactions WHERE id = $2",
            [legacy, &template].as_slice(),
        ),
        (
            "INSERT INTO interaction_credentials (interaction_id, service_id, \
             credential_definition_id, role, prefill_from_qr, external_verification, only_last, \
             position) SELECT $1, service_id, credential_definition_id, role, prefill_from_qr, \
             external_verification, only_last, position FROM interaction_credentials \
             WHERE interaction_id = $2",
            [legacy, &template].as_slice(),
        ),
        (
            "INSERT INTO instances (id, interaction_id, service_id, parameters, is_default, \
             created_at, updated_at) SELECT $1, $2, service_id, parameters, is_default, \
             created_at, updated_at FROM instances WHERE interaction_id = $3 AND is_default = 1",
            [legacy_instance, legacy, &template].as_slice(),
        ),
    ] {
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        query
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    let query = prefill(&demo.member, "Name", "Alice Smith");
    let view = link_of(&app, &demo.did, legacy, legacy_instance, &query).await;
    let request = decode(&view["app_link"]).request;
    assert_eq!(request.id.as_deref(), Some(legacy_instance));
    assert_eq!(request.action_id.as_deref(), Some(legacy));
    assert_eq!(view["qr_version"], 15, "the code legacy ids make: {view}");
    let path = format!("/api/v1/services/{}/interactions/{legacy}", demo.did);
    let stored = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(stored["instances"][0]["id"], legacy_instance);

    // The public reads and the start page know it.
    let public = |path: String| {
        let app = &app;
        async move {
            let response = app.client.get(app.url(&path)).send().await.unwrap();
            expect_json(response, StatusCode::OK).await
        }
    };
    let instances = public(format!(
        "/service-dashboard-backend/{}/info/action-instances/{legacy}",
        demo.did
    ))
    .await;
    assert_eq!(instances[0]["id"], legacy_instance);
    let page = app
        .client
        .get(app.url(&format!("/s/{}/{legacy}/start.html", demo.did)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // A wallet reads it and runs the link's instance with the pre-filled value.
    let read = public(format!(
        "/wallet/v1/services/{}/interactions/{legacy}?instance={legacy_instance}",
        demo.did
    ))
    .await;
    assert_eq!(read["required"][0]["credentialId"], demo.member.as_str());
    let holder = Holder::new();
    let body = json!({
        "actionId": legacy,
        "instanceId": legacy_instance,
        "prefilled": request.prepared_credentials,
        "presented": [{"credentialId": demo.member, "attributes": [
            {"name": "Name", "value": "Alice Smith"},
            {"name": "Member number", "value": "42"},
            {"name": "Date of birth", "value": "631152000"},
        ]}],
    });
    let outcome = expect_json(
        holder
            .post(
                &app,
                &format!("/wallet/v1/services/{}/events", demo.did),
                body,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event = outcome["event_id"].as_str().unwrap();
    let path = format!("/api/v1/services/{}/events/{event}", demo.did);
    let stored = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    assert_eq!(stored["interaction_id"], legacy, "{stored}");
    assert_eq!(stored["instance_id"], legacy_instance, "{stored}");
}
