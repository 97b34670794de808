//! `psi wallet` end to end: the real binary against a real server and webhook receiver, each
//! test on both backends (SQLite and PostgreSQL, see `wallet_env`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, assert_fails, stderr, stdout};
use crate::wallet_env::{Env, Reply, Seed, link_of};

/// Runs each named `fn name(backend: Backend)` once per backend, as the tests `name::sqlite` and
/// `name::postgres`. A test function left out of the list is dead code, which the build reports.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(crate::common::Backend::Sqlite)
            }

            #[test]
            fn postgres() {
                super::$name(crate::common::Backend::Postgres)
            }
        }
    )+};
}

backend_tests!(
    run_completes_verifies_and_stores_the_issued_credential,
    human_output_shows_the_outcome_and_the_callback,
    a_prefilled_link_presents_its_values_and_they_cannot_be_changed,
    a_missing_attribute_or_an_unknown_one_is_named,
    a_service_attested_credential_comes_from_the_wallet_newest_and_not_revoked,
    a_failure_reply_fails_the_run_with_its_message,
    a_waiting_event_then_sync_collects_revocations,
    sync_collects_credentials_a_third_party_issues_after_the_event,
    sync_collects_credentials_a_third_party_pushes_without_an_event,
    a_one_time_short_link_of_psi_itself_runs_once,
    show_decodes_the_jwt_and_checks_revocation_with_the_server,
    a_source_url_link_is_resolved_once,
    paused_and_unknown_interactions_and_bad_links_fail_clearly,
    the_default_wallet_lives_under_home,
    another_services_credential_is_presented_and_auto_runs_its_issuer_first,
);

const CALLBACK: &str = "https://shop.example/done";

fn issue_gold(env: &Env, seed: &Seed) {
    env.reply(Reply::Issue(vec![(
        seed.member.clone(),
        vec![("Level".into(), "gold".into())],
    )]));
}

/// Runs Join with both contact values given as flags; returns the JSON outcome.
fn join(env: &Env, seed: &Seed) -> Value {
    let link = env.link(seed, &seed.join, &[], Some(CALLBACK));
    env.wallet_json(
        &[
            "run",
            &link,
            "--attr",
            "Name=Alice",
            "--attr",
            "Email=alice@example.org",
        ],
        0,
    )
}

