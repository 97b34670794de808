//! An interaction's page over real HTTP: tab Details with the guide's labels, the Web hook set
//! through Edit web hook (and the SHA-secret rule the API enforces), required credentials edited
//! (Pre-fill from QR, Use external verification, Only last), added from this or another service
//! and removed, details saved; every effect seen through the management API, viewers and other
//! services' people changing nothing.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dashboard::{Session, contains_all, editor, location, person};
use crate::demo_fixture::{Demo, create_interaction, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::db::operators::Role;

backend_tests!(
    the_details_tab_shows_the_interaction_with_the_guides_labels,
    the_web_hook_is_set_with_the_sha_secret_rule_and_removed,
    required_credentials_are_edited_added_and_removed,
    details_are_saved_and_refusals_come_back_in_the_form,
    instances_are_added_edited_made_default_and_deleted,
    another_services_public_definitions_are_offered_by_name,
    viewers_and_other_services_change_nothing,
);

/// The interaction's instances as the management API lists them: (id, parameters, default).
async fn instances(app: &TestApp, demo: &Demo) -> Vec<(String, Value, bool)> {
    let page = expect_json(
        app.get(
            &format!("{}/instances", demo.interaction_path()),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["parameters"].clone(),
                i["is_default"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn page_path(demo: &Demo) -> String {
    format!(
        "/dashboard/services/{}/interactions/{}",
        demo.did, demo.interaction
    )
}

/// The interaction as the management API shows it.
async fn read(app: &TestApp, demo: &Demo) -> Value {
    expect_json(
        app.get(&demo.interaction_path(), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await
}

/// Posts `form` (with the page's CSRF token) to `rest` under the interaction's page.
async fn submit(session: &Session<'_>, demo: &Demo, rest: &str, form: &[(&str, &str)]) -> Response {
    let csrf = session.csrf(&page_path(demo)).await;
    let mut fields = vec![("_csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    session
        .post(&format!("{}{rest}", page_path(demo)), &fields, None)
        .await
}

/// A form the API refused comes back with its message in an alert, the pop-up open.
async fn refused(response: Response, status: StatusCode, dialog: &str, message: &str) -> String {
    assert_eq!(response.status(), status, "{response:?}");
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("<dialog id=\"{dialog}\"")) && html.contains("role=\"alert\""),
        "{html}"
    );
    let at = html.find(&format!("<dialog id=\"{dialog}\"")).unwrap();
    let opening = html[at..].split('>').next().unwrap();
    assert!(opening.ends_with(" open"), "{opening}");
    assert!(html.contains(message), "{message} in {html}");
    html
}

fn saved(response: &Response, demo: &Demo, what: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{response:?}");
    assert_eq!(
        location(response),
        format!("{}?saved={what}", page_path(demo))
    );
}

/// Posts `form` as [`submit`] does and expects it [`saved`]; returns the redirect.
async fn save(
    session: &Session<'_>,
    demo: &Demo,
    rest: &str,
    form: &[(&str, &str)],
    what: &str,
) -> Response {
    let response = submit(session, demo, rest, form).await;
    saved(&response, demo, what);
    response
}

/// Posts `form` as [`submit`] does and expects it [`refused`]; returns the page.
async fn refuse(
    session: &Session<'_>,
    demo: &Demo,
    rest: &str,
    form: &[(&str, &str)],
    status: StatusCode,
    dialog: &str,
    message: &str,
) -> String {
    refused(
        submit(session, demo, rest, form).await,
        status,
        dialog,
        message,
    )
    .await
}

async fn the_details_tab_shows_the_interaction_with_the_guides_labels(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;

    // The list links each interaction to its page.
    let list = eve
        .page(&format!("/dashboard/services/{}/interactions", demo.did))
        .await;
    assert!(
        list.contains(&format!("href=\"{}\"", page_path(&demo))),
        "{list}"
    );

    let html = eve.page(&page_path(&demo)).await;
    contains_all(
        &html,
        &[
            ">Join the demo club</h1>",
            "aria-current=\"page\">Details</a>",
            ">Extensions</a>",
            ">Events</a>",
            ">Web hook</h2>",
            ">Edit web hook</a>",
            ">Edit web hook</h2>",
            ">Required credentials</h2>",
            ">Add</a>",
            ">Edit required credential</h2>",
            "> Pre-fill from QR</label>",
            "> Use external verification</label>",
            "> Only last</label>",
            ">Issued credentials</h2>",
            "> Request Signature</label>",
            "> Bearer Token</label>",
            "A SHA secret works only with Bearer Token",
            "> QR code</label>",
            "Demo Member 1.0",
            "Demo Membership 1.0",
            "Member number (number)",
            "Level (one of Bronze, Silver, Gold)",
            "Demo service <span class=\"muted\">(self-attested)</span>",
            "<li class=\"badge\">Pre-fill from QR</li>",
            "<dd>QR code</dd>",
            "No web hook",
            "<option value=\"default\" selected>",
        ],
    );
    assert!(html.contains(&demo.member) && html.contains(&demo.membership));
    assert!(html.contains(&demo.instance), "the default instance");
    assert!(html.contains(&format!("{}/extensions\"", page_path(&demo))));
    assert!(html.contains(&format!(
        "/dashboard/services/{}/events?interaction={}",
        demo.did, demo.interaction
    )));
    // No pop-up is open until the address asks for one (as the link does without script).
    assert!(!html.contains(" open>"), "{html}");
    let open = eve
        .page(&format!("{}?edit=edit-webhook", page_path(&demo)))
        .await;
    assert!(
        open.contains("<dialog id=\"edit-webhook\" aria-labelledby=\"edit-webhook-title\" open>")
    );

    // An extension's requirement is shown as added by it, and not removable here.
    let installations = format!("/api/v1/services/{}/installations", demo.did);
    let installation = expect_json(
        app.post(
            &installations,
            ADMIN_TOKEN,
            &json!({"extension_id": "psissioauth"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let attached = expect_json(
        app.post(
            &format!("{}/extensions", demo.interaction_path()),
            ADMIN_TOKEN,
            &json!({"installation_id": installation["id"],
                    "settings": {"client_id": "shop-1.example", "claims": "Name = name"}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let added = attached["oauth"]["credential_definition_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{attached}"));
    let name = installation["extension_name"].as_str().unwrap();
    let html = eve.page(&page_path(&demo)).await;
    assert!(
        html.contains(&format!("<li class=\"badge added\">Added by {name}</li>")),
        "{html}"
    );
    assert!(
        !html.contains(&format!("name=\"credential_id\" value=\"{added}\"")),
        "no form names the extension's requirement: {html}"
    );
    // Changing the interaction's own requirements leaves the extension's.
    save(
        &eve,
        &demo,
        "/required/edit",
        &[("credential_id", &demo.member), ("only_last", "on")],
        "required",
    )
    .await;
    let required = read(&app, &demo).await["required_credentials"].clone();
    assert_eq!(required.as_array().unwrap().len(), 2, "{required}");
    assert!(required.to_string().contains(added), "{required}");
    app.app.stop().await.unwrap();
}

async fn the_web_hook_is_set_with_the_sha_secret_rule_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    expect_json(
        app.post(
            &format!("/api/v1/services/{}/keys", demo.did),
            ADMIN_TOKEN,
            &json!({"name": "hook-secret", "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let html = eve.page(&page_path(&demo)).await;
    assert!(
        html.contains(
            "<option value=\"hook-secret\">hook-secret (SHA secret: Bearer Token only)</option>"
        ),
        "{html}"
    );
    let url = "https://hooks.example.com/psi";

    // A SHA secret with Request Signature: the API refuses it, the form says why.
    let html = refuse(
        &eve,
        &demo,
        "/webhook",
        &[("url", url), ("key", "hook-secret"), ("auth", "signature")],
        StatusCode::UNPROCESSABLE_ENTITY,
        "edit-webhook",
        "SHA secrets work with `bearer` or `standard_webhooks` auth",
    )
    .await;
    assert!(
        html.contains("<option value=\"hook-secret\" selected>")
            && html.contains(&format!("value=\"{url}\"")),
        "the form keeps what was sent: {html}"
    );
    assert!(read(&app, &demo).await["webhook"].is_null());

    // With Bearer Token it is taken.
    let response = save(
        &eve,
        &demo,
        "/webhook",
        &[("url", url), ("key", "hook-secret"), ("auth", "bearer")],
        "webhook",
    )
    .await;
    let webhook = read(&app, &demo).await["webhook"].clone();
    assert_eq!(webhook["url"], url);
    assert_eq!(webhook["key"], "hook-secret");
    assert_eq!(webhook["auth"], "bearer");
    let html = eve.page(location(&response)).await;
    assert!(
        html.contains("The web hook is saved.")
            && html.contains(&format!("<dd>{url}</dd>"))
            && html.contains("<dd>Bearer Token</dd>"),
        "{html}"
    );

    // The default key with Request Signature; the timeout stays.
    expect_json(
        app.patch(
            &demo.interaction_path(),
            ADMIN_TOKEN,
            &json!({"webhook": {"url": url, "key": "hook-secret", "auth": "bearer", "timeout_ms": 2500}}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    save(
        &eve,
        &demo,
        "/webhook",
        &[("url", url), ("key", "default"), ("auth", "signature")],
        "webhook",
    )
    .await;
    let webhook = read(&app, &demo).await["webhook"].clone();
    assert_eq!(webhook["key"], "default");
    assert_eq!(webhook["auth"], "signature");
    assert_eq!(webhook["timeout_ms"], 2500);

    // A key the service lacks and a URL that is none: the API's messages.
    refuse(
        &eve,
        &demo,
        "/webhook",
        &[("url", url), ("key", "nope"), ("auth", "signature")],
        StatusCode::UNPROCESSABLE_ENTITY,
        "edit-webhook",
        "the service has no key named &#34;nope&#34;",
    )
    .await;
    refuse(
        &eve,
        &demo,
        "/webhook",
        &[("url", "not a url"), ("key", "default"), ("auth", "bearer")],
        StatusCode::UNPROCESSABLE_ENTITY,
        "edit-webhook",
        "must be an absolute http or https URL",
    )
    .await;

    // Remove web hook.
    save(&eve, &demo, "/webhook/remove", &[], "webhook-removed").await;
    assert!(read(&app, &demo).await["webhook"].is_null());
    app.app.stop().await.unwrap();
}

async fn required_credentials_are_edited_added_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let flags = |required: &Value, id: &str| -> (bool, bool, bool) {
        let entry = required["required_credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["credential_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {required}"))
            .clone();
        (
            entry["prefill_from_qr"].as_bool().unwrap(),
            entry["external_verification"].as_bool().unwrap(),
            entry["only_last"].as_bool().unwrap(),
        )
    };

    // Edit required credential: Only last on, Pre-fill from QR kept.
    save(
        &eve,
        &demo,
        "/required/edit",
        &[
            ("credential_id", &demo.member),
            ("prefill_from_qr", "on"),
            ("only_last", "on"),
        ],
        "required",
    )
    .await;
    assert_eq!(
        flags(&read(&app, &demo).await, &demo.member),
        (true, false, true)
    );
    // Pre-fill from QR off.
    save(
        &eve,
        &demo,
        "/required/edit",
        &[("credential_id", &demo.member)],
        "required",
    )
    .await;
    assert_eq!(
        flags(&read(&app, &demo).await, &demo.member),
        (false, false, false)
    );

    // External verification needs the definition's check webhook: the API says so.
    let html = refuse(
        &eve,
        &demo,
        "/required/edit",
        &[
            ("credential_id", &demo.member),
            ("external_verification", "on"),
        ],
        StatusCode::UNPROCESSABLE_ENTITY,
        "required-0",
        "has no check webhook",
    )
    .await;
    assert!(
        html.contains(
            "name=\"external_verification\" aria-describedby=\"required-0-external\" checked"
        ),
        "the form keeps what was sent: {html}"
    );

    // Add the service's own service-attested definition; it cannot be pre-filled.
    save(
        &eve,
        &demo,
        "/required",
        &[("credential_id", &demo.membership)],
        "added",
    )
    .await;
    assert_eq!(
        flags(&read(&app, &demo).await, &demo.membership),
        (false, false, false)
    );
    refuse(
        &eve,
        &demo,
        "/required/edit",
        &[
            ("credential_id", &demo.membership),
            ("prefill_from_qr", "on"),
        ],
        StatusCode::UNPROCESSABLE_ENTITY,
        "required-1",
        "only self-attested credentials can be pre-filled",
    )
    .await;
    // Added twice: refused.
    refuse(
        &eve,
        &demo,
        "/required",
        &[("credential_id", &demo.membership)],
        StatusCode::UNPROCESSABLE_ENTITY,
        "add-required",
        "is listed twice",
    )
    .await;

    // Another service's public definition, by id; a private one is refused.
    let other = app.create_service("Other club").await;
    let api = format!("/api/v1/services/{other}");
    let schema = expect_json(
        app.post(
            &format!("{api}/schemas"),
            ADMIN_TOKEN,
            &json!({"name": "Guest", "version": "1.0", "attributes": [{"name": "Name", "type": "text"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let definition = |tag: &str, public: bool| json!({"schema": schema["id"], "tag": tag, "attestation": "self", "public": public});
    let mut ids = Vec::new();
    for (tag, public) in [("guest", true), ("secret", false)] {
        let created = expect_json(
            app.post(
                &format!("{api}/credential-definitions"),
                ADMIN_TOKEN,
                &definition(tag, public),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(created["credential_id"].as_str().unwrap().to_owned());
    }
    save(
        &eve,
        &demo,
        "/required",
        &[("credential_id", ""), ("other", &ids[0])],
        "added",
    )
    .await;
    assert_eq!(
        flags(&read(&app, &demo).await, &ids[0]),
        (false, false, false)
    );
    let html = eve.page(&page_path(&demo)).await;
    assert!(
        html.contains("Guest 1.0")
            && html.contains("Other club <span class=\"muted\">(self-attested)</span>"),
        "{html}"
    );
    refuse(
        &eve,
        &demo,
        "/required",
        &[("other", &ids[1])],
        StatusCode::UNPROCESSABLE_ENTITY,
        "add-required",
        "is a private credential definition",
    )
    .await;

    // Remove one.
    save(
        &eve,
        &demo,
        "/required/remove",
        &[("credential_id", &demo.membership)],
        "removed",
    )
    .await;
    let required = read(&app, &demo).await["required_credentials"].clone();
    let listed: Vec<&str> = required
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["credential_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [demo.member.as_str(), ids[0].as_str()]);
    // One it does not require: nothing to remove.
    let response = submit(
        &eve,
        &demo,
        "/required/remove",
        &[("credential_id", &demo.membership)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.app.stop().await.unwrap();
}

async fn details_are_saved_and_refusals_come_back_in_the_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    save(
        &eve,
        &demo,
        "/details",
        &[
            ("name", "Join the club"),
            ("description", "Members only"),
            ("media_qr", "on"),
            ("media_push", "on"),
            ("completion_url", "https://club.example/welcome"),
        ],
        "details",
    )
    .await;
    let interaction = read(&app, &demo).await;
    assert_eq!(interaction["name"], "Join the club");
    assert_eq!(interaction["description"], "Members only");
    assert_eq!(interaction["media"], json!(["QR", "PUSH"]));
    assert_eq!(
        interaction["completion_url"],
        "https://club.example/welcome"
    );

    // Only QR code, and no completion URL.
    save(
        &eve,
        &demo,
        "/details",
        &[
            ("name", "Join the club"),
            ("media_qr", "on"),
            ("completion_url", ""),
        ],
        "details",
    )
    .await;
    let interaction = read(&app, &demo).await;
    assert_eq!(interaction["media"], json!(["QR"]));
    assert!(interaction["completion_url"].is_null());
    assert_eq!(interaction["description"], "");

    // A name taken: 409 with the API's message; markup in a name: 422.
    create_interaction(&app, &demo.did, &json!({"name": "Another"})).await;
    let html = refuse(
        &eve,
        &demo,
        "/details",
        &[("name", "Another"), ("media_qr", "on")],
        StatusCode::CONFLICT,
        "edit-details",
        "an interaction named &#34;Another&#34; already exists",
    )
    .await;
    assert!(html.contains("value=\"Another\""), "{html}");
    let html = refuse(
        &eve,
        &demo,
        "/details",
        &[("name", "<b>x</b>")],
        StatusCode::UNPROCESSABLE_ENTITY,
        "edit-details",
        "`name`",
    )
    .await;
    assert!(!html.contains("<b>x</b>"), "escaped: {html}");
    assert_eq!(read(&app, &demo).await["name"], "Join the club");
    app.app.stop().await.unwrap();
}

async fn instances_are_added_edited_made_default_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let first = instances(&app, &demo).await;
    assert_eq!(first.len(), 1);
    let default_id = first[0].0.clone();
    let html = eve.page(&page_path(&demo)).await;
    contains_all(
        &html,
        &[
            ">Add instance</a>",
            ">Add instance</h2>",
            ">Edit instance</h2>",
            "> Default instance</label>",
        ],
    );
    // The default instance has no Delete button.
    assert!(!html.contains("/instances/delete"), "{html}");

    // Add one with two parameters (blank lines and spaces around `=` are fine).
    save(
        &eve,
        &demo,
        "/instances",
        &[("parameters", "city = Berlin\n\n  branch=North  \n")],
        "instance-added",
    )
    .await;
    let listed = instances(&app, &demo).await;
    assert_eq!(listed.len(), 2);
    let added = listed.iter().find(|i| i.0 != default_id).unwrap().clone();
    assert_eq!(
        added.1,
        json!([{"name": "city", "value": "Berlin"}, {"name": "branch", "value": "North"}])
    );
    assert!(!added.2);
    let html = eve.page(&page_path(&demo)).await;
    assert!(
        html.contains("city = Berlin\nbranch = North</textarea>"),
        "{html}"
    );
    let dialog = instance_dialog(&html, &added.0);

    // A line without `=` and a name used twice: 422, the dialog open with what was sent.
    let html = refuse(
        &eve,
        &demo,
        "/instances",
        &[("parameters", "city = Paris\njust text")],
        StatusCode::UNPROCESSABLE_ENTITY,
        "add-instance",
        "line 2: write each parameter as name = value",
    )
    .await;
    assert!(
        html.contains("city = Paris\njust text</textarea>"),
        "{html}"
    );
    refuse(
        &eve,
        &demo,
        "/instances/edit",
        &[("instance_id", &added.0), ("parameters", "a = 1\na = 2")],
        StatusCode::UNPROCESSABLE_ENTITY,
        &dialog,
        "a = 1\na = 2</textarea>",
    )
    .await;
    assert_eq!(instances(&app, &demo).await.len(), 2);

    // Edit it and make it the default: the mark moves.
    save(
        &eve,
        &demo,
        "/instances/edit",
        &[
            ("instance_id", &added.0),
            ("parameters", "city = Paris"),
            ("is_default", "on"),
        ],
        "instance",
    )
    .await;
    let listed = instances(&app, &demo).await;
    let now = listed.iter().find(|i| i.0 == added.0).unwrap();
    assert_eq!(now.1, json!([{"name": "city", "value": "Paris"}]));
    assert!(now.2);
    assert!(!listed.iter().find(|i| i.0 == default_id).unwrap().2);

    // The default cannot be unticked nor deleted: the API's 409, shown.
    let dialog = instance_dialog(&eve.page(&page_path(&demo)).await, &added.0);
    refuse(
        &eve,
        &demo,
        "/instances/edit",
        &[("instance_id", &added.0), ("parameters", "city = Paris")],
        StatusCode::CONFLICT,
        &dialog,
        "make another instance the default instead",
    )
    .await;
    let html = refuse_page(
        submit(
            &eve,
            &demo,
            "/instances/delete",
            &[("instance_id", &added.0)],
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        html.contains("the default instance cannot be deleted"),
        "{html}"
    );

    // The old default, no longer one, is deleted; an unknown instance is 404.
    save(
        &eve,
        &demo,
        "/instances/delete",
        &[("instance_id", &default_id)],
        "instance-deleted",
    )
    .await;
    let listed = instances(&app, &demo).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, added.0);
    let response = submit(&eve, &demo, "/instances/delete", &[("instance_id", "nope")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Parameters the page cannot write back exactly (a name with `=`): ticking Default instance
    // sends them as shown, and they stay as they were.
    let odd = expect_json(
        app.post(
            &format!("{}/instances", demo.interaction_path()),
            ADMIN_TOKEN,
            &json!({"parameters": [{"name": "a=b", "value": "v"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let odd_id = odd["id"].as_str().unwrap();
    save(
        &eve,
        &demo,
        "/instances/edit",
        &[
            ("instance_id", odd_id),
            ("parameters", "a=b = v\r\n"),
            ("is_default", "on"),
        ],
        "instance",
    )
    .await;
    let now = instances(&app, &demo).await;
    let odd = now.iter().find(|i| i.0 == odd_id).unwrap();
    assert_eq!(odd.1, json!([{"name": "a=b", "value": "v"}]));
    assert!(odd.2);
    app.app.stop().await.unwrap();
}

/// The element id of the **Edit instance** pop-up of instance `id`, as its row links it.
fn instance_dialog(html: &str, id: &str) -> String {
    html.split("href=\"?edit=")
        .skip(1)
        .find_map(|part| {
            let (dialog, rest) = part.split_once('"')?;
            rest.starts_with(&format!("><code>{id}</code>"))
                .then(|| dialog.to_owned())
        })
        .unwrap()
}

/// A page answered with `status` (a refusal shown outside any pop-up).
async fn refuse_page(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{response:?}");
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    html
}

async fn another_services_public_definitions_are_offered_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let other = app.create_service("Guest house").await;
    let api = format!("/api/v1/services/{other}");
    let schema = expect_json(
        app.post(
            &format!("{api}/schemas"),
            ADMIN_TOKEN,
            &json!({"name": "Stay", "version": "2.1", "attributes": [{"name": "Room", "type": "text"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mut ids = Vec::new();
    for (tag, public) in [("visit", true), ("staff", false)] {
        let created = expect_json(
            app.post(
                &format!("{api}/credential-definitions"),
                ADMIN_TOKEN,
                &json!({"schema": schema["id"], "tag": tag, "attestation": "service", "public": public}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(created["credential_id"].as_str().unwrap().to_owned());
    }
    // The public one is offered under its service's name; the private one is not; nor are the
    // service's own definitions in that list.
    let html = eve
        .page(&format!("{}?edit=add-required", page_path(&demo)))
        .await;
    let at = html.find("id=\"add-other\"").unwrap();
    let list = &html[at..at + html[at..].find("</select>").unwrap()];
    assert!(
        list.contains(&format!(
            "<optgroup label=\"Guest house\">\n        <option value=\"{}\">Stay 2.1 · visit (service-attested)</option>",
            ids[0]
        )),
        "{list}"
    );
    assert!(!list.contains(&ids[1]), "{list}");
    assert!(!list.contains(&demo.did), "{list}");

    // Chosen from the list, it is required, and no longer offered.
    save(
        &eve,
        &demo,
        "/required",
        &[("credential_id", ""), ("other", &ids[0])],
        "added",
    )
    .await;
    let required = read(&app, &demo).await["required_credentials"].clone();
    assert!(
        required
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["credential_id"] == ids[0].as_str()),
        "{required}"
    );
    let html = eve
        .page(&format!("{}?edit=add-required", page_path(&demo)))
        .await;
    let at = html.find("id=\"add-other\"").unwrap();
    let list = &html[at..at + html[at..].find("</select>").unwrap()];
    assert!(!list.contains(&ids[0]), "{list}");
    app.app.stop().await.unwrap();
}

async fn viewers_and_other_services_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let before = read(&app, &demo).await;
    let instances_before = instances(&app, &demo).await;
    let default_instance = instances_before[0].0.clone();
    let forms: [(&str, Vec<(&str, &str)>); 9] = [
        ("/details", vec![("name", "Mine now"), ("media_qr", "on")]),
        (
            "/webhook",
            vec![
                ("url", "https://hooks.example.com/x"),
                ("key", "default"),
                ("auth", "signature"),
            ],
        ),
        ("/webhook/remove", vec![]),
        ("/required", vec![("credential_id", &demo.membership)]),
        (
            "/required/edit",
            vec![("credential_id", &demo.member), ("only_last", "on")],
        ),
        ("/required/remove", vec![("credential_id", &demo.member)]),
        ("/instances", vec![("parameters", "city = Rome")]),
        (
            "/instances/edit",
            vec![
                ("instance_id", &default_instance),
                ("parameters", "city = Rome"),
            ],
        ),
        (
            "/instances/delete",
            vec![("instance_id", &default_instance)],
        ),
    ];

    // A viewer sees the facts, no button, and every form answers 403.
    let vic = Session::sign_in(&app, "vic").await;
    let html = vic.page(&page_path(&demo)).await;
    assert!(
        html.contains(">Web hook</h2>") && html.contains("Demo Member 1.0"),
        "{html}"
    );
    for button in [
        "Edit web hook",
        "Edit details",
        "Add instance",
        "/instances",
        ">Add<",
        "Remove",
        "<dialog",
        "/required/remove",
    ] {
        assert!(!html.contains(button), "{button} in {html}");
    }
    assert_eq!(
        html.matches("name=\"_csrf\"").count(),
        1,
        "only Sign out: {html}"
    );
    for (rest, form) in &forms {
        let response = submit(&vic, &demo, rest, form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{rest}");
    }
    assert_eq!(read(&app, &demo).await["updated_at"], before["updated_at"]);

    // A forged CSRF token: 403.
    let eve = editor(&app, &demo).await;
    for (rest, form) in &forms {
        let mut fields = vec![("_csrf", "forged")];
        fields.extend_from_slice(form);
        let response = eve
            .post(&format!("{}{rest}", page_path(&demo)), &fields, None)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{rest}");
    }
    assert_eq!(read(&app, &demo).await["updated_at"], before["updated_at"]);

    // Another service's person: 404 for the page and every form; an unknown interaction: 404.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    assert_eq!(
        olga.get(&page_path(&demo)).await.status(),
        StatusCode::NOT_FOUND
    );
    let csrf = olga
        .csrf(&format!("/dashboard/services/{other}/interactions"))
        .await;
    for (rest, form) in &forms {
        let mut fields = vec![("_csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let response = olga
            .post(&format!("{}{rest}", page_path(&demo)), &fields, None)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{rest}");
    }
    assert_eq!(read(&app, &demo).await["updated_at"], before["updated_at"]);
    assert_eq!(instances(&app, &demo).await, instances_before);
    let unknown = format!("/dashboard/services/{}/interactions/nope", demo.did);
    assert_eq!(eve.get(&unknown).await.status(), StatusCode::NOT_FOUND);
    app.app.stop().await.unwrap();
}
