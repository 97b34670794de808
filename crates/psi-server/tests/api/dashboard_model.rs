//! The **Keys**, **Schemas** and **Credential definitions** screens over real HTTP: each form
//! changes what the management API shows, what the API refuses comes back in the form with its
//! message, a generated SHA secret is shown once, viewers change nothing and other services'
//! people see nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dashboard::{Session, answer, contains_all, location, person};
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::db::operators::Role;

backend_tests!(
    keys_are_added_generated_imported_shown_once_and_deleted,
    schemas_are_added_with_typed_attributes_edited_and_deleted_when_unused,
    credential_definitions_are_added_and_edited_through_the_api,
    viewers_and_other_services_change_nothing,
);

fn screen(demo: &Demo, section: &str) -> String {
    format!("/dashboard/services/{}/{section}", demo.did)
}

fn api(demo: &Demo, section: &str) -> String {
    format!("/api/v1/services/{}/{section}", demo.did)
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../../vectors/signatures.json")).unwrap()
}

async fn api_json(app: &TestApp, path: &str) -> Value {
    expect_json(app.get(path, ADMIN_TOKEN).await, StatusCode::OK).await
}

/// The names of the service's keys, as the API lists them.
async fn key_names(app: &TestApp, demo: &Demo) -> Vec<String> {
    let keys = api_json(app, &format!("{}?limit=500", api(demo, "keys"))).await;
    keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["name"].as_str().unwrap().to_owned())
        .collect()
}

/// An editor of the demo service, signed in, with the CSRF token of its forms.
async fn editor<'a>(app: &'a TestApp, demo: &Demo) -> (Session<'a>, String) {
    let session = crate::dashboard::editor(app, demo).await;
    let csrf = session.csrf(&screen(demo, "keys")).await;
    (session, csrf)
}

