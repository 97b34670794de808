//! The dashboard's **Extensions** screen over real HTTP: the guide's walkthrough "install a public
//! extension and add it to an interaction with its settings" (Install extension → Public
//! Extensions → Install → settings and what data goes where → Install; the interaction's
//! Extensions tab → Select → Extension Settings → Add → Submit), uninstalling while attached,
//! the Extension Editor, and viewers, forged forms and other services changing nothing. Each
//! effect is read back through the management API.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::backend_tests;
use crate::dashboard::{Session, answer, contains_all, editor, location, person};
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};
use psi_server::db::operators::Role;

backend_tests!(
    a_public_extension_is_installed_and_added_to_an_interaction_with_its_settings,
    uninstalling_while_attached_shows_why_and_offers_to_detach,
    the_extension_editor_authors_versions_publishes_and_its_credentials_are_added,
    viewers_forged_forms_and_other_services_change_nothing,
);

const CHAT_HOOK: &str = "https://chat.example/hooks/psi";

fn extensions(demo: &Demo) -> String {
    format!("/dashboard/services/{}/extensions", demo.did)
}

fn tab(demo: &Demo) -> String {
    format!(
        "/dashboard/services/{}/interactions/{}/extensions",
        demo.did, demo.interaction
    )
}

async fn api(app: &TestApp, demo: &Demo, rest: &str) -> Value {
    let path = format!("/api/v1/services/{}{rest}", demo.did);
    expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await
}

