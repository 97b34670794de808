//! Extensions (docs/extensions.md): a vendor service authors "CRM Sync", a versioned set of
//! webhooks, and publishes it to the catalogue; the club (the engine's fixture) installs it,
//! attaches it to its interaction "Join", and the extension's triggers run when holders join.
//! The triggers point at the vendor's CRM, a receiver on loopback that checks the calls are
//! signed with the author's key.

use std::collections::BTreeMap;
use std::time::Duration;

use psi_server::db::operators::Role;
use psi_testkit::{Call, Receiver, Reply};
use psi_webhook::PublicKey;
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::backend_tests;
use crate::dashboard::{Session, contains_all, person};
use crate::engine::support::{Auth, Fixture, Holder, engine_app_with, get_public};
use crate::helpers::{Backend, TestApp, expect_error, expect_json};
use crate::notifications::attempts_oldest_first;

backend_tests!(
    an_author_publishes_versions_and_only_public_extensions_are_in_the_catalogue,
    installing_checks_the_settings_and_never_shows_a_secret,
    attaching_adds_the_required_credential_and_detaching_removes_it,
    a_required_credential_can_be_named_by_a_setting,
    a_run_calls_on_receive_with_the_merged_settings_and_issues_what_it_answers,
    a_failure_from_on_receive_fails_the_event_before_the_interaction_webhook,
    on_issue_reports_only_the_definitions_it_lists,
    on_finish_reaches_a_receiver_that_was_down,
    uninstalling_is_refused_while_attached_unless_detaching,
    upgrading_reports_the_settings_added_and_removed_and_needs_new_required_values,
    an_upgrade_takes_the_new_required_interaction_settings_of_each_attachment,
    a_trigger_psi_disabled_shows_in_the_installation_until_enabling_resumes_it,
    other_services_see_neither_private_extensions_nor_installations,
);

/// How long durable deliveries may take (the schedule is compressed to fractions of a second).
const WITHIN: Duration = Duration::from_secs(15);
/// The extension's name.
const NAME: &str = "CRM Sync";
/// The secret `api_key` the club installs with, and the one it changes to.
const API_KEY: &str = "s3cret-api-key-0123";
const NEW_API_KEY: &str = "n3w-secret-api-key-4567";
/// The e-mail address holders give in the contact credential the extension requires.
const EMAIL: &str = "ada@example.org";

/// A service and its token.
pub(crate) struct Service {
    pub(crate) did: String,
    pub(crate) token: String,
}

impl Service {
    pub(crate) async fn create(app: &TestApp, name: &str) -> Self {
        let did = app.create_service(name).await;
        let (_, token) = app.create_token(&did).await;
        Service { did, token }
    }
}

/// The management API as one service, paths relative to `/api/v1/services/{did}`.
#[derive(Clone, Copy)]
pub(crate) struct Api<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) service: &'a Service,
}

impl Api<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/services/{}{rest}", self.service.did)
    }

    pub(crate) async fn get(self, rest: &str) -> Response {
        self.app.get(&self.path(rest), &self.service.token).await
    }

    pub(crate) async fn post(self, rest: &str, body: Value) -> Response {
        self.app
            .post(&self.path(rest), &self.service.token, &body)
            .await
    }

    pub(crate) async fn patch(self, rest: &str, body: Value) -> Response {
        self.app
            .patch(&self.path(rest), &self.service.token, &body)
            .await
    }

    async fn delete(self, rest: &str) -> Response {
        self.app.delete(&self.path(rest), &self.service.token).await
    }
}

/// The club (the engine's [`Fixture`], on a server delivering on a compressed schedule) with a
/// self-attested "Contact" definition, the vendor that authors extensions, and the vendor's CRM.
struct Scenario {
    fx: Fixture,
    club: Service,
    vendor: Service,
    /// Where the extension's triggers point; answers `on_receive` with nothing to issue unless
    /// a test scripts `/receive`, and everything else with 200.
    crm: Receiver,
    /// The key the vendor publishes, which signs the extension's calls.
    author_key: PublicKey,
    /// The club's self-attested contact details (`Email`), which the extension requires.
    contact: String,
}

impl Scenario {
    async fn new(backend: Backend) -> Self {
        Scenario::with(backend, &[]).await
    }

    /// [`Scenario::new`] with more configuration keys, which win.
    async fn with(backend: Backend, keys: &[(&str, Value)]) -> Self {
        let mut config = vec![
            (
                "delivery.schedule",
                json!(["100ms", "200ms", "400ms", "800ms"]),
            ),
            ("delivery.jitter", json!(0.0)),
        ];
        config.extend(keys.iter().cloned());
        let app = engine_app_with(backend, &config).await;
        let fx = Fixture::on(app).await;
        let club = Service {
            did: fx.did.clone(),
            token: fx.token.clone(),
        };
        let vendor = Service::create(&fx.app, "CRM Vendor").await;
        let author_key = published_key(&fx.app, &vendor.did).await;
        let crm = Receiver::start().await;
        crm.on("/receive", Reply::json(json!({"issuedCredentials": []})));
        let contact = fx
            .definition("Contact", &[("Email", "text")], "self", None)
            .await;
        Scenario {
            fx,
            club,
            vendor,
            crm,
            author_key,
            contact,
        }
    }

    fn app(&self) -> &TestApp {
        &self.fx.app
    }

