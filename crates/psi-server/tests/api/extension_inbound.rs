//! Calls on an extension's behalf (docs/extensions.md): a vendor authors "CRM" with an inbound
//! key; the club (the inbound tests' [`Scene`], whose "Join" waits for `credentials-issued`)
//! installs it, and the CRM calls the club's `credentials-issued` naming the installation
//! (`X-Psi-Extension`). Only the inbound key authenticates such a call, and only for the
//! interactions the installation is attached to.

use psi_testkit::{Receiver, Reply};
use psi_webhook::{PrivateKey, SharedSecret, Signer, UnixTime};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::Holder;
use crate::extensions::{Api, Service, id};
use crate::helpers::{Backend, expect_json};
use crate::inbound::support::{Auth, DASHBOARD, Scene, expect_refusal};

backend_tests!(
    a_call_with_the_inbound_sha_secret_completes_an_event_of_an_attached_interaction,
    a_call_signed_with_the_inbound_rsa_key_completes_or_fails_an_event,
    an_installation_acts_only_on_attached_interactions_their_credentials_and_while_enabled,
    an_installation_of_another_service_or_none_is_refused,
    without_the_header_the_definitions_issuers_still_decide,
);

/// The extension's name.
const NAME: &str = "CRM";
/// The vendor's key that authenticates the CRM's calls into psi.
const INBOUND_KEY: &str = "crm-inbound";

/// How the CRM authenticates its calls: the inbound key's private half or shared secret.
enum Inbound {
    Secret(SharedSecret),
    Rsa(PrivateKey),
}

/// The club and the vendor, whose extension "CRM" (public, `on_receive` at a CRM that issues
/// nothing) has the inbound key [`INBOUND_KEY`]; the club has installed it, attached nowhere.
struct Setup {
    scene: Scene,
    club: Service,
    vendor: Service,
    /// Kept so that `on_receive` is answered.
    _crm: Receiver,
    extension: String,
    /// The club's installation.
    installation: String,
    inbound: Inbound,
}

impl Setup {
    /// With a SHA secret as the inbound key.
    async fn with_secret(backend: Backend) -> Self {
        Self::new(backend, json!({"type": "sha_secret"}), |created| {
            Inbound::Secret(SharedSecret::from_base64(created["secret"].as_str().unwrap()).unwrap())
        })
        .await
    }

    /// With an RSA public key as the inbound key.
    async fn with_rsa(backend: Backend) -> Self {
        let key = PrivateKey::generate().unwrap();
        let pem = key.public_key().to_spki_pem().unwrap();
        let body = json!({"type": "rsa_public_key", "public_key_pem": pem});
        Self::new(backend, body, |_| Inbound::Rsa(key)).await
    }

