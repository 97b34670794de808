//! The built-in extensions (docs/extensions.md), which psi runs itself: each is listed in the
//! catalogue, installed and attached by the club (the engine's fixture) like any other, and
//! tested end to end against a receiver that speaks the real service's format.

use std::time::Duration;

use psi_testkit::{Receiver, Reply};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder, engine_app_with};
use crate::helpers::{Backend, expect_error, expect_json};

backend_tests!(
    the_built_in_extensions_are_in_the_catalogue_without_an_author,
    the_allow_list_fails_the_event_unless_the_value_is_listed,
    the_allow_list_may_be_fetched_from_a_url_and_is_kept,
    forwarding_posts_the_mapped_attributes_with_the_api_key_and_fails_when_refused,
    the_chat_notification_posts_slack_json_and_retries,
);

const WITHIN: Duration = Duration::from_secs(15);
const API_KEY: &str = "crm-k3y-0123456789";

/// The club on a server delivering on a compressed schedule, and a receiver standing for the
/// third-party service (a CRM, a chat).
struct Club {
    fx: Fixture,
    service: Receiver,
}

impl Club {
    async fn new(backend: Backend) -> Self {
        let app = engine_app_with(
            backend,
            &[
                ("delivery.schedule", json!(["100ms", "200ms", "400ms"])),
                ("delivery.jitter", json!(0.0)),
            ],
        )
        .await;
        let fx = Fixture::on(app).await;
        fx.issue_membership("2");
        Club {
            fx,
            service: Receiver::start().await,
        }
    }

    async fn post(&self, rest: &str, body: Value) -> Response {
        let path = format!("/api/v1/services/{}{rest}", self.fx.did);
        self.fx.app.post(&path, &self.fx.token, &body).await
    }

    /// Installs the built-in `id` with `settings` and attaches it to "Join" with
    /// `interaction_settings`; returns the installation.
    async fn attach(&self, id: &str, settings: Value, interaction_settings: Value) -> Value {
        let installation = expect_json(
            self.post(
                "/installations",
                json!({"extension_id": id, "settings": settings}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(installation["built_in"], true, "{installation}");
        let path = format!("/interactions/{}/extensions", self.fx.join);
        let body = json!({"installation_id": installation["id"], "settings": interaction_settings});
        expect_json(self.post(&path, body).await, StatusCode::CREATED).await;
        installation
    }

    /// A new holder joins as `name`; returns the outcome.
    async fn join(&self, name: &str) -> Value {
        self.fx.join(&Holder::new(), name).await
    }

    /// How often the interaction webhook was called.
    fn hook_calls(&self) -> usize {
        self.fx.receiver.calls_to("/hook").len()
    }
}

async fn the_built_in_extensions_are_in_the_catalogue_without_an_author(backend: Backend) {
    let club = Club::new(backend).await;
    let response = club
        .fx
        .app
        .client
        .get(club.fx.app.url("/api/v1/catalogue/extensions"))
        .send()
        .await
        .unwrap();
    let catalogue = expect_json(response, StatusCode::OK).await;
    let built_in: Vec<&Value> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["built_in"] == true)
        .collect();
    let mut names: Vec<&str> = built_in
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Allow list check",
            "Chat notification",
            "Forward to an HTTP API",
            "SSI OAuth"
        ]
    );
    for entry in built_in {
        assert!(entry["author_did"].is_null(), "{entry}");
        assert_eq!(entry["latest_version"], "1.0.0");
        assert!(
            !entry["data_flows"].as_array().unwrap().is_empty(),
            "{entry}"
        );
    }
    // psi calls a built-in's URLs itself: one the outbound policy refuses is refused when saved.
    let response = club
        .post(
            "/installations",
            json!({"extension_id": "psichatnotification",
                   "settings": {"webhook_url": "http://10.1.2.3/hooks/chat"}}),
        )
        .await;
    let message = expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("setting `webhook_url`"), "{message}");
    assert!(message.contains("PSI_OUTBOUND_ALLOW_PRIVATE"), "{message}");
    club.fx.app.stop().await;
}