async fn keys_are_added_generated_imported_shown_once_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let (eve, csrf) = editor(&app, &demo).await;
    let keys = screen(&demo, "keys");
    let vectors = vectors();

    let html = eve.page(&keys).await;
    contains_all(
        &html,
        &[
            ">Keys<",
            ">Add key<",
            "Default",
            "RSA key pair",
            "Public key PEM",
        ],
    );
    assert!(!html.contains("<dialog id=\"add-key\" aria-labelledby=\"add-key-title\" open"));
    // Without the script, the address opens the pop-up.
    let html = eve.page(&format!("{keys}?edit=new")).await;
    assert!(
        html.contains("aria-labelledby=\"add-key-title\" open"),
        "{html}"
    );
    assert!(html.contains("SHA secret") && html.contains("RSA public key"));

    // An RSA key pair, generated; and one imported.
    let add = |form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("_csrf", csrf.clone()));
        form
    };
    let post = |form: Vec<(&'static str, String)>| {
        let eve = &eve;
        let keys = keys.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            eve.post(&keys, &form, None).await
        }
    };
    let generated = post(add(vec![
        ("name", "signer".into()),
        ("type", "rsa_key_pair".into()),
        ("source", "generate".into()),
        ("private_key_pem", String::new()),
    ]))
    .await;
    assert_eq!(generated.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&generated), keys);
    let signer = api_json(&app, &format!("{}/signer", api(&demo, "keys"))).await;
    assert_eq!(signer["type"], "rsa_key_pair");
    let imported = post(add(vec![
        ("name", "imported".into()),
        ("type", "rsa_key_pair".into()),
        ("source", "import".into()),
        (
            "private_key_pem",
            vectors["rsa_private_key_pkcs8_pem"]
                .as_str()
                .unwrap()
                .into(),
        ),
        // A hidden field of another type is not sent to the API.
        ("public_key_pem", "left over".into()),
    ]))
    .await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    let imported = api_json(&app, &format!("{}/imported", api(&demo, "keys"))).await;
    let spki = vectors["rsa_public_key_spki_pem"].as_str().unwrap();
    assert_eq!(imported["public_pem"].as_str().unwrap().trim(), spki.trim());

    // A third party's public key.
    let partner = post(add(vec![
        ("name", "partner".into()),
        ("type", "rsa_public_key".into()),
        ("public_key_pem", spki.into()),
    ]))
    .await;
    assert_eq!(partner.status(), StatusCode::SEE_OTHER);
    let partner = api_json(&app, &format!("{}/partner", api(&demo, "keys"))).await;
    assert_eq!(partner["type"], "rsa_public_key");

    // A SHA secret: shown on the answer, once, never cached; the list never shows it again.
    let shared = post(add(vec![
        ("name", "shared".into()),
        ("type", "sha_secret".into()),
    ]))
    .await;
    assert_eq!(shared.status(), StatusCode::CREATED);
    assert_eq!(shared.headers()["cache-control"], "no-store");
    let html = shared.text().await.unwrap();
    assert!(html.contains("psi shows it only once"), "{html}");
    assert!(html.contains("data-copy=\"secret-value\""), "{html}");
    let at = html.find("id=\"secret-value\" readonly value=\"").unwrap() + 34;
    let secret = html[at..].split('"').next().unwrap().to_owned();
    assert!(secret.len() >= 43, "{secret}");
    let shared = api_json(&app, &format!("{}/shared", api(&demo, "keys"))).await;
    assert_eq!(shared["type"], "sha_secret");
    assert!(shared.get("secret").is_none());
    let html = eve.page(&keys).await;
    assert!(!html.contains(&secret) && html.contains("shared"), "{html}");

    // What the API refuses comes back in the pop-up, with its message.
    let invalid = post(add(vec![
        ("name", "no spaces".into()),
        ("type", "sha_secret".into()),
    ]))
    .await;
    let html = answer(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\">`name` must be 1 to 64")
            && html.contains("aria-labelledby=\"add-key-title\" open")
            && html.contains("value=\"no spaces\""),
        "{html}"
    );
    let unparsable = post(add(vec![
        ("name", "broken".into()),
        ("type", "rsa_public_key".into()),
        ("public_key_pem", "not a key".into()),
    ]))
    .await;
    assert!(
        answer(unparsable, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("`public_key_pem`")
    );
    let taken = post(add(vec![
        ("name", "partner".into()),
        ("type", "sha_secret".into()),
    ]))
    .await;
    assert!(
        answer(taken, StatusCode::CONFLICT)
            .await
            .contains("already exists")
    );

    // Delete: the default key stays, a key in use stays (the API says why), others go.
    let delete = |name: &str| format!("{keys}/{name}/delete");
    let default = eve
        .post(&delete("default"), &[("_csrf", &csrf)], None)
        .await;
    assert!(
        answer(default, StatusCode::CONFLICT)
            .await
            .contains("role=\"alert\">the default key cannot be deleted")
    );
    let definition = format!(
        "{}/{}",
        api(&demo, "credential-definitions"),
        demo.membership
    );
    let issuers = json!({"issuers": ["partner"]});
    expect_json(
        app.patch(&definition, ADMIN_TOKEN, &issuers).await,
        StatusCode::OK,
    )
    .await;
    let in_use = eve
        .post(&delete("partner"), &[("_csrf", &csrf)], None)
        .await;
    assert!(
        answer(in_use, StatusCode::CONFLICT)
            .await
            .contains("is in use")
    );
    let gone = eve.post(&delete("signer"), &[("_csrf", &csrf)], None).await;
    assert_eq!(location(&gone), keys);
    let names = key_names(&app, &demo).await;
    assert!(
        !names.contains(&"signer".to_owned()) && names.contains(&"partner".to_owned()),
        "{names:?}"
    );
    app.app.stop().await.unwrap();
}

