//! Public reads web pages make (docs/protocol.md §2.1, §4.3): action templates, action instances and
//! credential id-extended; their CORS, caching and 404s.

use reqwest::StatusCode;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_REQUEST_METHOD, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, ORIGIN, VARY,
};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::demo_fixture::{Demo, create_interaction, demo, set_active};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json, spawn_app, start};

backend_tests!(
    action_templates_have_the_exact_shape_web_pages_read_under_both_base_paths,
    paused_interactions_are_not_listed_and_come_back_when_activated,
    media_are_listed_as_type_entries_for_pages_to_filter,
    every_instance_is_listed_default_first_and_action_instances_agree,
    credential_id_extended_has_the_schema_with_typed_attributes,
    another_services_credential_is_not_found_under_this_service,
    cors_echoes_the_origin_with_credentials_and_answers_preflight,
    an_unchanged_read_answers_304_and_a_change_gives_a_new_etag,
    a_write_through_another_server_shows_within_a_second,
    escaping_letters_of_the_path_does_not_miss_the_cache,
    an_unknown_service_answers_404_json_on_every_public_path,
    every_public_read_carries_an_etag_that_answers_304,
);

fn templates_paths(did: &str) -> [String; 2] {
    [
        format!("/service-dashboard-backend/service/{did}/info/action-templates"),
        format!("/service-backend/v1/service/{did}/info/action-templates"),
    ]
}

fn id_extended_paths(did: &str, credential_id: &str) -> [String; 2] {
    [
        format!("/service-dashboard-backend/service/{did}/credential/id-extended/{credential_id}"),
        format!("/service-backend/v1/service/{did}/credential/id-extended/{credential_id}"),
    ]
}

fn instances_path(did: &str, interaction: &str) -> String {
    format!("/service-dashboard-backend/{did}/info/action-instances/{interaction}")
}

/// A public GET with `If-None-Match: tag`.
async fn conditional_get(app: &TestApp, path: &str, tag: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(IF_NONE_MATCH, tag)
        .send()
        .await
        .unwrap()
}

/// A public GET, without credentials, answering 200 with JSON.
async fn read(app: &TestApp, path: &str) -> Value {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/json",
        "{path}"
    );
    expect_json(response, StatusCode::OK).await
}

fn expected_demo_template(demo: &Demo) -> Value {
    json!({
        "actionId": demo.interaction,
        "actionName": "Join the demo club",
        "description": "Show your member card (a QR link may fill it in for you) and receive a membership.",
        "media": [{"type": "QR"}],
        "credentialsRequired": [demo.member],
        "credentialsIssued": [demo.membership],
        "predicates": [{
            "credentialId": demo.member,
            "fromActionQRCode": true,
            "onlyLast": false,
            "fields": ["Name", "Member number", "Date of birth"],
        }],
        "actionInstances": [{
            "id": demo.instance,
            "parameters": [{"name": "location", "value": "Online"}],
        }],
    })
}

async fn action_templates_have_the_exact_shape_web_pages_read_under_both_base_paths(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    for path in templates_paths(&demo.did) {
        let templates = read(&app, &path).await;
        assert_eq!(templates, json!([expected_demo_template(&demo)]), "{path}");
    }
}

async fn paused_interactions_are_not_listed_and_come_back_when_activated(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let [path, other] = templates_paths(&demo.did);
    set_active(&app, &demo, false).await;
    assert_eq!(read(&app, &path).await, json!([]));
    assert_eq!(read(&app, &other).await, json!([]));
    let response = app
        .client
        .get(app.url(&instances_path(&demo.did, &demo.interaction)))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    set_active(&app, &demo, true).await;
    assert_eq!(
        read(&app, &path).await,
        json!([expected_demo_template(&demo)])
    );
}