    fn club(&self) -> Api<'_> {
        self.api(&self.club)
    }

    fn vendor(&self) -> Api<'_> {
        self.api(&self.vendor)
    }

    fn api<'a>(&'a self, service: &'a Service) -> Api<'a> {
        Api {
            app: &self.fx.app,
            service,
        }
    }

    /// The manifest of CRM Sync `version`: every trigger at the CRM (`on_issue` for badges
    /// only), a secret API key, a region and a batch size per installation, a list per
    /// attachment, and the club's contact details required.
    fn manifest(&self, version: &str) -> Value {
        json!({
            "version": version,
            "triggers": {
                "on_receive": {"url": self.crm.url("/receive"), "params": {"source": "psi"},
                               "timeout_ms": 5000},
                "on_issue": {"url": self.crm.url("/issued"), "definitions": [self.fx.badge]},
                "on_finish": {"url": self.crm.url("/finished")},
            },
            "service_settings": [
                {"name": "api_key", "label": "API key", "type": "secret", "required": true,
                 "help": "From the CRM's settings page"},
                {"name": "region", "type": "text", "default": "eu"},
                {"name": "batch_size", "type": "number", "default": 10},
            ],
            "interaction_settings": [
                {"name": "list", "type": "select", "options": ["members", "guests"],
                 "default": "members"},
            ],
            "output": {"url": self.crm.url("/members"),
                       "schema": {"name": "Member", "attributes": [{"name": "Level", "type": "text"}]}},
            "required_credentials": [{"credential_definition_id": self.contact}],
        })
    }

    /// What an installation of [`Scenario::manifest`] lists in `data_flows`: trigger → URL.
    fn expected_flows(&self) -> BTreeMap<String, String> {
        [
            ("on_receive", "/receive"),
            ("on_issue", "/issued"),
            ("on_finish", "/finished"),
        ]
        .into_iter()
        .map(|(trigger, path)| (trigger.to_owned(), self.crm.url(path)))
        .collect()
    }

    /// The vendor authors an extension (201 expected); returns it.
    async fn author(&self, body: Value) -> Value {
        expect_json(
            self.vendor().post("/extensions", body).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The vendor publishes `manifest` as a version of `extension`.
    async fn publish(&self, extension: &str, manifest: &Value) -> Response {
        self.vendor()
            .post(
                &format!("/extensions/{extension}/versions"),
                manifest.clone(),
            )
            .await
    }

    /// The extension `name` of the vendor, with `visibility` and version 1.0.0 of `manifest`;
    /// returns its id.
    async fn published_as(&self, name: &str, visibility: &str, manifest: &Value) -> String {
        let extension = id(&self
            .author(json!({"name": name, "description": "Members to the CRM",
                           "visibility": visibility}))
            .await);
        expect_json(
            self.publish(&extension, manifest).await,
            StatusCode::CREATED,
        )
        .await;
        extension
    }

    /// CRM Sync, public, at version 1.0.0; returns its id.
    async fn published(&self) -> String {
        self.published_as(NAME, "public", &self.manifest("1.0.0"))
            .await
    }

    /// The club installs `extension` with these settings.
    async fn install_with(&self, extension: &str, settings: Value) -> Response {
        self.club()
            .post(
                "/installations",
                json!({"extension_id": extension, "settings": settings}),
            )
            .await
    }

    /// The club installs `extension` with the API key and the region "us" (201 expected);
    /// returns the installation.
    async fn install(&self, extension: &str) -> Value {
        let settings = json!({"api_key": API_KEY, "region": "us"});
        secret_free(
            self.install_with(extension, settings).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The club attaches `installation` to its interaction `action_id` with these settings.
    async fn attach(&self, installation: &str, action_id: &str, settings: Value) -> Response {
        self.club()
            .post(
                &format!("/interactions/{action_id}/extensions"),
                json!({"installation_id": installation, "settings": settings}),
            )
            .await
    }

    /// The club detaches `installation` from `action_id` (204 expected).
    async fn detach(&self, installation: &str, action_id: &str) {
        let response = self
            .club()
            .delete(&format!(
                "/interactions/{action_id}/extensions/{installation}"
            ))
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    /// CRM Sync published, installed by the club and attached to "Join" with the guest list;
    /// returns the extension's and the installation's ids.
    async fn attached(&self) -> (String, String) {
        let extension = self.published().await;
        let installation = id(&self.install(&extension).await);
        let response = self
            .attach(&installation, &self.fx.join, json!({"list": "guests"}))
            .await;
        secret_free(response, StatusCode::CREATED).await;
        (extension, installation)
    }

    /// The attachments of the club's interaction `action_id`.
    async fn attachments(&self, action_id: &str) -> Vec<Value> {
        let path = format!("/interactions/{action_id}/extensions");
        entries(&secret_free(self.club().get(&path).await, StatusCode::OK).await)
    }

    /// The `required_credentials` of the club's interaction `action_id`.
    async fn required(&self, action_id: &str) -> Vec<Value> {
        let path = format!("/interactions/{action_id}");
        let interaction = expect_json(self.club().get(&path).await, StatusCode::OK).await;
        interaction["required_credentials"]
            .as_array()
            .unwrap_or_else(|| panic!("required_credentials: {interaction}"))
            .clone()
    }

    /// `holder` runs "Join" presenting an applicant and the contact details; returns the
    /// outcome.
    async fn join(&self, holder: &Holder) -> Value {
        let mut presented = self.fx.applicant_presented("Ada");
        presented.as_array_mut().unwrap().push(json!({
            "credentialId": self.contact,
            "attributes": [{"name": "Email", "value": EMAIL}],
        }));
        holder
            .run(
                &self.fx.app,
                &self.fx.did,
                &self.fx.join,
                json!([]),
                presented,
            )
            .await
    }

    /// Makes the CRM's `on_receive` issue a gold badge.
    fn crm_issues_a_badge(&self) {
        let badge = self.fx.badge.clone();
        self.crm.on_json("/receive", move |_| {
            Reply::json(json!({"issuedCredentials": [{
                "credentialId": badge,
                "fields": [{"name": "Title", "value": "Gold"}, {"name": "Since", "value": "1700000000"}],
            }]}))
        });
    }

    /// Panics unless `call` is signed with the author's (the vendor's) key.
    fn assert_signed_by_the_author(&self, call: &Call) {
        if let Err(e) = Auth::Signature(self.author_key.clone()).verify(call) {
            panic!("{} is not signed with the author's key: {e}", call.path);
        }
    }

    /// Stops the server, letting its delivery workers finish, before the database goes.
    async fn stop(self) {
        self.fx.app.stop().await;
    }
}

/// The key `did` publishes as `default`.
async fn published_key(app: &TestApp, did: &str) -> PublicKey {
    let path = format!("/service-dashboard-backend/service/{did}/public-info/public-key/default");
    let response = get_public(app, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    PublicKey::from_pem(&response.text().await.unwrap()).expect("a PEM public key")
}

/// Asserts the status and that the body shows neither API key; returns the JSON body.
async fn secret_free(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "body: {text}");
    for secret in [API_KEY, NEW_API_KEY] {
        assert!(!text.contains(secret), "a secret is shown: {text}");
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `value["id"]` as text.
pub(crate) fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id: {value}"))
        .to_owned()
}

/// The entries of a list answer: a page's `data` (or the answer itself when it is an array).
fn entries(list: &Value) -> Vec<Value> {
    list.as_array()
        .or_else(|| list["data"].as_array())
        .unwrap_or_else(|| panic!("a list: {list}"))
        .clone()
}

/// The ids of a list answer's entries.
fn ids(list: &Value) -> Vec<String> {
    entries(list).iter().map(id).collect()
}

/// The requirement of `credential_id` among `required`.
fn requirement<'a>(required: &'a [Value], credential_id: &str) -> Option<&'a Value> {
    required
        .iter()
        .find(|r| r["credential_id"] == credential_id)
}

/// Whether a requirement was added by no extension.
fn own(requirement: &Value) -> bool {
    requirement.get("added_by").is_none_or(Value::is_null)
}

/// An installation's `data_flows` as trigger → URL; each flow must say what it sends.
fn flows(installation: &Value) -> BTreeMap<String, String> {
    let flows = installation["data_flows"]
        .as_array()
        .unwrap_or_else(|| panic!("data_flows: {installation}"));
    flows
        .iter()
        .map(|flow| {
            let sends = flow["sends"].as_array().expect("sends");
            assert!(
                !sends.is_empty() && sends.iter().all(Value::is_string),
                "a flow says what it sends: {flow}"
            );
            (
                flow["trigger"].as_str().expect("trigger").to_owned(),
                flow["url"].as_str().expect("url").to_owned(),
            )
        })
        .collect()
}

/// The public catalogue, read without a token.
async fn catalogue(app: &TestApp) -> Value {
    expect_json(
        get_public(app, "/api/v1/catalogue/extensions").await,
        StatusCode::OK,
    )
    .await
}

/// A catalogue entry read without a token.
async fn catalogue_entry(app: &TestApp, extension: &str) -> Response {
    get_public(app, &format!("/api/v1/catalogue/extensions/{extension}")).await
}

/// The issued credentials of a wallet outcome, as definition → attributes.
fn issued(outcome: &Value) -> BTreeMap<String, Value> {
    entries(&outcome["issued"])
        .into_iter()
        .map(|c| {
            (
                c["credentialId"].as_str().unwrap().to_owned(),
                c["attributes"].clone(),
            )
        })
        .collect()
}

async fn an_author_publishes_versions_and_only_public_extensions_are_in_the_catalogue(
    backend: Backend,
) {
    let s = Scenario::new(backend).await;
    let created = s
        .author(json!({"name": NAME, "description": "Members to the CRM"}))
        .await;
    assert_eq!(created["name"], NAME);
    assert_eq!(created["description"], "Members to the CRM");
    assert_eq!(created["visibility"], "private", "private by default");
    assert_eq!(created["key"], "default");
    assert_eq!(created["auth"], "signature");
    assert_eq!(created["author_did"], s.vendor.did.as_str());
    assert_eq!(created["versions"], json!([]));
    assert_eq!(created["latest_version"], Value::Null);
    assert!(created["created_at"].is_i64(), "{created}");
    let extension = id(&created);

    // A version holds its manifest.
    let manifest = s.manifest("1.0.0");
    let version = expect_json(s.publish(&extension, &manifest).await, StatusCode::CREATED).await;
    assert_eq!(version["version"], "1.0.0");
    for trigger in ["on_receive", "on_issue", "on_finish"] {
        assert_eq!(
            version["triggers"][trigger]["url"], manifest["triggers"][trigger]["url"],
            "{version}"
        );
    }
    assert_eq!(
        version["triggers"]["on_issue"]["definitions"],
        json!([s.fx.badge])
    );
    assert_eq!(version["service_settings"][0]["name"], "api_key");
    assert_eq!(version["service_settings"][0]["type"], "secret");
    assert_eq!(version["interaction_settings"][0]["name"], "list");
    assert_eq!(version["output"]["url"], s.crm.url("/members"));
    assert_eq!(
        version["required_credentials"][0]["credential_definition_id"],
        s.contact.as_str()
    );
    assert!(version["created_at"].is_i64(), "{version}");

    // Versions are immutable and only go up.
    for (again, status) in [
        ("1.0.0", StatusCode::CONFLICT),
        ("1.2.0", StatusCode::CREATED),
        ("1.2.0", StatusCode::CONFLICT),
        ("1.1.0", StatusCode::CONFLICT),
    ] {
        let response = s.publish(&extension, &s.manifest(again)).await;
        assert_eq!(response.status(), status, "publishing {again}");
    }
    let mut no_trigger = s.manifest("2.0.0");
    no_trigger["triggers"] = json!({});
    let mut bad_name = s.manifest("2.0.0");
    bad_name["service_settings"][1]["name"] = json!("Region");
    let mut twice = s.manifest("2.0.0");
    twice["interaction_settings"][0]["name"] = json!("region");
    let mut not_http = s.manifest("2.0.0");
    not_http["triggers"]["on_finish"]["url"] = json!("ftp://crm.example/finished");
    for refused in [no_trigger, bad_name, twice, not_http] {
        let response = s.publish(&extension, &refused).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_client_error(), "{status} {text} for {refused}");
    }

    let path = format!("/extensions/{extension}");
    let read = expect_json(s.vendor().get(&path).await, StatusCode::OK).await;
    assert_eq!(read["versions"], json!(["1.0.0", "1.2.0"]));
    assert_eq!(read["latest_version"], "1.2.0");
    let one = expect_json(
        s.vendor().get(&format!("{path}/versions/1.0.0")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["version"], "1.0.0");
    let missing = s.vendor().get(&format!("{path}/versions/9.9.9")).await;
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;

    // Private: not in the catalogue.
    assert!(!ids(&catalogue(s.app()).await).contains(&extension));
    let hidden = catalogue_entry(s.app(), &extension).await;
    expect_error(hidden, StatusCode::NOT_FOUND, "not_found").await;

    // Public: listed without a token, with its latest version.
    let patched = expect_json(
        s.vendor()
            .patch(
                &path,
                json!({"visibility": "public", "description": "Members and guests"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["visibility"], "public");
    assert_eq!(patched["description"], "Members and guests");
    let listed = catalogue(s.app()).await;
    assert!(listed.get("next_cursor").is_some(), "a page: {listed}");
    let entry = entries(&listed)
        .into_iter()
        .find(|e| e["id"] == extension.as_str())
        .unwrap_or_else(|| panic!("public, so listed: {listed}"));
    assert_eq!(entry["name"], NAME);
    assert_eq!(entry["description"], "Members and guests");
    assert_eq!(entry["author_did"], s.vendor.did.as_str());
    assert_eq!(entry["latest_version"], "1.2.0");
    assert_eq!(entry["manifest"]["version"], "1.2.0");
    assert_eq!(
        entry["manifest"]["triggers"]["on_receive"]["url"],
        s.crm.url("/receive")
    );
    let read = expect_json(catalogue_entry(s.app(), &extension).await, StatusCode::OK).await;
    assert_eq!(read["id"], extension.as_str());
    assert_eq!(read["manifest"]["version"], "1.2.0");

    // Another, private one stays out; "My Extensions" lists both.
    let private = s
        .published_as("Internal", "private", &s.manifest("1.0.0"))
        .await;
    assert!(!ids(&catalogue(s.app()).await).contains(&private));
    let hidden = catalogue_entry(s.app(), &private).await;
    expect_error(hidden, StatusCode::NOT_FOUND, "not_found").await;
    let mine = expect_json(s.vendor().get("/extensions").await, StatusCode::OK).await;
    let mut listed = ids(&mine);
    listed.sort();
    let mut expected = vec![extension, private];
    expected.sort();
    assert_eq!(listed, expected);
    s.stop().await;
}

async fn installing_checks_the_settings_and_never_shows_a_secret(backend: Backend) {
    let s = Scenario::new(backend).await;
    let extension = s.published().await;

    let missing = s.install_with(&extension, json!({"region": "us"})).await;
    let message = expect_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("api_key"), "{message}");
    for (setting, wrong) in [
        ("batch_size", json!("ten")),
        ("region", json!(5)),
        ("api_key", json!(true)),
    ] {
        let mut settings = json!({"api_key": API_KEY});
        settings[setting] = wrong;
        let response = s.install_with(&extension, settings).await;
        let message = expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(setting), "{message}");
    }

    let installation = s.install(&extension).await;
    assert_eq!(installation["extension_id"], extension.as_str());
    assert_eq!(installation["extension_name"], NAME);
    assert_eq!(installation["version"], "1.0.0", "the latest by default");
    assert_eq!(installation["enabled"], true, "enabled by default");
    assert_eq!(installation["settings"]["region"], "us");
    assert!(installation["settings"].get("api_key").is_none());
    assert_eq!(installation["secrets_set"], json!(["api_key"]));
    assert_eq!(flows(&installation), s.expected_flows());
    assert!(installation["created_at"].is_i64(), "{installation}");
    let path = format!("/installations/{}", id(&installation));

    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    assert_eq!(read["secrets_set"], json!(["api_key"]));
    assert_eq!(flows(&read), s.expected_flows());
    let listed = secret_free(s.club().get("/installations").await, StatusCode::OK).await;
    assert_eq!(ids(&listed), [id(&installation)]);

    // A new secret is taken and not shown either.
    let changed = json!({"settings": {"api_key": NEW_API_KEY, "region": "ap"}, "enabled": false});
    let patched = secret_free(s.club().patch(&path, changed).await, StatusCode::OK).await;
    assert_eq!(patched["settings"]["region"], "ap");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["secrets_set"], json!(["api_key"]));
    let wrong = json!({"settings": {"api_key": NEW_API_KEY, "batch_size": "ten"}});
    let response = s.club().patch(&path, wrong).await;
    expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    s.stop().await;
}

async fn attaching_adds_the_required_credential_and_detaching_removes_it(backend: Backend) {
    let s = Scenario::new(backend).await;
    let extension = s.published().await;
    let installation = id(&s.install(&extension).await);
    let join = s.fx.join.clone();
    assert!(requirement(&s.required(&join).await, &s.contact).is_none());

    let not_an_option = s
        .attach(&installation, &join, json!({"list": "gold"}))
        .await;
    expect_error(
        not_an_option,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let attached = secret_free(
        s.attach(&installation, &join, json!({"list": "guests"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(attached["installation_id"], installation.as_str());
    assert_eq!(attached["extension_name"], NAME);
    assert_eq!(attached["settings"]["list"], "guests");
    assert!(attached["secrets_set"].is_array(), "{attached}");
    let added = attached["added_requirements"].to_string();
    assert!(added.contains(&s.contact), "{attached}");
    assert!(attached["created_at"].is_i64(), "{attached}");

    let required = s.required(&join).await;
    let contact = requirement(&required, &s.contact).expect("the extension's requirement");
    assert_eq!(contact["added_by"], installation.as_str());
    let applicant = requirement(&required, &s.fx.applicant).expect("Join's own requirement");
    assert!(own(applicant), "{applicant}");
    let listed = s.attachments(&join).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["installation_id"], installation.as_str());

    let path = format!("/interactions/{join}/extensions/{installation}");
    let patched = expect_json(
        s.club()
            .patch(&path, json!({"settings": {"list": "members"}}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["settings"]["list"], "members");

    s.detach(&installation, &join).await;
    let required = s.required(&join).await;
    assert!(requirement(&required, &s.contact).is_none(), "{required:?}");
    assert!(requirement(&required, &s.fx.applicant).is_some_and(own));
    assert_eq!(s.attachments(&join).await, Vec::<Value>::new());

    // An interaction that requires the contact details on its own keeps requiring them.
    let register =
        s.fx.interaction(json!({
            "name": "Register",
            "required_credentials": [{"credential_id": s.contact}],
            "issued_credentials": [s.fx.badge],
        }))
        .await;
    let response = s.attach(&installation, &register, json!({})).await;
    secret_free(response, StatusCode::CREATED).await;
    s.detach(&installation, &register).await;
    let required = s.required(&register).await;
    assert!(
        requirement(&required, &s.contact).is_some_and(own),
        "{required:?}"
    );
    s.stop().await;
}

async fn a_required_credential_can_be_named_by_a_setting(backend: Backend) {
    let s = Scenario::new(backend).await;
    let mut manifest = s.manifest("1.0.0");
    manifest["interaction_settings"] =
        json!([{"name": "card", "type": "credential_definition", "required": true}]);
    manifest["required_credentials"] = json!([{"credential_definition_id": {"setting": "card"}}]);
    let extension = s.published_as("Cards", "public", &manifest).await;
    let installation = id(&s.install(&extension).await);

    let without = s.attach(&installation, &s.fx.join, json!({})).await;
    let message = expect_error(
        without,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("card"), "{message}");
    let with = s
        .attach(&installation, &s.fx.join, json!({"card": s.contact}))
        .await;
    secret_free(with, StatusCode::CREATED).await;
    let required = s.required(&s.fx.join).await;
    let contact = requirement(&required, &s.contact).expect("the setting's definition");
    assert_eq!(contact["added_by"], installation.as_str());
    s.stop().await;
}

async fn a_run_calls_on_receive_with_the_merged_settings_and_issues_what_it_answers(
    backend: Backend,
) {
    let s = Scenario::new(backend).await;
    let (extension, installation) = s.attached().await;
    s.crm_issues_a_badge();
    s.fx.issue_membership("2");
    let holder = Holder::new();
    let outcome = s.join(&holder).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");

    // The holder has the CRM's badge and the interaction webhook's membership.
    let issued = issued(&outcome);
    assert_eq!(
        issued.get(&s.fx.badge),
        Some(
            &json!([{"name": "Title", "value": "Gold"}, {"name": "Since", "value": "1700000000"}])
        ),
        "{outcome}"
    );
    assert!(issued.contains_key(&s.fx.membership), "{outcome}");

    // The CRM got the interaction webhook's request, signed by the author, plus `extension`.
    let calls = s.crm.calls_to("/receive");
    assert_eq!(calls.len(), 1);
    s.assert_signed_by_the_author(&calls[0]);
    let mut request = calls[0].json();
    let member = request
        .as_object_mut()
        .unwrap()
        .remove("extension")
        .expect("the extension member");
    assert_eq!(
        member,
        json!({
            "id": extension,
            "name": NAME,
            "version": "1.0.0",
            "installationId": installation,
            "params": {"source": "psi"},
            // The installation's, the attachment's, and the defaults of the rest; secrets in clear.
            "settings": {"api_key": API_KEY, "region": "us", "batch_size": 10, "list": "guests"},
        })
    );
    assert_eq!(request["publicServiceDid"], s.fx.did.as_str());
    assert_eq!(request["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(request["actionId"], s.fx.join.as_str());
    assert_eq!(request["actionEventId"], outcome["event_id"]);
    assert!(request["actionInstanceId"].is_string(), "{request}");
    assert_eq!(
        request["actionParams"],
        json!([{"name": "club", "value": "chess"}])
    );
    let contact = entries(&request["receivedCredentials"])
        .into_iter()
        .find(|c| c["credentialId"] == s.contact.as_str())
        .unwrap_or_else(|| panic!("the contact details: {request}"));
    assert_eq!(
        contact["fields"],
        json!([{"name": "Email", "value": EMAIL}])
    );
    assert!(
        request["containerPrefix"]
            .as_str()
            .is_some_and(|p| p.ends_with("/service-dashboard-backend")),
        "{request}"
    );
    let hook = s.fx.receiver.calls_to("/hook");
    assert_eq!(hook.len(), 1);
    assert_eq!(request, hook[0].json(), "the same request as the webhook's");

    // Both calls are on the event, the extension's first.
    let event = s.fx.event(outcome["event_id"].as_str().unwrap()).await;
    let urls: Vec<&str> = event["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, [s.crm.url("/receive"), s.fx.receiver.url("/hook")]);
    s.fx.receiver.assert_none_refused();
    s.stop().await;
}

async fn a_failure_from_on_receive_fails_the_event_before_the_interaction_webhook(
    backend: Backend,
) {
    let s = Scenario::new(backend).await;
    let (_, installation) = s.attached().await;
    let log_data = "lookup of ada@example.org: 0 rows";
    s.crm.on(
        "/receive",
        Reply::json(json!({
            "ok": false,
            "type": "failure",
            "message": "Ada is not in the CRM",
            "integrationOutput": {"integrationId": "crm", "logData": log_data},
        })),
    );
    s.fx.issue_membership("2");
    let outcome = s.join(&Holder::new()).await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    assert_eq!(outcome["message"], "Ada is not in the CRM");
    assert_eq!(outcome["issued"], json!([]));
    assert!(
        s.fx.receiver.calls_to("/hook").is_empty(),
        "the interaction webhook is not called"
    );
    assert_eq!(s.fx.credentials().await, json!([]));

    let event_id = outcome["event_id"].as_str().unwrap();
    let event = s.fx.event(event_id).await;
    assert_eq!(event["state"], "failed");
    let logged = event["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry.to_string().contains(log_data))
        .unwrap_or_else(|| panic!("the logData is logged: {event}"));
    assert!(
        logged.to_string().contains(NAME),
        "under the extension's name: {logged}"
    );

    // on_finish tells the CRM.
    let finished = s.crm.wait_for_calls("/finished", 1, WITHIN).await;
    s.assert_signed_by_the_author(&finished[0]);
    let body = finished[0].json();
    assert_eq!(body["type"], "event.failed");
    assert_eq!(body["actionEventId"], event_id);
    assert_eq!(body["outcome"]["ok"], false);
    assert_eq!(body["extension"]["installationId"], installation.as_str());
    s.stop().await;
}

async fn on_issue_reports_only_the_definitions_it_lists(backend: Backend) {
    let s = Scenario::new(backend).await;
    let (_, installation) = s.attached().await;
    s.fx.issue_membership("2");

    // A membership only: not a definition the trigger lists.
    let outcome = s.join(&Holder::new()).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    s.crm.wait_for_calls("/finished", 1, WITHIN).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.crm.calls_to("/issued").is_empty(), "nothing to report");

    // A badge as well: the badge is reported, alone.
    s.crm_issues_a_badge();
    let holder = Holder::new();
    let outcome = s.join(&holder).await;
    assert_eq!(issued(&outcome).len(), 2, "{outcome}");
    let badge = entries(&outcome["issued"])
        .into_iter()
        .find(|c| c["credentialId"] == s.fx.badge.as_str())
        .unwrap();
    let calls = s.crm.wait_for_calls("/issued", 1, WITHIN).await;
    s.assert_signed_by_the_author(&calls[0]);
    let body = calls[0].json();
    assert_eq!(body["type"], "credential.issued");
    assert_eq!(body["actionEventId"], outcome["event_id"]);
    assert_eq!(body["subscriberConnectDid"], holder.did.as_str());
    let credentials = entries(&body["credentials"]);
    assert_eq!(credentials.len(), 1, "{body}");
    assert_eq!(credentials[0]["credentialId"], s.fx.badge.as_str());
    assert_eq!(credentials[0]["jti"], badge["jti"]);
    assert_eq!(body["extension"]["installationId"], installation.as_str());
    assert_eq!(body["extension"]["name"], NAME);
    s.crm.wait_for_calls("/finished", 2, WITHIN).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.crm.calls_to("/issued").len(), 1);
    s.stop().await;
}

async fn on_finish_reaches_a_receiver_that_was_down(backend: Backend) {
    let s = Scenario::new(backend).await;
    let (_, installation) = s.attached().await;
    s.crm
        .queue("/finished", [Reply::status(503), Reply::status(503)]);
    s.fx.issue_membership("2");
    let holder = Holder::new();
    let outcome = s.join(&holder).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");

    let calls = s.crm.wait_for_calls("/finished", 3, WITHIN).await;
    let bodies: Vec<Value> = calls.iter().map(Call::json).collect();
    for (call, body) in calls.iter().zip(&bodies) {
        s.assert_signed_by_the_author(call);
        assert_eq!(body, &bodies[0], "every attempt carries the same message");
    }
    let body = &bodies[0];
    assert_eq!(body["type"], "event.completed");
    assert_eq!(body["actionEventId"], outcome["event_id"]);
    assert_eq!(body["subscriberConnectDid"], holder.did.as_str());
    assert_eq!(body["outcome"], json!({"ok": true}));
    assert_eq!(body["extension"]["installationId"], installation.as_str());
    assert_eq!(body["extension"]["version"], "1.0.0");
    // What the outbox stores carries the plain settings, never a secret.
    assert_eq!(
        body["extension"]["settings"],
        json!({"region": "us", "batch_size": 10, "list": "guests"})
    );
    assert!(!String::from_utf8_lossy(&calls[0].body).contains(API_KEY));

    // The club sees the message delivered, after the failed attempts.
    let message_id = body["messageId"].as_str().expect("messageId");
    let message = s
        .app()
        .wait_for_status(&s.fx.did, message_id, "succeeded", WITHIN)
        .await;
    let statuses: Vec<Value> = attempts_oldest_first(&message)
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(503), json!(503), json!(200)]);
    s.stop().await;
}

async fn uninstalling_is_refused_while_attached_unless_detaching(backend: Backend) {
    let s = Scenario::new(backend).await;
    let (extension, installation) = s.attached().await;
    let path = format!("/installations/{installation}");

    let attached = s.club().delete(&path).await;
    expect_error(attached, StatusCode::CONFLICT, "conflict").await;
    let installed = s.vendor().delete(&format!("/extensions/{extension}")).await;
    expect_error(installed, StatusCode::CONFLICT, "conflict").await;
    let required = s.required(&s.fx.join).await;
    assert!(
        requirement(&required, &s.contact).is_some(),
        "still attached"
    );

    let response = s.club().delete(&format!("{path}?detach=true")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let required = s.required(&s.fx.join).await;
    assert!(requirement(&required, &s.contact).is_none(), "{required:?}");
    assert!(requirement(&required, &s.fx.applicant).is_some_and(own));
    assert_eq!(s.attachments(&s.fx.join).await, Vec::<Value>::new());
    let gone = s.club().get(&path).await;
    expect_error(gone, StatusCode::NOT_FOUND, "not_found").await;

    // Installed nowhere now: the author may delete it.
    let response = s.vendor().delete(&format!("/extensions/{extension}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let gone = s.vendor().get(&format!("/extensions/{extension}")).await;
    expect_error(gone, StatusCode::NOT_FOUND, "not_found").await;
    s.stop().await;
}

async fn upgrading_reports_the_settings_added_and_removed_and_needs_new_required_values(
    backend: Backend,
) {
    let s = Scenario::new(backend).await;
    // Attached to "Join" with the guest list: the attachment moves with the installation.
    let (extension, installation) = s.attached().await;
    // 1.1.0: no batch size, an optional time zone.
    let mut minor = s.manifest("1.1.0");
    minor["service_settings"] = json!([
        {"name": "api_key", "type": "secret", "required": true},
        {"name": "region", "type": "text", "default": "eu"},
        {"name": "timezone", "type": "text"},
    ]);
    // 2.0.0: an account id, required, without a default.
    let mut major = minor.clone();
    major["version"] = json!("2.0.0");
    major["service_settings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "account_id", "type": "text", "required": true}));
    // ... and it no longer needs the contact details.
    major["required_credentials"] = json!([]);
    for manifest in [&minor, &major] {
        let response = s.publish(&extension, manifest).await;
        expect_json(response, StatusCode::CREATED).await;
    }
    let path = format!("/installations/{installation}");
    let version = |installation: Value| installation["version"].clone();
    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    assert_eq!(version(read), "1.0.0", "pinned until upgraded");

    let upgrade = format!("{path}/upgrade");
    let to = |version: &str, settings: Value| json!({"version": version, "settings": settings});
    let upgraded = secret_free(
        s.club().post(&upgrade, to("1.1.0", json!({}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(upgraded["added_settings"], json!(["timezone"]));
    assert_eq!(upgraded["removed_settings"], json!(["batch_size"]));
    assert_eq!(version(upgraded["installation"].clone()), "1.1.0");
    assert_eq!(upgraded["installation"]["secrets_set"], json!(["api_key"]));

    let blocked = s.club().post(&upgrade, to("2.0.0", json!({}))).await;
    let message = expect_error(
        blocked,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("account_id"), "{message}");
    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    assert_eq!(version(read), "1.1.0", "a refused upgrade changes nothing");

    let given = to("2.0.0", json!({"account_id": "acme-1"}));
    let upgraded = secret_free(s.club().post(&upgrade, given).await, StatusCode::OK).await;
    assert_eq!(upgraded["added_settings"], json!(["account_id"]));
    assert_eq!(upgraded["removed_settings"], json!([]));
    assert_eq!(version(upgraded["installation"].clone()), "2.0.0");
    assert_eq!(upgraded["installation"]["settings"]["account_id"], "acme-1");
    let attachments = s.attachments(&s.fx.join).await;
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["version"], "2.0.0");
    assert_eq!(attachments[0]["settings"], json!({"list": "guests"}));
    assert!(
        requirement(&s.required(&s.fx.join).await, &s.contact).is_none(),
        "the requirement 1.0.0 added goes with 2.0.0"
    );
    s.stop().await;
}

async fn an_upgrade_takes_the_new_required_interaction_settings_of_each_attachment(
    backend: Backend,
) {
    let s = Scenario::new(backend).await;
    let (extension, installation) = s.attached().await;
    // 1.1.0: each attachment needs a segment and a secret list token, without defaults.
    let mut next = s.manifest("1.1.0");
    next["interaction_settings"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!({"name": "segment", "type": "text", "required": true}),
            json!({"name": "list_token", "type": "secret", "required": true}),
        ]);
    expect_json(s.publish(&extension, &next).await, StatusCode::CREATED).await;
    let path = format!("/installations/{installation}");
    let upgrade = format!("{path}/upgrade");
    let join = s.fx.join.clone();
    let to =
        |attachments: Map<String, Value>| json!({"version": "1.1.0", "attachments": attachments});
    let values = json!({"segment": "vip", "list_token": NEW_API_KEY});

    let blocked = s.club().post(&upgrade, json!({"version": "1.1.0"})).await;
    let message = expect_error(
        blocked,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        message.contains(&join) && message.contains("segment"),
        "{message}"
    );
    // Values for an interaction it is not attached to are refused, the right ones with them.
    let mut stray = Map::new();
    stray.insert(join.clone(), values.clone());
    stray.insert("not-attached".into(), json!({"segment": "vip"}));
    let refused = s.club().post(&upgrade, to(stray)).await;
    let message = expect_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("not-attached"), "{message}");
    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    assert_eq!(
        read["version"], "1.0.0",
        "a refused upgrade changes nothing"
    );

    let mut given = Map::new();
    given.insert(join.clone(), values);
    let upgraded = secret_free(s.club().post(&upgrade, to(given)).await, StatusCode::OK).await;
    assert_eq!(upgraded["installation"]["version"], "1.1.0");
    assert_eq!(upgraded["added_settings"], json!(["list_token", "segment"]));
    let attachments = s.attachments(&join).await;
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["version"], "1.1.0");
    assert_eq!(
        attachments[0]["settings"],
        json!({"list": "guests", "segment": "vip"})
    );
    assert_eq!(attachments[0]["secrets_set"], json!(["list_token"]));
    s.stop().await;
}

/// The installation's `on_finish` trigger as its view shows it.
async fn on_finish_trigger(s: &Scenario, installation: &str) -> Value {
    let path = format!("/installations/{installation}");
    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    entries(&read["triggers"])
        .into_iter()
        .find(|t| t["trigger"] == "on_finish")
        .unwrap_or_else(|| panic!("an on_finish trigger: {read}"))
}

async fn a_trigger_psi_disabled_shows_in_the_installation_until_enabling_resumes_it(
    backend: Backend,
) {
    let s = Scenario::with(
        backend,
        &[
            ("delivery.schedule", json!(vec!["100ms"; 40])),
            ("delivery.disable_after", json!("500ms")),
        ],
    )
    .await;
    let (_, installation) = s.attached().await;
    let healthy = on_finish_trigger(&s, &installation).await;
    assert_eq!(healthy["enabled"], true, "{healthy}");
    assert_eq!(healthy["url"], s.crm.url("/finished"));
    assert!(healthy.get("failing_since").is_none(), "{healthy}");

    s.crm.on("/finished", Reply::status(500));
    s.fx.issue_membership("2");
    let outcome = s.join(&Holder::new()).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let deadline = tokio::time::Instant::now() + WITHIN;
    let stopped = loop {
        let trigger = on_finish_trigger(&s, &installation).await;
        if trigger["enabled"] == false {
            break trigger;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not disabled: {trigger}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stopped["disabled_reason"], "failing");
    let (since, disabled_at) = (
        stopped["failing_since"].as_i64().expect("failing_since"),
        stopped["disabled_at"].as_i64().expect("disabled_at"),
    );
    assert!(disabled_at - since >= 500, "{stopped}");
    let read = secret_free(
        s.club()
            .get(&format!("/installations/{installation}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        read["enabled"], true,
        "the installation itself stays enabled"
    );
    let on_issue = entries(&read["triggers"])
        .into_iter()
        .find(|t| t["trigger"] == "on_issue")
        .expect("on_issue");
    assert_eq!(on_issue["enabled"], true, "only the failing trigger stops");
    // The dashboard's list says so, and offers to resume it.
    person(s.app(), "eve", Some((&s.fx.did, Role::Editor))).await;
    let session = Session::sign_in(s.app(), "eve").await;
    let screen = format!("/dashboard/services/{}/extensions", s.fx.did);
    let html = session.page(&screen).await;
    contains_all(&html, &["on_finish stopped: calls to", "Resume"]);
    let message_id = s.crm.calls_to("/finished")[0].json()["messageId"]
        .as_str()
        .expect("messageId")
        .to_owned();

    // Enabling the installation again resumes the trigger and delivers what it held.
    s.crm.on("/finished", Reply::status(200));
    let path = format!("/installations/{installation}");
    let enabled = secret_free(
        s.club().patch(&path, json!({"enabled": true})).await,
        StatusCode::OK,
    )
    .await;
    let resumed = entries(&enabled["triggers"])
        .into_iter()
        .find(|t| t["trigger"] == "on_finish")
        .expect("on_finish");
    assert_eq!(resumed["enabled"], true, "{resumed}");
    for gone in ["disabled_reason", "disabled_at", "failing_since"] {
        assert!(resumed.get(gone).is_none(), "{gone}: {resumed}");
    }
    s.app()
        .wait_for_status(&s.fx.did, &message_id, "succeeded", WITHIN)
        .await;
    assert_eq!(on_finish_trigger(&s, &installation).await["enabled"], true);
    let html = session.page(&screen).await;
    assert!(!html.contains("stopped"), "{html}");
    s.stop().await;
}

async fn other_services_see_neither_private_extensions_nor_installations(backend: Backend) {
    let s = Scenario::new(backend).await;
    let public = s.published().await;
    let private = s
        .published_as("Internal", "private", &s.manifest("1.0.0"))
        .await;

    // The club cannot see or install the vendor's private extension.
    let response = s.install_with(&private, json!({"api_key": API_KEY})).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    for path in [
        format!("/extensions/{private}"),
        format!("/extensions/{private}/versions/1.0.0"),
    ] {
        let response = s.club().get(&path).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = catalogue_entry(s.app(), &private).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    // The vendor may install its own.
    let own = json!({"extension_id": private, "settings": {"api_key": API_KEY}});
    secret_free(
        s.vendor().post("/installations", own).await,
        StatusCode::CREATED,
    )
    .await;

    // A rival sees none of the club's installations, through its paths or the club's.
    let installation = id(&s.install(&public).await);
    let rival = Service::create(s.app(), "Rival").await;
    let as_rival = s.api(&rival);
    for path in ["/installations", "/extensions"] {
        let listed = expect_json(as_rival.get(path).await, StatusCode::OK).await;
        assert_eq!(entries(&listed), Vec::<Value>::new(), "{path}");
    }
    let path = format!("/installations/{installation}");
    let club_path = format!("/api/v1/services/{}{path}", s.club.did);
    let responses = [
        as_rival.get(&path).await,
        as_rival.patch(&path, json!({"enabled": false})).await,
        as_rival
            .post(
                &format!("{path}/upgrade"),
                json!({"version": "1.0.0", "settings": {}}),
            )
            .await,
        as_rival.delete(&format!("{path}?detach=true")).await,
        s.app().get(&club_path, &rival.token).await,
        s.app().delete(&club_path, &rival.token).await,
    ];
    for response in responses {
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Nor attach it to an interaction of its own.
    let action = id(&expect_json(
        as_rival
            .post("/interactions", json!({"name": "Rival action"}))
            .await,
        StatusCode::CREATED,
    )
    .await);
    let attach = json!({"installation_id": installation, "settings": {}});
    let response = as_rival
        .post(&format!("/interactions/{action}/extensions"), attach)
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let read = secret_free(s.club().get(&path).await, StatusCode::OK).await;
    assert_eq!(read["enabled"], true, "untouched");
    s.stop().await;
}