    /// The vendor makes its inbound key from `key` (the keys API's body, but the name); `inbound`
    /// tells how the CRM authenticates from the key created.
    async fn new(
        backend: Backend,
        mut key: Value,
        inbound: impl FnOnce(&Value) -> Inbound,
    ) -> Self {
        let scene = Scene::new(backend).await;
        let club = Service {
            did: scene.fx.did.clone(),
            token: scene.fx.token.clone(),
        };
        let vendor = Service::create(&scene.fx.app, "CRM Vendor").await;
        let as_vendor = Api {
            app: &scene.fx.app,
            service: &vendor,
        };
        key["name"] = json!(INBOUND_KEY);
        let created = expect_json(as_vendor.post("/keys", key).await, StatusCode::CREATED).await;
        let inbound = inbound(&created);
        let crm = Receiver::start().await;
        crm.on("/receive", Reply::json(json!({"issuedCredentials": []})));
        let extension = id(&expect_json(
            as_vendor
                .post(
                    "/extensions",
                    json!({"name": NAME, "visibility": "public", "inbound_key": INBOUND_KEY}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await);
        let manifest =
            json!({"version": "1.0.0", "triggers": {"on_receive": {"url": crm.url("/receive")}}});
        expect_json(
            as_vendor
                .post(&format!("/extensions/{extension}/versions"), manifest)
                .await,
            StatusCode::CREATED,
        )
        .await;
        let installed = Api {
            app: &scene.fx.app,
            service: &club,
        }
        .post(
            "/installations",
            json!({"extension_id": extension, "settings": {}}),
        )
        .await;
        let installation = id(&expect_json(installed, StatusCode::CREATED).await);
        Setup {
            scene,
            club,
            vendor,
            _crm: crm,
            extension,
            installation,
            inbound,
        }
    }

    fn club(&self) -> Api<'_> {
        Api {
            app: &self.scene.fx.app,
            service: &self.club,
        }
    }

    fn vendor(&self) -> Api<'_> {
        Api {
            app: &self.scene.fx.app,
            service: &self.vendor,
        }
    }

    /// The club attaches its installation to `action_id`.
    async fn attach(&self, action_id: &str) {
        let body = json!({"installation_id": self.installation, "settings": {}});
        let response = self
            .club()
            .post(&format!("/interactions/{action_id}/extensions"), body)
            .await;
        expect_json(response, StatusCode::CREATED).await;
    }

    /// The CRM's authentication, with the inbound key (a fresh token for a secret).
    fn crm(&self) -> Auth {
        match &self.inbound {
            Inbound::Secret(secret) => {
                Auth::Bearer(Signer::shared_secret(secret.clone()), self.scene.claims())
            }
            Inbound::Rsa(key) => Auth::Signature(key.clone()),
        }
    }

    /// POSTs `body` to the club's `endpoint` naming `installation`.
    async fn call_for(
        &self,
        installation: &str,
        endpoint: &str,
        body: &Value,
        auth: &Auth,
    ) -> Response {
        let raw = serde_json::to_vec(body).unwrap();
        let header = [("x-psi-extension", installation)];
        self.scene
            .call_raw(DASHBOARD, endpoint, raw, auth, &header)
            .await
    }

    /// `credentials-issued` naming `installation`, expected to act: returns the answer.
    async fn issued_for(&self, installation: &str, body: &Value, auth: &Auth) -> Value {
        let response = self
            .call_for(installation, "credentials-issued", body, auth)
            .await;
        let answer = expect_json(response, StatusCode::OK).await;
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    }

    /// `credentials-issued` naming `installation`, expected to be refused (403): returns why.
    async fn refused_for(&self, installation: &str, body: &Value, auth: &Auth) -> String {
        let response = self
            .call_for(installation, "credentials-issued", body, auth)
            .await;
        expect_refusal(response, StatusCode::FORBIDDEN, "forbidden").await
    }

    /// Asserts that event `event_id` still waits, its log ending with the refusal `message`.
    async fn assert_refused_on(&self, event_id: &str, message: &str) {
        let event = self.scene.fx.event(event_id).await;
        assert_eq!(event["state"], "waiting", "{event}");
        let logged = event["log"].as_array().unwrap().last().unwrap();
        assert_eq!(logged["kind"], "issue_refused", "{event}");
        assert_eq!(
            logged["detail"],
            format!("psi refused a call to credentials-issued (403 Forbidden): {message}")
        );
    }

    /// A waiting event of "Join" for a new holder, and a body issuing it a membership.
    async fn waiting_join(&self) -> (Holder, String, Value) {
        let holder = Holder::new();
        let event_id = self.scene.waiting_event(&holder).await;
        let membership = json!([self.scene.membership("2")]);
        let body = self.scene.issued_body(&event_id, &holder, membership);
        (holder, event_id, body)
    }
}

/// The detail of the last log entry of kind `kind` in `event`.
fn logged<'a>(event: &'a Value, kind: &str) -> &'a str {
    event["log"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|entry| entry["kind"] == kind)
        .and_then(|entry| entry["detail"].as_str())
        .unwrap_or_else(|| panic!("no {kind} entry: {event}"))
}