async fn media_are_listed_as_type_entries_for_pages_to_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    create_interaction(
        &app,
        &demo.did,
        &json!({"name": "Pushed only", "media": ["PUSH"]}),
    )
    .await;
    create_interaction(
        &app,
        &demo.did,
        &json!({"name": "Both ways", "media": ["QR", "PUSH"],
                "required_credentials": [{"credential_id": demo.membership, "only_last": true}]}),
    )
    .await;
    let templates = read(&app, &templates_paths(&demo.did)[0]).await;
    let by_name = |name: &str| {
        templates
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["actionName"] == name)
            .unwrap_or_else(|| panic!("{name} in {templates}"))
            .clone()
    };
    let pushed = by_name("Pushed only");
    assert_eq!(pushed["media"], json!([{"type": "PUSH"}]));
    assert_eq!(pushed["description"], "");
    for key in ["credentialsRequired", "credentialsIssued", "predicates"] {
        assert_eq!(pushed[key], json!([]), "{key} is an empty array");
    }
    assert!(pushed["actionId"].is_string());
    let both = by_name("Both ways");
    assert_eq!(both["media"], json!([{"type": "QR"}, {"type": "PUSH"}]));
    assert_eq!(
        both["predicates"],
        json!([{"credentialId": demo.membership, "fromActionQRCode": false, "onlyLast": true,
                "fields": ["Member number", "Level", "Valid until"],
                // The demo's interaction issues it: where a holder gets one.
                "issuedBy": [{"serviceDid": demo.did, "serviceName": "Demo service",
                              "actionId": demo.interaction, "actionName": "Join the demo club",
                              "actionInstanceId": demo.instance}]}])
    );
    // What the pre-filled-credentials page keeps: entries with a QR medium.
    let with_qr: Vec<&str> = templates
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["media"]
                .as_array()
                .unwrap()
                .contains(&json!({"type": "QR"}))
        })
        .map(|t| t["actionName"].as_str().unwrap())
        .collect();
    assert_eq!(with_qr, ["Join the demo club", "Both ways"]);
}

async fn every_instance_is_listed_default_first_and_action_instances_agree(backend: Backend) {
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
    let templates = read(&app, &templates_paths(&demo.did)[1]).await;
    let instances = &templates[0]["actionInstances"];
    assert_eq!(
        *instances,
        json!([
            {"id": demo.instance, "parameters": [{"name": "location", "value": "Online"}]},
            {"id": created["id"], "parameters": [{"name": "location", "value": "Berlin"}]},
        ])
    );
    assert!(instances[1]["id"].is_string());
    let listed = read(&app, &instances_path(&demo.did, &demo.interaction)).await;
    assert_eq!(listed, *instances);
    let response = app
        .client
        .get(app.url(&instances_path(&demo.did, "no-such-interaction")))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn credential_id_extended_has_the_schema_with_typed_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    for path in id_extended_paths(&demo.did, &demo.member) {
        let extended = read(&app, &path).await;
        assert_eq!(extended["credential"]["credentialId"], demo.member.as_str());
        assert_eq!(extended["credential"]["attestation"], "self");
        assert_eq!(
            extended["credential"]["schemaId"],
            format!("{}:2:Demo Member:1.0", demo.did)
        );
        assert_eq!(
            extended["schema"],
            json!({"name": "Demo Member", "version": "1.0", "attributes": [
                {"name": "Name", "type": "text"},
                {"name": "Member number", "type": "number"},
                {"name": "Date of birth", "type": "date"},
            ]})
        );
    }
    let [path, _] = id_extended_paths(&demo.did, &demo.membership);
    let extended = read(&app, &path).await;
    assert_eq!(extended["credential"]["attestation"], "service");
    assert_eq!(
        extended["schema"]["attributes"][1],
        json!({"name": "Level", "type": "enumeration", "enumValues": [
            {"name": "Bronze", "value": "0"},
            {"name": "Silver", "value": "1"},
            {"name": "Gold", "value": "2"},
        ]})
    );
    for missing in [
        format!("{}:3:CL:99:member", demo.did),
        "not-a-credential-id".to_owned(),
    ] {
        let [path, _] = id_extended_paths(&demo.did, &missing);
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

async fn another_services_credential_is_not_found_under_this_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let other = app.create_service("Other").await;
    let [path, _] = id_extended_paths(&other, &demo.member);
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .client
        .get(app.url(&instances_path(&other, &demo.interaction)))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(read(&app, &templates_paths(&other)[0]).await, json!([]));
}

async fn cors_echoes_the_origin_with_credentials_and_answers_preflight(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let origin = "https://shop.example";
    let paths = [
        templates_paths(&demo.did)[0].clone(),
        templates_paths(&demo.did)[1].clone(),
        id_extended_paths(&demo.did, &demo.member)[1].clone(),
        instances_path(&demo.did, &demo.interaction),
        format!(
            "/service-backend/v1/service/{}/public-info/public-key/default",
            demo.did
        ),
    ];
    for path in &paths {
        let response = app
            .client
            .get(app.url(path))
            .header(ORIGIN, origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], origin, "{path}");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true", "{path}");
        let vary: Vec<&str> = headers
            .get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(vary.iter().any(|v| v.contains("origin")), "{vary:?}");

        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header("access-control-request-headers", "if-none-match")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{path}: {preflight:?}");
        let headers = preflight.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], origin);
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert!(
            headers[ACCESS_CONTROL_ALLOW_METHODS]
                .to_str()
                .unwrap()
                .contains("GET")
        );
        assert_eq!(headers["access-control-allow-headers"], "if-none-match");
    }
    let other_origin = app
        .client
        .get(app.url(&paths[0]))
        .header(ORIGIN, "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_origin.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    let no_origin = app.client.get(app.url(&paths[0])).send().await.unwrap();
    assert!(
        no_origin
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // The management API is not opened to browsers.
    let api = app
        .client
        .get(app.url("/api/v1/services"))
        .bearer_auth(ADMIN_TOKEN)
        .header(ORIGIN, origin)
        .send()
        .await
        .unwrap();
    assert!(api.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

async fn an_unchanged_read_answers_304_and_a_change_gives_a_new_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let [path, _] = templates_paths(&demo.did);
    let first = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(first.headers()[CACHE_CONTROL], "public, max-age=60");
    let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(
        tag.starts_with('"') && !tag.starts_with("W/"),
        "a strong tag: {tag}"
    );
    let body = first.text().await.unwrap();

    let again = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(again.headers()[ETAG], tag.as_str(), "same bytes, same tag");
    assert_eq!(again.text().await.unwrap(), body);

    let cached = conditional_get(&app, &path, &tag).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()[ETAG], tag.as_str());
    assert!(cached.text().await.unwrap().is_empty());

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("psi_public_cache_hits_total"),
        "cached answers are counted: {metrics}"
    );

    set_active(&app, &demo, false).await;
    let changed = conditional_get(&app, &path, &tag).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[ETAG], tag.as_str());
}