async fn installations(app: &TestApp, demo: &Demo) -> Vec<Value> {
    api(app, demo, "/installations").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// The installation of `extension_id`, as the API shows it.
async fn installation(app: &TestApp, demo: &Demo, extension_id: &str) -> Option<Value> {
    installations(app, demo)
        .await
        .into_iter()
        .find(|i| i["extension_id"] == extension_id)
}

async fn attachments(app: &TestApp, demo: &Demo) -> Vec<Value> {
    let rest = format!("/interactions/{}/extensions", demo.interaction);
    api(app, demo, &rest).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// Installs the built-in allow list with `session` and attaches it to the demo interaction
/// (attribute `Name`); returns the installation's id and the answer to attaching.
async fn attach_allow_list(
    app: &TestApp,
    demo: &Demo,
    session: &Session<'_>,
    csrf: &str,
) -> (String, Response) {
    let install = format!("{}/install/psiallowlist", extensions(demo));
    session.post(&install, &[("_csrf", csrf)], None).await;
    let id = installation(app, demo, "psiallowlist").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attached = session
        .post(
            &tab(demo),
            &[
                ("_csrf", csrf),
                ("installation_id", &id),
                ("setting.attribute", "Name"),
            ],
            None,
        )
        .await;
    (id, attached)
}

async fn a_public_extension_is_installed_and_added_to_an_interaction_with_its_settings(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;

    // Extensions → Install extension → Public Extensions, the built-in ones among them.
    let list = eve.page(&extensions(&demo)).await;
    assert!(
        list.contains(">Install extension<") && list.contains("has no extensions installed"),
        "{list}"
    );
    let install = format!("{}/install", extensions(&demo));
    let catalogue = eve.page(&install).await;
    contains_all(
        &catalogue,
        &[
            ">Public Extensions<",
            ">My Extensions<",
            "Chat notification",
            "Allow list check",
        ],
    );
    assert!(catalogue.contains(&format!("{install}/psichatnotification\">Install<")));
    let mine = eve.page(&format!("{install}?tab=mine")).await;
    assert!(mine.contains("has authored no extension yet"), "{mine}");

    // Install: the service-level settings, and what data goes where.
    let chat = format!("{install}/psichatnotification");
    let form = eve.page(&chat).await;
    contains_all(
        &form,
        &[
            "Incoming webhook URL",
            "type=\"url\"",
            "What data goes where",
            "When an event completes or fails (on_finish)",
            "the URL of the setting",
            ">Install</button>",
        ],
    );
    let csrf = eve.csrf(&chat).await;
    // The API refuses a missing required setting; the form says why and keeps what was typed.
    let refused = eve.post(&chat, &[("_csrf", &csrf)], None).await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("webhook_url")
            && html.contains("is required"),
        "{html}"
    );
    assert!(
        installation(&app, &demo, "psichatnotification")
            .await
            .is_none()
    );
    let done = eve
        .post(
            &chat,
            &[("_csrf", &csrf), ("setting.webhook_url", CHAT_HOOK)],
            None,
        )
        .await;
    assert_eq!(
        location(&done),
        format!("{}?done=installed", extensions(&demo))
    );
    let installed = installation(&app, &demo, "psichatnotification")
        .await
        .unwrap();
    assert_eq!(installed["settings"]["webhook_url"], CHAT_HOOK);
    assert_eq!(installed["enabled"], true);

    // The allow list has only interaction-level settings.
    let allow = format!("{install}/psiallowlist");
    let form = eve.page(&allow).await;
    assert!(form.contains("no service-level settings"), "{form}");
    let done = eve.post(&allow, &[("_csrf", &csrf)], None).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let allow_list = installation(&app, &demo, "psiallowlist").await.unwrap();
    let allow_id = allow_list["id"].as_str().unwrap().to_owned();
    let list = eve
        .page(&format!("{}?done=installed", extensions(&demo)))
        .await;
    assert!(
        list.contains("The extension is installed.")
            && list.contains("Chat notification")
            && list.contains("Allow list check")
            && list.contains("Built in"),
        "{list}"
    );
    // Installed ones are marked in the catalogue.
    assert!(
        !eve.page(&install)
            .await
            .contains(&format!("{chat}\">Install<"))
    );

    // Disable and enable again.
    let enabled = format!("{}/installed/{allow_id}/enabled", extensions(&demo));
    let off = eve
        .post(&enabled, &[("_csrf", &csrf), ("enabled", "false")], None)
        .await;
    assert_eq!(
        location(&off),
        format!("{}?done=disabled", extensions(&demo))
    );
    assert_eq!(
        installation(&app, &demo, "psiallowlist").await.unwrap()["enabled"],
        false
    );
    assert!(eve.page(&extensions(&demo)).await.contains(">Enable<"));
    eve.post(&enabled, &[("_csrf", &csrf), ("enabled", "true")], None)
        .await;
    assert_eq!(
        installation(&app, &demo, "psiallowlist").await.unwrap()["enabled"],
        true
    );

    // The interaction's Extensions tab: Select → Extension Settings → Add → Submit.
    let page = eve.page(&tab(&demo)).await;
    contains_all(
        &page,
        &[
            ">Details<",
            ">Extensions<",
            ">Events<",
            ">Select<",
            "No extension is added",
        ],
    );
    assert!(
        page.contains("data-dialog=\"extension-settings\""),
        "{page}"
    );
    let select = eve.page(&format!("{}?select=1", tab(&demo))).await;
    assert!(
        select.contains("Extension Settings")
            && select.contains(
                "id=\"extension-settings\" aria-labelledby=\"extension-settings-heading\" open"
            )
            && select.contains(&format!("name=\"add\" value=\"{allow_id}\""))
            && select.contains(">Add<"),
        "{select}"
    );
    let add = eve.page(&format!("{}?add={allow_id}", tab(&demo))).await;
    for label in [
        "Allow list check",
        "for=\"interaction-setting-attribute\">Attribute",
        "<textarea id=\"interaction-setting-allowed\"",
        "type=\"checkbox\" id=\"interaction-setting-ignore_case\"",
        "value=\"You are not on the list for this\"",
        ">Submit<",
    ] {
        assert!(add.contains(label), "{label}: {add}");
    }
    let csrf = eve.csrf(&tab(&demo)).await;
    let missing = eve
        .post(
            &tab(&demo),
            &[
                ("_csrf", &csrf),
                ("installation_id", &allow_id),
                ("setting.allowed", "Ada"),
            ],
            None,
        )
        .await;
    let html = answer(missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("attribute")
            && html.contains("is required")
            && html.contains(">Ada</textarea>"),
        "the form is shown again with the API's message and what was typed: {html}"
    );
    assert!(attachments(&app, &demo).await.is_empty());
    let submitted = eve
        .post(
            &tab(&demo),
            &[
                ("_csrf", &csrf),
                ("installation_id", &allow_id),
                ("setting.attribute", "Name"),
                ("setting.allowed", "Ada\r\nGrace"),
                ("setting.ignore_case", "true"),
                ("setting.message", "Members only"),
            ],
            None,
        )
        .await;
    assert_eq!(
        location(&submitted),
        format!("{}?done=attached", tab(&demo))
    );
    let attached = attachments(&app, &demo).await;
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(attached[0]["installation_id"], allow_id.as_str());
    let settings = &attached[0]["settings"];
    assert_eq!(settings["attribute"], "Name");
    assert_eq!(settings["allowed"], "Ada\nGrace");
    assert_eq!(settings["ignore_case"], true);
    assert_eq!(settings["message"], "Members only");
    let page = eve.page(&format!("{}?done=attached", tab(&demo))).await;
    assert!(
        page.contains("The extension is added to this interaction.")
            && page.contains("Members only")
            && page.contains(">Detach<"),
        "{page}"
    );
    // In Extension Settings it is now marked as added, not offered again.
    let select = eve.page(&format!("{}?select=1", tab(&demo))).await;
    assert!(
        !select.contains(&format!("name=\"add\" value=\"{allow_id}\"")),
        "{select}"
    );
    // The list names where it is attached.
    assert!(
        eve.page(&extensions(&demo))
            .await
            .contains("Join the demo club")
    );

    // Detach.
    let detach = format!("{}/{allow_id}/detach", tab(&demo));
    let detached = eve.post(&detach, &[("_csrf", &csrf)], None).await;
    assert_eq!(location(&detached), format!("{}?done=detached", tab(&demo)));
    assert!(attachments(&app, &demo).await.is_empty());
    app.app.stop().await.unwrap();
}

async fn uninstalling_while_attached_shows_why_and_offers_to_detach(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let csrf = eve.csrf(&extensions(&demo)).await;
    let (id, attached) = attach_allow_list(&app, &demo, &eve, &csrf).await;
    assert_eq!(attached.status(), StatusCode::SEE_OTHER);

    let uninstall = format!("{}/installed/{id}/uninstall", extensions(&demo));
    let refused = eve.post(&uninstall, &[("_csrf", &csrf)], None).await;
    let html = answer(refused, StatusCode::CONFLICT).await;
    assert!(
        html.contains("role=\"alert\"")
            && html.contains("attached to 1 interaction")
            && html.contains(">Detach and uninstall<"),
        "{html}"
    );
    assert!(installation(&app, &demo, "psiallowlist").await.is_some());
    let done = eve
        .post(&uninstall, &[("_csrf", &csrf), ("detach", "true")], None)
        .await;
    assert_eq!(
        location(&done),
        format!("{}?done=uninstalled", extensions(&demo))
    );
    assert!(installation(&app, &demo, "psiallowlist").await.is_none());
    assert!(attachments(&app, &demo).await.is_empty());
    app.app.stop().await.unwrap();
}

async fn the_extension_editor_authors_versions_publishes_and_its_credentials_are_added(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let editor_page = format!("{}/editor", extensions(&demo));
    let page = eve.page(&editor_page).await;
    assert!(
        page.contains("Extension Editor") && page.contains(">Create extension<"),
        "{page}"
    );
    let csrf = eve.csrf(&editor_page).await;

    // Create: the API's refusal, then the extension.
    let refused = eve
        .post(
            &editor_page,
            &[("_csrf", &csrf), ("name", ""), ("visibility", "private")],
            None,
        )
        .await;
    assert!(
        answer(refused, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("role=\"alert\"")
    );
    let created = eve
        .post(
            &editor_page,
            &[
                ("_csrf", &csrf),
                ("name", "CRM"),
                ("description", "Members to the CRM"),
                ("visibility", "private"),
            ],
            None,
        )
        .await;
    assert_eq!(location(&created), format!("{editor_page}?done=created"));
    let mine = api(&app, &demo, "/extensions").await;
    let crm = &mine["data"][0];
    assert_eq!(crm["name"], "CRM");
    assert_eq!(crm["visibility"], "private");
    let crm_id = crm["id"].as_str().unwrap().to_owned();
    assert!(eve.page(&editor_page).await.contains(">Publish version<"));

    // A version: not JSON, not a manifest, then one the API takes, then the same again.
    let versions = format!("{editor_page}/versions");
    for (manifest, says) in [
        ("{not json", "not valid JSON"),
        (
            "{\"version\": \"1.0.0\", \"triggers\": {}, \"colour\": 1}",
            "colour",
        ),
        ("{\"version\": \"1.0.0\", \"triggers\": {}}", "trigger"),
    ] {
        let response = eve
            .post(
                &versions,
                &[
                    ("_csrf", &csrf),
                    ("extension_id", &crm_id),
                    ("manifest", manifest),
                ],
                None,
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{manifest}"
        );
        let html = response.text().await.unwrap();
        assert!(
            html.contains("role=\"alert\"") && html.contains(says),
            "{says}: {html}"
        );
    }
    let manifest = serde_json::json!({
        "version": "1.0.0",
        "triggers": {"on_finish": {"url": "https://crm.example/psi/finished"}},
        "service_settings": [
            {"name": "api_key", "label": "API key", "type": "secret", "required": true},
            {"name": "region", "label": "Region", "type": "select", "options": ["eu", "us"],
             "required": true}
        ],
        "interaction_settings": [{"name": "list", "label": "List", "type": "text"}],
        "required_credentials": [{"credential_definition_id": demo.membership}]
    })
    .to_string();
    let form = [
        ("_csrf", csrf.as_str()),
        ("extension_id", &crm_id),
        ("manifest", &manifest),
    ];
    let published = eve.post(&versions, &form, None).await;
    assert_eq!(
        location(&published),
        format!("{editor_page}?done=published")
    );
    let again = eve.post(&versions, &form, None).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    // The API's words: published already, or not above the latest.
    let html = again.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\"") && html.contains("version 1.0.0 is"),
        "{html}"
    );
    let crm = api(&app, &demo, &format!("/extensions/{crm_id}")).await;
    assert_eq!(crm["versions"], serde_json::json!(["1.0.0"]));

    // Publish to the catalogue.
    let visibility = format!("{editor_page}/visibility");
    let public = eve
        .post(
            &visibility,
            &[
                ("_csrf", &csrf),
                ("extension_id", &crm_id),
                ("visibility", "public"),
            ],
            None,
        )
        .await;
    assert_eq!(location(&public), format!("{editor_page}?done=visibility"));
    let crm = api(&app, &demo, &format!("/extensions/{crm_id}")).await;
    assert_eq!(crm["visibility"], "public");
    assert!(eve.page(&editor_page).await.contains(">Make private"));

    // Install it from My Extensions: the secret is a password input, never shown back.
    let mine = eve
        .page(&format!("{}/install?tab=mine", extensions(&demo)))
        .await;
    let install = format!("{}/install/{crm_id}", extensions(&demo));
    assert!(
        mine.contains("CRM") && mine.contains(&format!("{install}\">Install<")),
        "{mine}"
    );
    let form = eve.page(&install).await;
    assert!(
        form.contains("type=\"password\"")
            && form.contains("<select id=\"setting-region\"")
            && form.contains("https://crm.example/psi/finished"),
        "{form}"
    );
    let secret = "s3cret-api-key-0123";
    let refused = eve
        .post(
            &install,
            &[("_csrf", &csrf), ("setting.api_key", secret)],
            None,
        )
        .await;
    let html = answer(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("region") && !html.contains(secret), "{html}");
    let installed = eve
        .post(
            &install,
            &[
                ("_csrf", &csrf),
                ("setting.api_key", secret),
                ("setting.region", "eu"),
            ],
            None,
        )
        .await;
    assert_eq!(installed.status(), StatusCode::SEE_OTHER);
    let crm_install = installation(&app, &demo, &crm_id).await.unwrap();
    assert_eq!(crm_install["secrets_set"], serde_json::json!(["api_key"]));
    assert_eq!(crm_install["settings"]["region"], "eu");
    let installation_id = crm_install["id"].as_str().unwrap().to_owned();

    // Added to the interaction, the credential it requires appears, marked as added by it.
    let submitted = eve
        .post(
            &tab(&demo),
            &[
                ("_csrf", &csrf),
                ("installation_id", &installation_id),
                ("setting.list", "gold"),
            ],
            None,
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::SEE_OTHER);
    let interaction: Value = expect_json(
        app.get(&demo.interaction_path(), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    let added = interaction["required_credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["credential_id"] == demo.membership.as_str())
        .unwrap();
    assert_eq!(added["added_by"], installation_id.as_str());
    let page = eve.page(&tab(&demo)).await;
    assert!(
        page.contains(&format!(
            "<code>{}</code> <span class=\"badge added\">Added by CRM</span>",
            demo.membership
        )) && page.contains("gold")
            && !page.contains(secret),
        "{page}"
    );
    app.app.stop().await.unwrap();
}

async fn viewers_forged_forms_and_other_services_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    let eve = editor(&app, &demo).await;
    let csrf = eve.csrf(&extensions(&demo)).await;
    let (id, _) = attach_allow_list(&app, &demo, &eve, &csrf).await;
    assert_eq!(attachments(&app, &demo).await.len(), 1);

    let editor_page = format!("{}/editor", extensions(&demo));
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("{}/install/psichatnotification", extensions(&demo)),
            vec![("setting.webhook_url", CHAT_HOOK)],
        ),
        (
            format!("{}/installed/{id}/enabled", extensions(&demo)),
            vec![("enabled", "false")],
        ),
        (
            format!("{}/installed/{id}/uninstall", extensions(&demo)),
            vec![("detach", "true")],
        ),
        (
            editor_page.clone(),
            vec![("name", "Sneaky"), ("visibility", "private")],
        ),
        (
            format!("{editor_page}/versions"),
            vec![("extension_id", "x"), ("manifest", "{}")],
        ),
        (
            format!("{editor_page}/visibility"),
            vec![("extension_id", "x"), ("visibility", "public")],
        ),
        (
            tab(&demo),
            vec![("installation_id", &id), ("setting.attribute", "Other")],
        ),
        (format!("{}/{id}/detach", tab(&demo)), vec![]),
    ];

    // A forged CSRF token is refused.
    for (path, fields) in &forms {
        let mut form = vec![("_csrf", "forged")];
        form.extend(fields.iter().copied());
        let response = eve.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }

    // A viewer sees no button, and every form answers 403.
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let vic = Session::sign_in(&app, "vic").await;
    let list = vic.page(&extensions(&demo)).await;
    assert!(
        !list.contains(">Install extension<")
            && !list.contains(">Uninstall")
            && list.contains("Allow list check"),
        "{list}"
    );
    let page = vic.page(&tab(&demo)).await;
    assert!(
        !page.contains(">Select<") && !page.contains(">Detach<"),
        "{page}"
    );
    let form = vic
        .page(&format!(
            "{}/install/psichatnotification",
            extensions(&demo)
        ))
        .await;
    assert!(!form.contains(">Install</button>"), "{form}");
    assert!(!vic.page(&editor_page).await.contains(">Create extension<"));
    let csrf = vic.csrf(&extensions(&demo)).await;
    for (path, fields) in &forms {
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend(fields.iter().copied());
        let response = vic.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }

    // Nothing changed.
    let installed = installations(&app, &demo).await;
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0]["enabled"], true);
    let attached = attachments(&app, &demo).await;
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0]["settings"]["attribute"], "Name");
    assert!(
        api(&app, &demo, "/extensions").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Another service's person: 404 on the pages and the forms.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    let own = format!("/dashboard/services/{other}/extensions");
    assert!(
        olga.page(&own)
            .await
            .contains("has no extensions installed")
    );
    for path in [
        extensions(&demo),
        format!("{}/install", extensions(&demo)),
        format!("{}/install/psiallowlist", extensions(&demo)),
        editor_page.clone(),
        tab(&demo),
    ] {
        assert_eq!(
            olga.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let csrf = olga.csrf(&own).await;
    for (path, fields) in &forms {
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend(fields.iter().copied());
        let response = olga.post(path, &form, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Her own catalogue does not show the demo's installation as hers.
    let catalogue = olga.page(&format!("{own}/install")).await;
    assert!(
        catalogue.contains(&format!("{own}/install/psiallowlist\">Install<")),
        "{catalogue}"
    );
    app.app.stop().await.unwrap();
}