fn fields(call: &Value) -> Vec<(String, String)> {
    call["receivedCredentials"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["value"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The one credential a run issued: the gold member credential `issue_gold` scripts.
fn issued_gold<'a>(out: &'a Value, seed: &Seed) -> &'a [Value] {
    let issued = out["issued"].as_array().expect("issued");
    assert_eq!(issued.len(), 1, "{out}");
    assert_eq!(issued[0]["credential_id"], seed.member.as_str());
    assert_eq!(
        issued[0]["attributes"],
        json!([{"name": "Level", "value": "gold"}])
    );
    issued
}

/// How many credentials the wallet holds.
fn held(env: &Env) -> usize {
    env.wallet_json(&["list"], 0)["credentials"]
        .as_array()
        .expect("a list")
        .len()
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn run_completes_verifies_and_stores_the_issued_credential(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let out = join(&env, &seed);

    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["callback"], CALLBACK);
    assert_eq!(out["message"], Value::Null);
    let issued = issued_gold(&out, &seed);
    assert_eq!(issued[0]["holder_did"], out["holder_did"]);
    assert_eq!(issued[0]["service_did"], seed.did.as_str());
    assert_eq!(issued[0]["status"], "valid");

    // The third party saw the values the wallet presented, signed by psi.
    let calls = env.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["actionEventId"], out["event_id"]);
    assert_eq!(calls[0]["subscriberConnectDid"], out["holder_did"]);
    assert_eq!(
        fields(&calls[0]),
        [pair("Name", "Alice"), pair("Email", "alice@example.org")]
    );

    // The server's event log agrees, and the credential is the server's.
    let event = env.get(&format!(
        "/api/v1/services/{}/events/{}",
        seed.did,
        out["event_id"].as_str().unwrap()
    ));
    assert_eq!(event["state"], "completed", "{event}");
    let listed = env.get(&format!("/api/v1/services/{}/credentials", seed.did));
    assert!(
        listed
            .to_string()
            .contains(issued[0]["jti"].as_str().unwrap()),
        "{listed}"
    );

    // Stored in a private wallet file, listed by the wallet.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env.wallet).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let list = env.wallet_json(&["list"], 0);
    let credentials = list["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["jti"], issued[0]["jti"]);
    assert_eq!(credentials[0]["index"], 1);
    assert_eq!(credentials[0]["service_name"], "Wallet test service");
}

fn human_output_shows_the_outcome_and_the_callback(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let link = env.link(&seed, &seed.join, &[], Some(CALLBACK));
    let output = env.wallet(&[
        "run",
        &link,
        "--attr",
        "Name=Alice",
        "--attr",
        "Email=a@x.org",
    ]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(text.contains("Join"), "{text}");
    assert!(text.contains("completed"), "{text}");
    assert!(
        text.contains(&format!("Callback:      {CALLBACK}")),
        "{text}"
    );
    assert!(text.contains("Level: gold"), "{text}");

    let list = stdout(&env.wallet(&["list"]));
    let header = list.lines().next().unwrap();
    for column in ["JTI", "SERVICE", "DEFINITION", "ISSUED", "STATUS"] {
        assert!(header.contains(column), "{list}");
    }
    assert!(
        list.contains(&seed.member) && list.contains("valid"),
        "{list}"
    );
}

fn a_prefilled_link_presents_its_values_and_they_cannot_be_changed(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let link = env.link(&seed, &seed.join, &[(&seed.contact, "Name", "Bob")], None);

    let out = env.wallet_json(&["run", &link, "--attr", "Email=bob@example.org"], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["callback"], Value::Null);
    assert_eq!(
        fields(&env.calls()[0]),
        [pair("Name", "Bob"), pair("Email", "bob@example.org")]
    );

    // Repeating the pre-filled value is fine; changing it is refused before anything is sent.
    let same = env.wallet_json(
        &[
            "run",
            &link,
            "--attr",
            "Name=Bob",
            "--attr",
            "Email=b@x.org",
        ],
        0,
    );
    assert_eq!(same["state"], "completed");
    let output = env.wallet(&[
        "run",
        &link,
        "--attr",
        "Name=Mallory",
        "--attr",
        "Email=m@x.org",
    ]);
    assert_fails(&output, 1, "pre-filled by the link with \"Bob\"");
    assert_eq!(env.calls().len(), 2);
}

fn a_missing_attribute_or_an_unknown_one_is_named(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    let link = env.link(&seed, &seed.join, &[], None);
    let output = env.wallet(&["run", &link, "--attr", "Name=Alice"]);
    assert_fails(&output, 1, "missing attribute \"Email\"");
    assert_fails(&output, 1, "--attr 'Email=VALUE'");

    let output = env.wallet(&[
        "run", &link, "--attr", "Name=A", "--attr", "Email=e", "--attr", "Phone=1",
    ]);
    assert_fails(&output, 1, "--attr Phone");
    assert!(env.calls().is_empty());
}

fn a_service_attested_credential_comes_from_the_wallet_newest_and_not_revoked(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    let enter = env.link(&seed, &seed.enter, &[], None);

    let output = env.wallet(&["run", &enter]);
    assert_fails(
        &output,
        1,
        &format!("requires the service-attested credential {}", seed.member),
    );

    issue_gold(&env, &seed);
    let first = join(&env, &seed)["issued"][0]["jti"].clone();
    env.reply(Reply::Issue(vec![(
        seed.member.clone(),
        vec![pair("Level", "platinum")],
    )]));
    let second = join(&env, &seed)["issued"][0]["jti"].clone();
    assert_ne!(first, second);

    env.reply(Reply::Later);
    let out = env.wallet_json(&["run", &enter], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["presented"][0]["jti"], second);
    assert_eq!(
        fields(env.calls().last().unwrap()),
        [pair("Level", "platinum")]
    );

    // Revoked on the server: the wallet learns it when it checks and falls back to the older
    // credential, which the server refuses under *only last*.
    let revoke = format!(
        "/api/v1/services/{}/credentials/{}/revoke",
        seed.did,
        second.as_str().unwrap()
    );
    env.api(Method::POST, &revoke, Some(json!({})));
    let out = env.wallet_json(&["run", &enter], 4);
    assert_eq!(out["presented"][0]["jti"], first);
    assert_eq!(out["state"], "failed");
    assert!(
        out["message"].as_str().unwrap().contains("most recent"),
        "{out}"
    );
    let list = env.wallet_json(&["list"], 0);
    assert_eq!(list["credentials"][1]["status"], "revoked");
}

fn a_failure_reply_fails_the_run_with_its_message(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    env.reply(Reply::Fail("Membership is closed today".into()));
    let link = env.link(&seed, &seed.join, &[], Some(CALLBACK));
    let args = [
        "run",
        link.as_str(),
        "--attr",
        "Name=A",
        "--attr",
        "Email=e",
    ];

    let out = env.wallet_json(&args, 4);
    assert_eq!(out["state"], "failed");
    assert_eq!(out["message"], "Membership is closed today");
    assert_eq!(out["callback"], Value::Null);
    assert_eq!(out["issued"], json!([]));

    let output = env.wallet(&args);
    assert_eq!(output.status.code(), Some(4));
    let text = stdout(&output);
    assert!(
        text.contains("failed") && text.contains("Membership is closed today"),
        "{text}"
    );
    assert!(!text.contains("Callback"), "{text}");
    assert_eq!(held(&env), 0);
}

fn a_waiting_event_then_sync_collects_revocations(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    env.reply(Reply::Later);
    let waiting = join(&env, &seed);
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    assert_eq!(waiting["issued"], json!([]));
    assert_eq!(waiting["callback"], CALLBACK);

    issue_gold(&env, &seed);
    let jti = join(&env, &seed)["issued"][0]["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let synced = env.wallet_json(&["sync"], 0);
    assert_eq!(synced["received"], 0);
    assert_eq!(synced["revoked"], 0);
    assert_eq!(synced["services"][0]["service_did"], seed.did.as_str());

    // A third party revokes it through a later event's reply.
    env.reply(Reply::Revoke(vec![jti.clone()]));
    join(&env, &seed);
    let synced = env.wallet_json(&["sync"], 0);
    assert_eq!(synced["revoked"], 1, "{synced}");
    assert_eq!(synced["services"][0]["revoked"], json!([jti]));
    let list = env.wallet_json(&["list"], 0);
    assert_eq!(list["credentials"][0]["status"], "revoked");
    // Nothing new the second time.
    assert_eq!(env.wallet_json(&["sync"], 0)["revoked"], 0);
}

fn sync_collects_credentials_a_third_party_issues_after_the_event(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    let secret = env.authorise_issuer(&seed);
    env.reply(Reply::Later);
    let waiting = join(&env, &seed);
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    let (holder, event) = (
        waiting["holder_did"].as_str().unwrap(),
        waiting["event_id"].as_str().unwrap(),
    );

    let answer = env.credentials_issued(&seed, &secret, holder, event, "silver");
    assert_eq!(answer["ok"], true, "{answer}");
    let synced = env.wallet_json(&["sync"], 0);
    assert_eq!(synced["received"], 1, "{synced}");
    let received = &synced["services"][0]["received"][0];
    assert_eq!(received["credential_id"], seed.member.as_str());
    assert_eq!(
        received["attributes"],
        json!([{"name": "Level", "value": "silver"}])
    );
    assert_eq!(received["event_id"], event);
    assert_eq!(received["holder_did"], holder);

    // Delivered once; the wallet presents it like any other.
    assert_eq!(env.wallet_json(&["sync"], 0)["received"], 0);
    let enter = env.link(&seed, &seed.enter, &[], None);
    let out = env.wallet_json(&["run", &enter], 0);
    assert_eq!(out["presented"][0]["jti"], received["jti"]);
    assert_eq!(
        fields(env.calls().last().unwrap()),
        [pair("Level", "silver")]
    );
}

fn sync_collects_credentials_a_third_party_pushes_without_an_event(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    let secret = env.authorise_issuer(&seed);
    let reward = env.post(
        &format!("/api/v1/services/{}/interactions", seed.did),
        json!({"name": "Reward", "media": ["PUSH"], "issued_credentials": [seed.member]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The wallet meets the service (its pairwise DID) through an ordinary run.
    issue_gold(&env, &seed);
    let met = join(&env, &seed);
    assert_eq!(met["state"], "completed", "{met}");
    let holder = met["holder_did"].as_str().unwrap().to_owned();
    assert_eq!(env.wallet_json(&["sync"], 0)["received"], 0);

    // The third party pushes a credential to that DID: no waiting event, no webhook call.
    let answer = env.push_credentials(&seed, &secret, &reward, &holder, "silver");
    assert_eq!(answer["ok"], true, "{answer}");
    let pushed = answer["issued"][0]["jti"].as_str().unwrap().to_owned();
    let event_id = answer["eventId"].as_str().unwrap().to_owned();
    assert_ne!(event_id, met["event_id"].as_str().unwrap());
    let event = env.get(&format!("/api/v1/services/{}/events/{event_id}", seed.did));
    assert_eq!(event["state"], "completed", "{event}");
    assert_eq!(event["interaction_id"], reward.as_str());
    assert_eq!(event["holder_did"], holder.as_str());
    assert_eq!(env.calls().len(), 1, "only the Join run called the webhook");

    let synced = env.wallet_json(&["sync"], 0);
    assert_eq!(synced["received"], 1, "{synced}");
    assert_eq!(synced["revoked"], 0);
    assert_eq!(synced["services"][0]["service_did"], seed.did.as_str());
    assert_eq!(synced["services"][0]["error"], Value::Null);
    let received = &synced["services"][0]["received"][0];
    assert_eq!(received["jti"], pushed.as_str());
    assert_eq!(received["credential_id"], seed.member.as_str());
    assert_eq!(
        received["attributes"],
        json!([{"name": "Level", "value": "silver"}])
    );
    assert_eq!(received["holder_did"], holder.as_str());
    assert_eq!(received["service_did"], seed.did.as_str());
    assert_eq!(received["event_id"], event_id.as_str());
    assert_eq!(received["status"], "valid");

    let list = env.wallet_json(&["list"], 0);
    let credentials = list["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 2, "{list}");
    assert_eq!(credentials[0]["jti"], met["issued"][0]["jti"]);
    assert_eq!(credentials[1]["jti"], pushed.as_str());
    assert_eq!(credentials[1]["index"], 2);
    assert_eq!(credentials[1]["status"], "valid");
    let table = stdout(&env.wallet(&["list"]));
    assert!(table.contains(&pushed), "{table}");

    // Collected once: the next sync brings nothing; a later push comes in the human report.
    let output = env.wallet(&["sync"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("0 new, 0 revoked"), "{text}");
    assert!(!text.contains(&pushed), "{text}");
    let answer = env.push_credentials(&seed, &secret, &reward, &holder, "bronze");
    let bronze = answer["issued"][0]["jti"].as_str().unwrap();
    let output = env.wallet(&["sync"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("Wallet test service") && text.contains("1 new, 0 revoked"),
        "{text}"
    );
    assert!(
        text.contains(&format!("received {bronze} {}", seed.member)),
        "{text}"
    );
    assert!(text.contains("Level: bronze"), "{text}");
    assert_eq!(env.wallet_json(&["sync"], 0)["received"], 0);
    assert_eq!(held(&env), 3);
}

fn a_one_time_short_link_of_psi_itself_runs_once(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let created = env.post(
        &format!(
            "/api/v1/services/{}/interactions/{}/link/source",
            seed.did, seed.join
        ),
        json!({"one_time": true, "callback": CALLBACK,
               "prefill": [{"credential_id": seed.contact, "name": "Name", "value": "Dora"}]}),
    );
    assert_eq!(created["one_time"], true);
    let source_url = created["source_url"].as_str().unwrap();
    assert!(
        source_url.starts_with(&format!("{}/r/", env.url)),
        "{created}"
    );
    assert_eq!(created["request"], json!({"sourceURL": source_url}));
    let link = created["app_link"].as_str().unwrap();
    let decoded = psi_link::decode(link).unwrap();
    assert_eq!(decoded.request.source_url.as_deref(), Some(source_url));
    assert_eq!(decoded.request.action_id, None);

    // The wallet downloads the stored request: interaction, pre-filled value and callback.
    let out = env.wallet_json(&["run", link, "--attr", "Email=dora@example.org"], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["interaction"]["actionId"], seed.join.as_str(), "{out}");
    assert_eq!(out["callback"], CALLBACK);
    issued_gold(&out, &seed);
    assert_eq!(
        fields(&env.calls()[0]),
        [pair("Name", "Dora"), pair("Email", "dora@example.org")]
    );

    // Used: the second run is refused before any event starts.
    let events = format!("/api/v1/services/{}/events", seed.did);
    assert_eq!(env.get(&events)["data"].as_array().unwrap().len(), 1);
    let output = env.wallet(&["run", link, "--attr", "Email=dora@example.org"]);
    assert_fails(
        &output,
        1,
        &format!("cannot use the link's sourceURL {source_url}"),
    );
    assert_fails(
        &output,
        1,
        "HTTP 410: this one-time link has already been used",
    );
    assert_eq!(env.calls().len(), 1);
    assert_eq!(env.get(&events)["data"].as_array().unwrap().len(), 1);
    assert_eq!(held(&env), 1);
}

fn show_decodes_the_jwt_and_checks_revocation_with_the_server(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let out = join(&env, &seed);
    let jti = out["issued"][0]["jti"].as_str().unwrap();

    let shown = env.wallet_json(&["show", "1"], 0);
    assert_eq!(shown["jti"], jti);
    assert_eq!(shown["header"]["alg"], "EdDSA");
    assert_eq!(shown["header"]["kid"], format!("{}#key-1", seed.did));
    assert_eq!(shown["claims"]["sub"], out["holder_did"]);
    assert_eq!(shown["claims"]["vc"]["credentialSubject"]["Level"], "gold");
    assert_eq!(shown["status"], "valid");
    assert_eq!(shown["status_check"]["checked"], true);

    let revoke = format!("/api/v1/services/{}/credentials/{jti}/revoke", seed.did);
    env.api(Method::POST, &revoke, Some(json!({})));
    let shown = env.wallet_json(&["show", jti], 0);
    assert_eq!(shown["status"], "revoked");
    assert!(shown["revoked_at"].is_i64(), "{shown}");
    let text = stdout(&env.wallet(&["show", jti]));
    assert!(
        text.contains("revoked since") && text.contains("\"alg\": \"EdDSA\""),
        "{text}"
    );

    // The server is gone: the last status seen, said to be so.
    let output = env.psi_with(
        &["show", "1", "--json", "--server", "http://127.0.0.1:9"],
        &[("PSI_WALLET", env.wallet.to_str().unwrap())],
    );
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["status_check"]["checked"], false);
    assert_eq!(shown["status"], "revoked");

    assert_fails(&env.wallet(&["show", "7"]), 1, "no credential \"7\"");
}

fn a_source_url_link_is_resolved_once(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let source = env.serve_source(json!({
        "actionId": seed.join, "serviceDid": seed.did,
        "preparedCredentials": [{"credentialId": seed.contact, "attributes": [{"name": "Name", "value": "Carol"}]}],
        "sourceURL": "http://127.0.0.1:9/never-fetched"
    }));
    let link = link_of(&psi_link::LinkRequest {
        source_url: Some(source),
        ..Default::default()
    });
    let out = env.wallet_json(&["run", &link, "--attr", "Email=c@example.org"], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(fields(&env.calls()[0])[0], pair("Name", "Carol"));
}

fn paused_and_unknown_interactions_and_bad_links_fail_clearly(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    let path = format!("/api/v1/services/{}/interactions/{}", seed.did, seed.join);
    env.api(Method::PATCH, &path, Some(json!({"active": false})));
    let link = env.link(&seed, &seed.join, &[], None);
    assert_fails(&env.wallet(&["run", &link]), 1, "HTTP 409");

    let unknown = env.link(&seed, "no-such-interaction", &[], None);
    assert_fails(&env.wallet(&["run", &unknown]), 1, "HTTP 404");

    assert_fails(
        &env.wallet(&["run", "https://example.org/x"]),
        1,
        "invalid link",
    );
    let nobody = env.psi_with(
        &["run", &link, "--server", "http://127.0.0.1:9"],
        &[("PSI_WALLET", env.wallet.to_str().unwrap())],
    );
    assert_fails(
        &nobody,
        1,
        "cannot reach the psi server at http://127.0.0.1:9",
    );
}

fn the_default_wallet_lives_under_home(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    issue_gold(&env, &seed);
    let home = env.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let link = env.link(&seed, &seed.join, &[], None);
    let output = env.psi_with(
        &["run", &link, "--attr", "Name=A", "--attr", "Email=e"],
        &[("HOME", home.to_str().unwrap())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let file = home.join(".local/share/psi/wallet.json");
    let wallet: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(wallet["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(wallet["connections"][0]["service_did"], seed.did.as_str());
}

/// Every JSON object `psi wallet --json` printed, in order.
fn json_objects(stdout: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON objects")
}

fn another_services_credential_is_presented_and_auto_runs_its_issuer_first(backend: Backend) {
    let env = Env::start_on(backend);
    let seed = env.seed();
    // A bank that accepts the seed service's member credential.
    let bank = env.post("/api/v1/services", json!({"name": "Bank"}))["did"]
        .as_str()
        .unwrap()
        .to_owned();
    let open = env.post(
        &format!("/api/v1/services/{bank}/interactions"),
        json!({"name": "Open an account",
               "required_credentials": [{"credential_id": seed.member}]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = link_of(&psi_link::LinkRequest {
        action_id: Some(open.clone()),
        service_did: Some(bank.clone()),
        ..Default::default()
    });

    // Without the credential: the error names where to get it, with a link that runs there.
    let output = env.wallet(&["run", &link]);
    assert_fails(&output, 1, "Interactions that issue it:");
    let err = stderr(&output);
    assert!(err.contains("Wallet test service: \"Join\""), "{err}");
    assert!(err.contains("--auto"), "{err}");
    let join_link = err
        .split_whitespace()
        .find(|word| word.starts_with("https://"))
        .expect("a link");
    let decoded = psi_link::decode(join_link).unwrap().request;
    assert_eq!(decoded.action_id.as_deref(), Some(seed.join.as_str()));

    // --auto joins the seed service first (its values from --attr), then opens the account.
    issue_gold(&env, &seed);
    let output = env.wallet(&[
        "run",
        "--auto",
        "--json",
        "--attr",
        "Name=Alice",
        "--attr",
        "Email=alice@example.org",
        &link,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let runs = json_objects(&stdout(&output));
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["interaction"]["actionId"], seed.join.as_str());
    assert_eq!(runs[0]["state"], "completed");
    let member_jti = runs[0]["issued"][0]["jti"].clone();
    assert_eq!(runs[1]["interaction"]["actionId"], open.as_str());
    assert_eq!(runs[1]["state"], "completed", "{}", runs[1]);
    assert_eq!(runs[1]["presented"][0]["jti"], member_jti);
    // The bank knows the holder by another pairwise DID than the seed service does.
    assert_ne!(runs[0]["holder_did"], runs[1]["holder_did"]);

    // Held now: a plain run presents it.
    let out = env.wallet_json(&["run", &link], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["presented"][0]["jti"], member_jti);

    // Required by schema from trusted issuers, the same credential is found by its schema.
    let by_schema = env.post(
        &format!("/api/v1/services/{bank}/interactions"),
        json!({"name": "Members of trusted clubs", "required_schemas": [
            {"schema_id": format!("{}:2:Member:1.0", seed.did), "trusted_issuers": [seed.did]}]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = link_of(&psi_link::LinkRequest {
        action_id: Some(by_schema),
        service_did: Some(bank.clone()),
        ..Default::default()
    });
    let out = env.wallet_json(&["run", &link], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["presented"][0]["jti"], member_jti);
    assert_eq!(out["presented"][0]["credential_id"], seed.member.as_str());
}