async fn a_call_with_the_inbound_sha_secret_completes_an_event_of_an_attached_interaction(
    backend: Backend,
) {
    let s = Setup::with_secret(backend).await;
    s.attach(&s.scene.fx.join).await;
    let (holder, event_id, body) = s.waiting_join().await;

    // The club's own secret authorises the membership, but not calls for the extension.
    let message = s
        .refused_for(&s.installation, &body, &s.scene.hs256())
        .await;
    assert!(
        message.contains(r#"the inbound key of extension "CRM" does not verify it"#),
        "{message}"
    );
    s.assert_refused_on(&event_id, &message).await;

    let answer = s.issued_for(&s.installation, &body, &s.crm()).await;
    assert_eq!(answer["eventId"], event_id.as_str());
    let event = s.scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "completed", "{event}");
    let who = format!(
        r#"extension "CRM" (installation {}, key "{INBOUND_KEY}")"#,
        s.installation
    );
    let received = logged(&event, "credentials_received");
    assert!(received.contains(&who), "{received}");
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);
    let inbox = holder.inbox(&s.scene.fx.app, &s.scene.fx.did).await;
    assert_eq!(inbox["credentials"].as_array().unwrap().len(), 1, "{inbox}");

    // Standard Webhooks, with the same secret.
    let Inbound::Secret(secret) = &s.inbound else {
        panic!("a SHA secret")
    };
    let (holder, event_id, body) = s.waiting_join().await;
    let raw = serde_json::to_vec(&body).unwrap();
    let now = UnixTime::now();
    let signature = Signer::shared_secret(secret.clone())
        .standard_webhooks_signature("msg_crm_1", now, &raw)
        .unwrap();
    let timestamp = now.as_secs().to_string();
    let headers = [
        ("x-psi-extension", s.installation.as_str()),
        ("webhook-id", "msg_crm_1"),
        ("webhook-timestamp", &timestamp),
        ("webhook-signature", &signature),
    ];
    let response = s
        .scene
        .call_raw(DASHBOARD, "credentials-issued", raw, &Auth::None, &headers)
        .await;
    assert_eq!(expect_json(response, StatusCode::OK).await["ok"], true);
    assert_eq!(s.scene.fx.event(&event_id).await["state"], "completed");
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);

    // Once the author removes the inbound key, nothing speaks for the extension.
    let extension = format!("/extensions/{}", s.extension);
    let response = s
        .vendor()
        .patch(&extension, json!({"inbound_key": null}))
        .await;
    expect_json(response, StatusCode::OK).await;
    let (_, event_id, body) = s.waiting_join().await;
    let message = s.refused_for(&s.installation, &body, &s.crm()).await;
    assert!(message.contains("has no inbound key"), "{message}");
    s.assert_refused_on(&event_id, &message).await;
}

async fn a_call_signed_with_the_inbound_rsa_key_completes_or_fails_an_event(backend: Backend) {
    let s = Setup::with_rsa(backend).await;
    s.attach(&s.scene.fx.join).await;
    let (holder, event_id, body) = s.waiting_join().await;

    // The partner's key is an issuer of the membership, not the extension's key.
    let message = s
        .refused_for(&s.installation, &body, &s.scene.signed())
        .await;
    assert!(
        message.contains(r#"the inbound key of extension "CRM" does not verify it"#),
        "{message}"
    );
    s.assert_refused_on(&event_id, &message).await;

    s.issued_for(&s.installation, &body, &s.crm()).await;
    assert_eq!(s.scene.fx.event(&event_id).await["state"], "completed");
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);

    let (_, event_id, _) = s.waiting_join().await;
    let failed = json!({"serviceDid": s.scene.fx.did, "subscriberEventId": event_id,
        "errorMessage": "the CRM is down"});
    let response = s
        .call_for(
            &s.installation,
            "credentials-issuing-failed",
            &failed,
            &s.crm(),
        )
        .await;
    assert_eq!(expect_json(response, StatusCode::OK).await["ok"], true);
    let event = s.scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "failed", "{event}");
    assert!(
        logged(&event, "failed").contains(r#"extension "CRM""#),
        "{event}"
    );
}