/// A cached answer is served around the request-id layer: a hit has no `x-request-id`.
async fn escaping_letters_of_the_path_does_not_miss_the_cache(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let [path, _] = templates_paths(&demo.did);
    let first = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().contains_key("x-request-id"), "a miss");
    let body = first.text().await.unwrap();
    // The DID's letters escaped, in both cases of hex.
    let did = demo.did.as_str();
    let escaped: String = did.bytes().map(|b| format!("%{b:02x}")).collect();
    let upper: String = did.bytes().map(|b| format!("%{b:02X}")).collect();
    for variant in [escaped, upper] {
        let again = app
            .client
            .get(app.url(&path.replace(did, &variant)))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        assert!(
            !again.headers().contains_key("x-request-id"),
            "{variant}: served from the cache"
        );
        assert_eq!(again.text().await.unwrap(), body);
    }
}

async fn an_unknown_service_answers_404_json_on_every_public_path(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    // A well-formed DID no service has, and text that is no DID at all.
    for did in ["GbzPqgnU4XsMs7xg9mYJW8", "nope"] {
        let credential = format!("{did}:3:CL:1:member");
        let mut paths = Vec::new();
        for base in [
            format!("/service-dashboard-backend/service/{did}"),
            format!("/service-backend/v1/service/{did}"),
        ] {
            paths.push(format!("{base}/info/action-templates"));
            paths.push(format!("{base}/credential/id-extended/{credential}"));
            paths.push(format!("{base}/public-info/public-key/default"));
        }
        paths.push(instances_path(did, &demo.interaction));
        for path in paths {
            let response = app
                .client
                .get(app.url(&path))
                .header(ORIGIN, "https://shop.example")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://shop.example",
                "errors are readable cross-origin: {path}"
            );
            let message = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
            assert_eq!(message, "service not found", "{path}");
        }
    }
}

async fn a_write_through_another_server_shows_within_a_second(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let [path, _] = templates_paths(&demo.did);
    assert_eq!(read(&app, &path).await.as_array().unwrap().len(), 1);
    // A second server on the same database pauses the interaction; the first one's cache does
    // not see that write.
    let other = start(app.db.figment()).await;
    let response = app
        .client
        .patch(format!("http://{}{}", other.addr, demo.interaction_path()))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(psi_server::public::cache::TTL + std::time::Duration::from_millis(100))
        .await;
    assert_eq!(read(&app, &path).await, json!([]));
    other.stop().await.unwrap();
}

async fn every_public_read_carries_an_etag_that_answers_304(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let mut paths = Vec::new();
    paths.extend(templates_paths(&demo.did));
    paths.extend(id_extended_paths(&demo.did, &demo.member));
    paths.push(instances_path(&demo.did, &demo.interaction));
    for base in [
        format!("/service-dashboard-backend/service/{}", demo.did),
        format!("/service-backend/v1/service/{}", demo.did),
    ] {
        paths.push(format!("{base}/public-info/public-key/default"));
    }
    for path in paths {
        let first = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
        let cached = conditional_get(&app, &path, &tag).await;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{path}");
        let stale = conditional_get(&app, &path, "\"not-the-tag\"").await;
        assert_eq!(stale.status(), StatusCode::OK, "{path}");
    }
}
