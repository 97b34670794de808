//! Manifest files (docs/extensions.md, "Manifest files"): a vendor on one psi exports a version
//! of its extension; a club on another psi imports it, as a new extension and then as a new
//! version of it. The documents fit docs/extension-manifest.schema.json, which is checked on its
//! own too.

use futures_util::future::join_all;
use psi_server::domain::extension::Builtin;
use psi_server::domain::manifest_file::{FORMAT, ManifestFile};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::extensions::{Api, Service, id};
use crate::helpers::{Backend, expect_error, expect_json, spawn_app};

backend_tests!(
    a_version_exported_from_one_server_imports_into_another_with_the_same_manifest,
    an_import_refuses_other_formats_and_manifests_publishing_refuses_and_creates_nothing,
    only_versions_the_service_may_see_are_exported_and_never_a_built_in_one,
    concurrent_imports_of_one_name_publish_it_once_and_a_refused_one_leaves_nothing,
);

const SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/extension-manifest.schema.json"
));

/// The errors of `document` against the schema, as text.
fn schema_errors(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
    validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// A version of "CRM Sync" with every member a manifest may have.
fn manifest(version: &str) -> Value {
    json!({
        "version": version,
        "triggers": {
            "on_receive": {"url": "https://crm.example/receive", "params": {"source": "psi"},
                           "timeout_ms": 5000},
            "on_issue": {"url": "https://crm.example/issued",
                         "definitions": ["GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:badge"],
                         "schemas": ["GbzPqgnU4XsMs7xg9mYJW8:2:Badge:1.0"]},
            "on_finish": {"url": "https://crm.example/finished"},
        },
        "service_settings": [
            {"name": "api_key", "label": "API key", "type": "secret", "required": true,
             "help": "From the CRM's settings page"},
            {"name": "batch_size", "type": "number", "default": 10},
            {"name": "university_did", "type": "did"},
        ],
        "interaction_settings": [
            {"name": "list", "type": "select", "options": ["members", "guests"],
             "default": "members"},
            {"name": "notify", "type": "boolean", "default": false},
        ],
        "output": {"url": "https://crm.example/members",
                   "schema": {"name": "Member", "attributes": [{"name": "Level", "type": "text"}]}},
        "required_credentials": [
            {"credential_definition_id": "GbzPqgnU4XsMs7xg9mYJW8:3:CL:1:email"},
            {"schema_id": "GbzPqgnU4XsMs7xg9mYJW8:2:Diploma:1.0",
             "trusted_issuers": [{"setting": "university_did"}], "only_last": true},
        ],
    })
}

/// [`manifest`] as a manifest file of "CRM Sync".
fn document(version: &str) -> Value {
    let mut document = manifest(version);
    document["format"] = json!(FORMAT);
    document["name"] = json!("CRM Sync");
    document
}

/// A change to a document that makes it invalid.
type Change = fn(&mut Value);

/// `api`'s new extension "CRM Sync" (`visibility`) with version 1.0.0 of [`manifest`]; its id.
async fn published(api: Api<'_>, visibility: &str) -> String {
    let body = json!({"name": "CRM Sync", "description": "Members to the CRM",
                      "visibility": visibility});
    let extension =
        id(&expect_json(api.post("/extensions", body).await, StatusCode::CREATED).await);
    let path = format!("/extensions/{extension}/versions");
    let response = api.post(&path, manifest("1.0.0")).await;
    expect_json(response, StatusCode::CREATED).await;
    extension
}

/// The path of the export of `version` of `extension`.
fn export_path(extension: &str, version: &str) -> String {
    format!("/extensions/{extension}/versions/{version}/manifest")
}

/// A version's answer without its time: the manifest.
async fn stored_manifest(api: Api<'_>, extension: &str, version: &str) -> Value {
    let path = format!("/extensions/{extension}/versions/{version}");
    let mut read = expect_json(api.get(&path).await, StatusCode::OK).await;
    read.as_object_mut().unwrap().remove("created_at");
    read
}

/// The document without its name and description: the manifest.
fn manifest_of(document: &Value) -> Value {
    let mut manifest = document.clone();
    for member in ["format", "name", "description"] {
        manifest.as_object_mut().unwrap().remove(member);
    }
    manifest
}

async fn a_version_exported_from_one_server_imports_into_another_with_the_same_manifest(
    backend: Backend,
) {
    let (here, there) = (spawn_app(backend).await, spawn_app(backend).await);
    let vendor = Service::create(&here, "CRM Vendor").await;
    let club = Service::create(&there, "Club").await;
    let vendor = Api {
        app: &here,
        service: &vendor,
    };
    let club_api = Api {
        app: &there,
        service: &club,
    };
    let extension = published(vendor, "public").await;

    let document = expect_json(
        vendor.get(&export_path(&extension, "1.0.0")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(document["format"], FORMAT);
    assert_eq!(document["name"], "CRM Sync");
    assert_eq!(document["description"], "Members to the CRM");
    for left_out in [
        "id",
        "author_did",
        "key",
        "auth",
        "visibility",
        "created_at",
    ] {
        assert!(document.get(left_out).is_none(), "{left_out} in {document}");
    }
    assert_eq!(
        manifest_of(&document),
        stored_manifest(vendor, &extension, "1.0.0").await
    );
    assert_eq!(schema_errors(&document), Vec::<String>::new());

    // Into a service of another psi: a new private extension, signed with the club's own key.
    let imported = expect_json(
        club_api
            .post("/extensions/import", json!({"manifest": document}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let copy = &imported["extension"];
    assert_eq!(copy["name"], "CRM Sync");
    assert_eq!(copy["description"], "Members to the CRM");
    assert_eq!(copy["visibility"], "private");
    assert_eq!(copy["key"], "default");
    assert_eq!(copy["author_did"], club.did.as_str());
    assert_eq!(copy["versions"], json!(["1.0.0"]));
    assert_eq!(imported["version"]["version"], "1.0.0");
    let copy = id(copy);
    assert_eq!(
        stored_manifest(club_api, &copy, "1.0.0").await,
        manifest_of(&document)
    );
    let again = club_api.get(&export_path(&copy, "1.0.0")).await;
    assert_eq!(expect_json(again, StatusCode::OK).await, document);

    // The same version again is refused as publishing refuses it.
    let twice = club_api
        .post("/extensions/import", json!({"manifest": document}))
        .await;
    let message = expect_error(twice, StatusCode::CONFLICT, "conflict").await;
    assert!(message.contains("1.0.0"), "{message}");

    // A higher version goes to the extension of that name, which keeps its own settings.
    let mut next = document.clone();
    next["version"] = json!("1.1.0");
    next["description"] = json!("Ignored: the extension exists");
    let imported = expect_json(
        club_api
            .post(
                "/extensions/import",
                json!({"manifest": next, "visibility": "public"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(imported["extension"]["id"], copy.as_str());
    assert_eq!(imported["extension"]["visibility"], "private");
    assert_eq!(imported["extension"]["description"], "Members to the CRM");
    assert_eq!(imported["extension"]["versions"], json!(["1.0.0", "1.1.0"]));
    assert_eq!(imported["version"]["version"], "1.1.0");
    let listed = expect_json(club_api.get("/extensions").await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");

    // Another name makes another extension, with the key and visibility asked for.
    let mut other = document;
    other["name"] = json!("CRM Sync (EU)");
    let imported = expect_json(
        club_api
            .post(
                "/extensions/import",
                json!({"manifest": other, "visibility": "public", "key": "default",
                       "auth": "bearer"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(imported["extension"]["id"], copy.as_str());
    assert_eq!(imported["extension"]["visibility"], "public");
    assert_eq!(imported["extension"]["auth"], "bearer");
}

async fn an_import_refuses_other_formats_and_manifests_publishing_refuses_and_creates_nothing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let service = Service::create(&app, "Club").await;
    let api = Api {
        app: &app,
        service: &service,
    };
    let changed = |change: Change| {
        let mut document = document("1.0.0");
        change(&mut document);
        document
    };
    let cases: [(Value, &str); 7] = [
        (
            changed(|d| d["format"] = json!("psi-extension/2")),
            "`format` \"psi-extension/2\" is not one this psi reads",
        ),
        (
            changed(|d| drop(d.as_object_mut().unwrap().remove("format"))),
            "`format` is missing",
        ),
        (
            changed(|d| d["author_did"] = json!("GbzPqgnU4XsMs7xg9mYJW8")),
            "unknown field `author_did`",
        ),
        (
            changed(|d| d["triggers"]["on_finish"]["timeout_ms"] = json!("soon")),
            "`triggers.on_finish.timeout_ms`",
        ),
        (
            changed(|d| d["version"] = json!("1.0")),
            "`version` \"1.0\" is not MAJOR.MINOR.PATCH",
        ),
        (changed(|d| d["triggers"] = json!({})), "`triggers`"),
        (
            changed(|d| d["triggers"]["on_finish"]["url"] = json!("ftp://crm.example/finished")),
            "`triggers.on_finish.url`",
        ),
    ];
    for (document, problem) in cases {
        let response = api
            .post("/extensions/import", json!({"manifest": document}))
            .await;
        let message = expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(problem), "{problem:?} in {message:?}");
    }
    // The service's fields are checked before the extension is made.
    let response = api
        .post(
            "/extensions/import",
            json!({"manifest": document("1.0.0"), "key": "missing"}),
        )
        .await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("missing"), "{message}");
    let listed = expect_json(api.get("/extensions").await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
    // The name is free: a good import takes it.
    let response = api
        .post("/extensions/import", json!({"manifest": document("1.0.0")}))
        .await;
    let imported = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(imported["extension"]["name"], "CRM Sync");
}

/// Imports of one new name race: each makes the extension and publishes its version in one
/// transaction, so one wins, the others are refused whole, and the winner's extension stays
/// with its version.
async fn concurrent_imports_of_one_name_publish_it_once_and_a_refused_one_leaves_nothing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let service = Service::create(&app, "Club").await;
    let api = Api {
        app: &app,
        service: &service,
    };
    for round in 0..4 {
        let mut file = document("1.0.0");
        file["name"] = json!(format!("CRM Sync {round}"));
        let imports = (0..8).map(|_| {
            let body = json!({"manifest": file});
            async move { api.post("/extensions/import", body).await }
        });
        let mut won = Vec::new();
        for response in join_all(imports).await {
            if response.status() == StatusCode::CREATED {
                won.push(expect_json(response, StatusCode::CREATED).await);
            } else {
                expect_error(response, StatusCode::CONFLICT, "conflict").await;
            }
        }
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        let winner = id(&won[0]["extension"]);
        let read = api.get(&format!("/extensions/{winner}")).await;
        let read = expect_json(read, StatusCode::OK).await;
        assert_eq!(read["versions"], json!(["1.0.0"]), "round {round}");
    }
    let listed = expect_json(api.get("/extensions").await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(4), "{listed}");
}

async fn only_versions_the_service_may_see_are_exported_and_never_a_built_in_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (vendor, club) = (
        Service::create(&app, "CRM Vendor").await,
        Service::create(&app, "Club").await,
    );
    let vendor = Api {
        app: &app,
        service: &vendor,
    };
    let club = Api {
        app: &app,
        service: &club,
    };
    let private = published(vendor, "private").await;
    let response = club.get(&export_path(&private, "1.0.0")).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = vendor.get(&export_path(&private, "2.0.0")).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let path = format!("/extensions/{private}");
    let response = vendor.patch(&path, json!({"visibility": "public"})).await;
    expect_json(response, StatusCode::OK).await;
    let response = club.get(&export_path(&private, "1.0.0")).await;
    assert_eq!(
        expect_json(response, StatusCode::OK).await["format"],
        FORMAT
    );

    for builtin in Builtin::ALL {
        let response = club.get(&export_path(builtin.id(), "1.0.0")).await;
        let message = expect_error(response, StatusCode::CONFLICT, "conflict").await;
        assert!(
            message.contains("built-in extensions run only inside psi"),
            "{message}"
        );
    }
}

/// The schema is a valid draft 2020-12 schema, fits every built-in manifest's shape and refuses
/// what psi refuses in the document's shape.
#[test]
fn the_schema_takes_the_built_in_shapes_and_refuses_unknown_members() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::draft202012::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    for builtin in Builtin::ALL {
        let file = ManifestFile::new(
            builtin.name().to_owned(),
            builtin.description().to_owned(),
            builtin.manifest(),
        );
        let document = serde_json::to_value(&file).unwrap();
        assert_eq!(schema_errors(&document), Vec::<String>::new(), "{document}");
    }

    let document = document("1.0.0");
    assert_eq!(schema_errors(&document), Vec::<String>::new());
    let refused: [(&str, Change); 8] = [
        ("an unknown member", |d| d["id"] = json!("x")),
        ("an unknown trigger member", |d| {
            d["triggers"]["on_finish"]["method"] = json!("PUT")
        }),
        ("an unknown trigger", |d| {
            d["triggers"]["on_start"] = json!({"url": "https://crm.example/"})
        }),
        ("another format", |d| d["format"] = json!("psi-extension/2")),
        ("a filter on on_finish", |d| {
            d["triggers"]["on_finish"]["schemas"] = json!(["GbzPqgnU4XsMs7xg9mYJW8:2:B:1.0"])
        }),
        ("an unknown setting type", |d| {
            d["service_settings"][0]["type"] = json!("password")
        }),
        ("a select without options", |d| {
            d["interaction_settings"][0]
                .as_object_mut()
                .unwrap()
                .remove("options");
        }),
        ("a secret with a default", |d| {
            d["service_settings"][0]["default"] = json!("x")
        }),
    ];
    for (what, change) in refused {
        let mut changed = document.clone();
        change(&mut changed);
        assert!(!schema_errors(&changed).is_empty(), "{what}: {changed}");
        // psi refuses each too, in reading the document or in checking the manifest.
        let read = ManifestFile::parse(changed);
        let checked = read.map(|file| {
            file.manifest
                .check(&psi_outbound::OutboundPolicy::default())
                .map(drop)
        });
        assert!(!matches!(checked, Ok(Ok(()))), "{what}: psi takes it");
    }
}