async fn an_installation_acts_only_on_attached_interactions_their_credentials_and_while_enabled(
    backend: Backend,
) {
    let s = Setup::with_secret(backend).await;
    s.attach(&s.scene.reward).await;

    // Attached to "Reward", not "Join".
    let (holder, event_id, body) = s.waiting_join().await;
    let message = s.refused_for(&s.installation, &body, &s.crm()).await;
    assert_eq!(
        message,
        format!(
            r#"extension "CRM" (installation {}) is not attached to interaction "Join""#,
            s.installation
        )
    );
    s.assert_refused_on(&event_id, &message).await;

    // "Reward" issues badges: the CRM may push one.
    let gold = json!([s.scene.badge("Gold")]);
    let push = s.scene.push_body(&holder, gold.clone(), json!([]));
    s.issued_for(&s.installation, &push, &s.crm()).await;
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);

    // Not revoke a membership, which "Reward" does not issue (the partner issued it in "Join").
    let membership = s.scene.issue(&body).await["issued"][0]["jti"].clone();
    let mut revoking = s.scene.push_body(&holder, gold, json!([]));
    revoking["revokedCredentials"] = json!([membership]);
    let message = s.refused_for(&s.installation, &revoking, &s.crm()).await;
    assert!(
        message.contains(r#"extension "CRM" acts only on the credentials interaction "Reward""#)
            && message.contains("Membership"),
        "{message}"
    );

    // Where the badge's calls may come from binds the extension too.
    let badge = &s.scene.fx.badge;
    let only = |prefixes: Value| json!({"source_ip_prefixes": prefixes});
    s.scene
        .set_definition(badge, only(json!(["10.0.0.0/8"])))
        .await;
    let message = s.refused_for(&s.installation, &push, &s.crm()).await;
    assert!(
        message.contains(r#"this one, for extension "CRM", came from 127.0.0.1"#),
        "{message}"
    );
    s.scene.set_definition(badge, only(json!([]))).await;

    // Disabled, it may do nothing.
    let path = format!("/installations/{}", s.installation);
    let response = s.club().patch(&path, json!({"enabled": false})).await;
    expect_json(response, StatusCode::OK).await;
    let message = s.refused_for(&s.installation, &push, &s.crm()).await;
    assert!(message.contains("is disabled"), "{message}");
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 2);
}

async fn an_installation_of_another_service_or_none_is_refused(backend: Backend) {
    let s = Setup::with_secret(backend).await;
    s.attach(&s.scene.fx.join).await;
    // The vendor installs its own extension: an installation, but not the club's.
    let installed = s
        .vendor()
        .post(
            "/installations",
            json!({"extension_id": s.extension, "settings": {}}),
        )
        .await;
    let vendors = id(&expect_json(installed, StatusCode::CREATED).await);
    let (holder, event_id, body) = s.waiting_join().await;
    for installation in [vendors.as_str(), "no-such-installation", ""] {
        let message = s.refused_for(installation, &body, &s.crm()).await;
        assert_eq!(
            message,
            format!("`X-Psi-Extension` {installation:?} is not an installation of this service")
        );
        s.assert_refused_on(&event_id, &message).await;
    }
    assert!(s.scene.credentials_of(&holder).await.is_empty());
    // The club's own installation, with the same key, acts.
    s.issued_for(&s.installation, &body, &s.crm()).await;
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);
}

async fn without_the_header_the_definitions_issuers_still_decide(backend: Backend) {
    let s = Setup::with_secret(backend).await;
    s.attach(&s.scene.fx.join).await;
    let (holder, event_id, body) = s.waiting_join().await;
    // The inbound key is the vendor's, which no definition of the club authorises.
    let message = s
        .scene
        .refused(
            "credentials-issued",
            &body,
            &s.crm(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    assert!(
        message.contains("no key authorised for calls from outside verifies it"),
        "{message}"
    );
    s.assert_refused_on(&event_id, &message).await;
    // The partner, an issuer, still completes the event, as itself.
    s.scene.issue(&body).await;
    let event = s.scene.fx.event(&event_id).await;
    assert_eq!(event["state"], "completed", "{event}");
    let received = logged(&event, "credentials_received");
    assert!(
        received.contains(r#"(key "partner""#) && !received.contains("extension"),
        "{received}"
    );
    assert_eq!(s.scene.credentials_of(&holder).await.len(), 1);
}