async fn the_allow_list_fails_the_event_unless_the_value_is_listed(backend: Backend) {
    let club = Club::new(backend).await;
    let settings =
        json!({"attribute": "Name", "allowed": "Ada\n  Grace \n", "message": "Members only"});
    club.attach("psiallowlist", json!({}), settings).await;

    let ada = club.join("Ada").await;
    assert_eq!(ada["state"], "completed", "{ada}");
    let grace = club.join("Grace").await;
    assert_eq!(grace["state"], "completed", "{grace}");
    assert_eq!(club.hook_calls(), 2);

    let bob = club.join("Bob").await;
    assert_eq!(bob["state"], "failed", "{bob}");
    assert_eq!(bob["message"], "Members only");
    // The check runs before the interaction webhook, which is not called for Bob.
    assert_eq!(club.hook_calls(), 2);
    let event = club.fx.event(bob["event_id"].as_str().unwrap()).await;
    let log = event["log"].to_string();
    assert!(log.contains("\\\"Bob\\\" is not on the list"), "{log}");
    club.fx.app.stop().await;
}

async fn the_allow_list_may_be_fetched_from_a_url_and_is_kept(backend: Backend) {
    let club = Club::new(backend).await;
    club.service
        .on("/list.json", Reply::json(json!(["ADA", "grace"])));
    let settings = json!({"attribute": "Name", "list_url": club.service.url("/list.json"),
                          "ignore_case": true});
    club.attach("psiallowlist", json!({}), settings).await;

    for name in ["Ada", "grace", "Grace"] {
        let outcome = club.join(name).await;
        assert_eq!(outcome["state"], "completed", "{name}: {outcome}");
    }
    let bob = club.join("Bob").await;
    assert_eq!(bob["state"], "failed", "{bob}");
    assert_eq!(bob["message"], "You are not on the list for this");
    // Fetched once for the four events.
    assert_eq!(club.service.calls_to("/list.json").len(), 1);
    club.fx.app.stop().await;
}

async fn forwarding_posts_the_mapped_attributes_with_the_api_key_and_fails_when_refused(
    backend: Backend,
) {
    let club = Club::new(backend).await;
    club.service.on("/contacts", Reply::json(json!({"id": 7})));
    let installation = club
        .attach(
            "psiforwardhttp",
            json!({"url": club.service.url("/contacts"), "api_key": API_KEY,
                   "api_key_header": "X-Crm-Key"}),
            json!({"mapping": "Name = full_name\nBorn=born\nMissing = nothing"}),
        )
        .await;
    assert_eq!(installation["secrets_set"], json!(["api_key"]));
    assert!(!installation.to_string().contains(API_KEY));

    let outcome = club.join("Ada").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let calls = club.service.calls_to("/contacts");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("x-crm-key"), Some(API_KEY));
    assert_eq!(
        calls[0].json(),
        json!({"full_name": "Ada", "born": "631152000", "nothing": null})
    );

    // A CRM that refuses the record fails the event, so the holder can try again.
    club.service.on("/contacts", Reply::status(500));
    let refused = club.join("Bob").await;
    assert_eq!(refused["state"], "failed", "{refused}");
    assert_eq!(
        refused["message"],
        "the extension \"Forward to an HTTP API\" answered HTTP 500"
    );
    club.fx.app.stop().await;
}

async fn the_chat_notification_posts_slack_json_and_retries(backend: Backend) {
    let club = Club::new(backend).await;
    // A Slack incoming webhook answers `ok` as text; this one is down twice first.
    club.service.on("/slack", Reply::text(200, "ok"));
    club.service
        .queue("/slack", [Reply::status(503), Reply::status(503)]);
    club.attach(
        "psichatnotification",
        json!({"webhook_url": club.service.url("/slack")}),
        json!({"template": "{interaction}: {outcome}, level {Level} for {Name} <!channel>"}),
    )
    .await;

    let outcome = club.join("Ada & <@U1>").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    // The event's log names the message, which the messages API follows.
    let event = club.fx.event(outcome["event_id"].as_str().unwrap()).await;
    let log = event["log"].to_string();
    assert!(
        log.contains("extension \\\"Chat notification\\\" on_finish: message "),
        "{log}"
    );
    let calls = club.service.wait_for_calls("/slack", 3, WITHIN).await;
    for call in &calls {
        assert_eq!(
            call.json(),
            json!({"text": "Join: completed, level 2 for Ada &amp; &lt;@\u{2060}U1&gt; <!channel>"})
        );
    }
    club.fx.app.stop().await;
}