async fn schemas_are_added_with_typed_attributes_edited_and_deleted_when_unused(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let (eve, csrf) = editor(&app, &demo).await;
    let schemas = screen(&demo, "schemas");

    let html = eve.page(&schemas).await;
    contains_all(
        &html,
        &[
            ">Schemas<",
            ">Add schema<",
            "Level",
            "enumeration: Bronze, Silver, Gold",
        ],
    );
    let html = eve.page(&format!("{schemas}?edit=new")).await;
    assert!(
        html.contains("aria-labelledby=\"add-schema-title\" open")
            && html.contains("id=\"attribute-name-6\"")
            && !html.contains("id=\"attribute-name-7\""),
        "{html}"
    );
    let html = eve.page(&format!("{schemas}?edit=new&rows=12")).await;
    assert!(html.contains("id=\"attribute-name-12\""));

    let rows = |name: &str, version: &str, seat_type: &str| {
        let mut form = vec![
            ("_csrf".to_owned(), csrf.clone()),
            ("name".to_owned(), name.to_owned()),
            ("version".to_owned(), version.to_owned()),
        ];
        let attributes = [
            ("Seat", seat_type, ""),
            ("Class", "enumeration", "Economy, Business"),
            ("", "text", ""),
            ("", "text", ""),
        ];
        for (name, kind, choices) in attributes {
            form.push(("attribute_name".to_owned(), name.to_owned()));
            form.push(("attribute_type".to_owned(), kind.to_owned()));
            form.push(("attribute_choices".to_owned(), choices.to_owned()));
        }
        form
    };
    let post = |form: Vec<(String, String)>| {
        let eve = &eve;
        let schemas = schemas.clone();
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            eve.post(&schemas, &form, None).await
        }
    };
    let added = post(rows("Ticket", "1.0", "text")).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), schemas);
    let list = api_json(&app, &format!("{}?limit=500", api(&demo, "schemas"))).await;
    let ticket = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|schema| schema["name"] == "Ticket")
        .expect("the API lists the new schema")
        .clone();
    assert_eq!(ticket["version"], "1.0");
    assert_eq!(
        ticket["attributes"],
        json!([
            {"name": "Seat", "type": "text"},
            {"name": "Class", "type": "enumeration", "enum_values": [
                {"name": "Economy", "value": "0"}, {"name": "Business", "value": "1"}]},
        ])
    );
    assert!(
        eve.page(&schemas)
            .await
            .contains("enumeration: Economy, Business")
    );

    // Refusals come back in the pop-up, what was typed kept.
    let taken = post(rows("Ticket", "1.0", "text")).await;
    assert!(
        answer(taken, StatusCode::CONFLICT)
            .await
            .contains("already exists")
    );
    let invalid = post(rows("Ticket", "one", "text")).await;
    let html = answer(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\">`version`")
            && html.contains("aria-labelledby=\"add-schema-title\" open")
            && html.contains("value=\"Economy, Business\""),
        "{html}"
    );
    let unknown_type = post(rows("Ticket", "2.0", "colour")).await;
    assert!(
        answer(unknown_type, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("role=\"alert\"")
    );

    // An edit that leaves the attributes as shown keeps the enumerations' own values.
    let custom = expect_json(
        app.post(
            &api(&demo, "schemas"),
            ADMIN_TOKEN,
            &json!({"name": "Tier", "version": "1.0", "attributes": [{"name": "Level", "type": "enumeration",
                "enum_values": [{"name": "Low", "value": "10"}, {"name": "High", "value": "50"}]}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let custom_id = custom["id"].as_str().unwrap();
    let renamed = eve
        .post(
            &format!("{schemas}/{custom_id}"),
            &[
                ("_csrf", csrf.as_str()),
                ("name", "Tiers"),
                ("version", "1.0"),
                ("attribute_name", "Level"),
                ("attribute_type", "enumeration"),
                ("attribute_choices", "Low, High"),
                ("attribute_name", ""),
                ("attribute_type", "text"),
                ("attribute_choices", ""),
            ],
            None,
        )
        .await;
    assert_eq!(location(&renamed), schemas);
    let after = api_json(&app, &format!("{}/{custom_id}", api(&demo, "schemas"))).await;
    assert_eq!(after["name"], "Tiers");
    assert_eq!(after["attributes"], custom["attributes"]);

    // Edit schema: the pop-up filled in with the schema; saved through the API's update.
    let id = ticket["id"].as_str().unwrap();
    let html = eve.page(&format!("{schemas}?edit={id}")).await;
    assert!(
        html.contains(">Edit schema</h2>")
            && html.contains(&format!("action=\"{schemas}/{id}\""))
            && html.contains("value=\"Ticket\"")
            && html.contains("value=\"Economy, Business\""),
        "{html}"
    );
    let edit = |form: Vec<(String, String)>| {
        let eve = &eve;
        let to = format!("{schemas}/{id}");
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            eve.post(&to, &form, None).await
        }
    };
    let saved = edit(rows("Ticket", "1.1", "date")).await;
    assert_eq!(location(&saved), schemas);
    let changed = api_json(&app, &format!("{}/{id}", api(&demo, "schemas"))).await;
    assert_eq!(changed["version"], "1.1");
    assert_eq!(
        changed["attributes"][0],
        json!({"name": "Seat", "type": "date"})
    );
    let html = answer(
        edit(rows("Ticket", "x", "date")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        html.contains(">Edit schema</h2>") && html.contains("role=\"alert\">`version`"),
        "{html}"
    );

    // Delete: a schema a definition uses stays, with the API's reason; an unused one goes.
    let used = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|schema| schema["name"] != "Ticket")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nor can it change: the API's 409 in the pop-up.
    let refused = eve
        .post(
            &format!("{schemas}/{used}"),
            &[
                ("_csrf", csrf.as_str()),
                ("name", "Renamed"),
                ("version", "9.0"),
                ("attribute_name", "A"),
                ("attribute_type", "text"),
            ],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::CONFLICT).await;
    assert!(
        html.contains("it cannot change") && html.contains(">Edit schema</h2>"),
        "{html}"
    );
    let refused = eve
        .post(
            &format!("{schemas}/{used}/delete"),
            &[("_csrf", &csrf)],
            None,
        )
        .await;
    assert!(
        answer(refused, StatusCode::CONFLICT)
            .await
            .contains("it cannot change")
    );
    let deleted = eve
        .post(&format!("{schemas}/{id}/delete"), &[("_csrf", &csrf)], None)
        .await;
    assert_eq!(location(&deleted), schemas);
    let gone = app
        .get(&format!("{}/{id}", api(&demo, "schemas")), ADMIN_TOKEN)
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.app.stop().await.unwrap();
}

async fn credential_definitions_are_added_and_edited_through_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let (eve, csrf) = editor(&app, &demo).await;
    let definitions = screen(&demo, "definitions");
    for (name, kind) in [
        ("issuer-secret", "sha_secret"),
        ("issuer-pair", "rsa_key_pair"),
    ] {
        let key = json!({"name": name, "type": kind});
        let created = app.post(&api(&demo, "keys"), ADMIN_TOKEN, &key).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }

    let html = eve.page(&definitions).await;
    contains_all(
        &html,
        &[
            ">Credential definitions<",
            ">Add credential definition<",
            "Self-attested",
            "Issued by the service",
            "Incoming issuers",
            "Check webhook",
            "Request Signature",
            "Bearer Token",
            &demo.membership,
        ],
    );
    // Only third parties' keys may issue from outside; every key may sign the check webhook.
    assert!(html.contains("name=\"issuer\" value=\"issuer-secret\""));
    assert!(!html.contains("name=\"issuer\" value=\"issuer-pair\""));
    assert!(html.contains("<option value=\"issuer-pair\""));

    let schemas = api_json(&app, &api(&demo, "schemas")).await;
    let schema = schemas["data"][0]["schema_id"].as_str().unwrap().to_owned();
    let form = |tag: &str, url: &str, key: &str, auth: &str| {
        vec![
            ("_csrf".to_owned(), csrf.clone()),
            ("schema".to_owned(), schema.clone()),
            ("other_schema".to_owned(), String::new()),
            ("tag".to_owned(), tag.to_owned()),
            ("attestation".to_owned(), "service".to_owned()),
            ("visibility".to_owned(), "private".to_owned()),
            ("issuer".to_owned(), "issuer-secret".to_owned()),
            (
                "source_ip_prefixes".to_owned(),
                "203.0.113.0/24\n198.51.100.0/24".to_owned(),
            ),
            ("webhook_url".to_owned(), url.to_owned()),
            ("webhook_key".to_owned(), key.to_owned()),
            ("webhook_auth".to_owned(), auth.to_owned()),
            ("webhook_timeout_ms".to_owned(), "5000".to_owned()),
        ]
    };
    let post = |path: String, form: Vec<(String, String)>| {
        let eve = &eve;
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            eve.post(&path, &form, None).await
        }
    };
    let check = "https://hooks.example.com/check";
    let added = post(
        definitions.clone(),
        form("partner", check, "default", "signature"),
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER, "{:?}", added);
    assert_eq!(location(&added), definitions);
    let list = api_json(&app, &api(&demo, "credential-definitions")).await;
    let created = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["tag"] == "partner")
        .expect("the API lists the new definition")
        .clone();
    assert_eq!(created["schema_id"], schema.as_str());
    assert_eq!(created["attestation"], "service");
    assert_eq!(created["public"], false);
    assert_eq!(created["issuers"], json!(["issuer-secret"]));
    assert_eq!(
        created["source_ip_prefixes"],
        json!(["203.0.113.0/24", "198.51.100.0/24"])
    );
    assert_eq!(
        created["check_webhook"],
        json!({"url": check, "key": "default", "auth": "signature", "timeout_ms": 5000})
    );
    let id = created["credential_id"].as_str().unwrap().to_owned();

    // The same tag again, and a SHA secret with request signatures: the API's messages.
    let taken = post(
        definitions.clone(),
        form("partner", check, "default", "signature"),
    )
    .await;
    assert!(
        answer(taken, StatusCode::CONFLICT)
            .await
            .contains("already has a definition")
    );
    let sha_signature = post(
        definitions.clone(),
        form("other", check, "issuer-secret", "signature"),
    )
    .await;
    let html = answer(sha_signature, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\">`check_webhook`")
            && html.contains("aria-labelledby=\"add-definition-title\" open")
            && html.contains("value=\"other\""),
        "{html}"
    );

    // Edit: the pop-up shows the definition; what may change changes.
    let edit_page = eve
        .page(&format!("{definitions}?edit={}", id.replace(':', "%3A")))
        .await;
    assert!(
        edit_page.contains("aria-labelledby=\"edit-definition-title\" open")
            && edit_page.contains("Edit credential definition")
            && edit_page.contains("name=\"issuer\" value=\"issuer-secret\" checked")
            && edit_page.contains(&format!("value=\"{check}\"")),
        "{edit_page}"
    );
    let edit = format!("{definitions}/{id}");
    let changes = vec![
        ("_csrf".to_owned(), csrf.clone()),
        ("visibility".to_owned(), "public".to_owned()),
        ("one_off".to_owned(), "true".to_owned()),
        ("source_ip_prefixes".to_owned(), String::new()),
        ("webhook_url".to_owned(), String::new()),
        ("webhook_key".to_owned(), "default".to_owned()),
        ("webhook_auth".to_owned(), "signature".to_owned()),
        ("webhook_timeout_ms".to_owned(), "10000".to_owned()),
    ];
    let saved = post(edit.clone(), changes).await;
    assert_eq!(location(&saved), definitions);
    let changed = api_json(
        &app,
        &format!("{}/{id}", api(&demo, "credential-definitions")),
    )
    .await;
    assert_eq!(changed["public"], true);
    assert_eq!(changed["one_off"], true);
    assert_eq!(changed["issuers"], json!([]));
    assert_eq!(changed["source_ip_prefixes"], json!([]));
    assert_eq!(changed["check_webhook"], Value::Null);
    assert_eq!(changed["tag"], "partner");

    // A refused edit comes back in the edit pop-up.
    let bad = vec![
        ("_csrf".to_owned(), csrf.clone()),
        ("visibility".to_owned(), "public".to_owned()),
        ("issuer".to_owned(), "issuer-pair".to_owned()),
        ("webhook_url".to_owned(), String::new()),
    ];
    let refused = post(edit, bad).await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\">`issuers[0]`")
            && html.contains("aria-labelledby=\"edit-definition-title\" open"),
        "{html}"
    );
    let missing = post(
        format!("{definitions}/{}:3:CL:999:nothing", demo.did),
        vec![("_csrf".to_owned(), csrf.clone())],
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.app.stop().await.unwrap();
}

async fn viewers_and_other_services_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let vic = Session::sign_in(&app, "vic").await;
    let keys_before = key_names(&app, &demo).await;
    let schemas_before = api_json(&app, &format!("{}?limit=500", api(&demo, "schemas"))).await;
    let definitions_before = api_json(&app, &api(&demo, "credential-definitions")).await;

    // Viewers see the lists, without the buttons or pop-ups, even when the address asks.
    for (section, button, dialog) in [
        ("keys", "Add key", "add-key"),
        ("schemas", "Add schema", "add-schema"),
        ("definitions", "Add credential definition", "add-definition"),
    ] {
        let html = vic
            .page(&format!("{}?edit=new", screen(&demo, section)))
            .await;
        assert!(
            !html.contains(button) && !html.contains(&format!("<dialog id=\"{dialog}\"")),
            "{section}: {html}"
        );
    }
    let html = vic.page(&screen(&demo, "definitions")).await;
    assert!(html.contains(&demo.membership) && !html.contains(">Edit<"));

    // Every form answers 403 to a viewer, and nothing changes.
    let csrf = vic.csrf(&screen(&demo, "keys")).await;
    let schema_id = schemas_before["data"][0]["id"].as_str().unwrap();
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            screen(&demo, "keys"),
            vec![("name", "sneaky"), ("type", "sha_secret")],
        ),
        (format!("{}/default/delete", screen(&demo, "keys")), vec![]),
        (
            screen(&demo, "schemas"),
            vec![
                ("name", "Sneaky"),
                ("version", "1.0"),
                ("attribute_name", "A"),
                ("attribute_type", "text"),
                ("attribute_choices", ""),
            ],
        ),
        (
            format!("{}/{schema_id}/delete", screen(&demo, "schemas")),
            vec![],
        ),
        (
            format!("{}/{schema_id}", screen(&demo, "schemas")),
            vec![("name", "Sneaky"), ("version", "1.0")],
        ),
        (
            screen(&demo, "definitions"),
            vec![
                (
                    "schema",
                    schemas_before["data"][0]["schema_id"].as_str().unwrap(),
                ),
                ("tag", "sneaky"),
                ("attestation", "self"),
            ],
        ),
        (
            format!("{}/{}", screen(&demo, "definitions"), demo.membership),
            vec![("visibility", "private"), ("one_off", "true")],
        ),
    ];
    for (path, fields) in &forms {
        let mut form = fields.clone();
        form.push(("_csrf", &csrf));
        let response = vic.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(key_names(&app, &demo).await, keys_before);
    assert_eq!(
        api_json(&app, &format!("{}?limit=500", api(&demo, "schemas"))).await,
        schemas_before
    );
    assert_eq!(
        api_json(&app, &api(&demo, "credential-definitions")).await,
        definitions_before
    );

    // An editor's forged CSRF token is refused too.
    let eve = crate::dashboard::editor(&app, &demo).await;
    let forged = eve
        .post(
            &screen(&demo, "keys"),
            &[
                ("_csrf", "forged"),
                ("name", "sneaky"),
                ("type", "sha_secret"),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(key_names(&app, &demo).await, keys_before);

    // Another service's person: 404 on pages and forms.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    let csrf = olga
        .csrf(&format!("/dashboard/services/{other}/keys"))
        .await;
    for section in ["keys", "schemas", "definitions"] {
        assert_eq!(
            olga.get(&screen(&demo, section)).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    for (path, fields) in &forms {
        let mut form = fields.clone();
        form.push(("_csrf", &csrf));
        let response = olga.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(key_names(&app, &demo).await, keys_before);
    app.app.stop().await.unwrap();
}
