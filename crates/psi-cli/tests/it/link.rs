//! `psi link encode` and `psi link decode` on the vectors, through the real binary.

use serde_json::Value;

use crate::common::{assert_fails, bad_vectors, good_vectors, psi, stderr, stdout};

#[test]
fn encoding_every_vector_payload_reproduces_its_app_and_deep_links() {
    for v in good_vectors() {
        let env = v["env"].as_str().unwrap();
        let payload = v["payload"].to_string();
        let app = psi(&["link", "encode", "--env", env, "-"], &payload);
        assert!(app.status.success(), "{}", stderr(&app));
        assert_eq!(
            stdout(&app),
            format!("{}\n", v["app_link"].as_str().unwrap())
        );
        let deep = psi(&["link", "encode", "--env", env, "--deep", "-"], &payload);
        assert_eq!(
            stdout(&deep),
            format!("{}\n", v["deep_link"].as_str().unwrap())
        );
    }
}

#[test]
fn decoding_every_vector_link_prints_its_payload() {
    for v in good_vectors() {
        for key in ["app_link", "deep_link", "standard_base64_app_link"] {
            let link = v[key].as_str().unwrap();
            let pretty = psi(&["link", "decode", link], "");
            assert!(pretty.status.success(), "{key}: {}", stderr(&pretty));
            assert!(stdout(&pretty).contains("\n  \""), "indented JSON");
            assert_eq!(
                serde_json::from_str::<Value>(&stdout(&pretty)).unwrap(),
                v["payload"]
            );
            assert!(stderr(&pretty).is_empty());

            let compact = psi(&["link", "decode", "--compact", link], "");
            assert_eq!(stdout(&compact).lines().count(), 1);
            assert_eq!(
                serde_json::from_str::<Value>(&stdout(&compact)).unwrap(),
                v["payload"]
            );
        }
    }
}

#[test]
fn every_bad_vector_exits_non_zero_naming_the_cause() {
    for (link, err) in bad_vectors() {
        let output = psi(&["link", "decode", &link], "");
        assert_fails(&output, 1, &format!("error: invalid link: {err}\n"));
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn show_origin_reports_kind_and_environment_on_stderr_and_keeps_stdout_json() {
    let v = good_vectors()
        .into_iter()
        .find(|v| v["env"] == "staging")
        .unwrap();
    let output = psi(
        &[
            "link",
            "decode",
            "--show-origin",
            "--compact",
            v["deep_link"].as_str().unwrap(),
        ],
        "",
    );
    assert_eq!(stderr(&output), "deep link, environment staging\n");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&output)).unwrap(),
        v["payload"]
    );

    let web_library = "https://app.test.proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEiLCJzZXJ2aWNlRGlkIjoiR2J6UHFnblU0WHNNczd4ZzltWUpXOCJ9";
    let output = psi(&["link", "decode", "-v", web_library], "");
    assert_eq!(
        stderr(&output),
        "app link, environment test (web-link library domain)\n"
    );
}

#[test]
fn links_are_read_from_stdin_with_a_dash() {
    let v = &good_vectors()[0];
    let output = psi(
        &["link", "decode", "-"],
        &format!("{}\n", v["app_link"].as_str().unwrap()),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&output)).unwrap(),
        v["payload"]
    );
}

#[test]
fn convenience_flags_build_the_same_link_as_a_request_file() {
    let did = "GbzPqgnU4XsMs7xg9mYJW8";
    let cred = format!("{did}:3:CL:200:tag");
    let file = serde_json::json!({
        "id": "inst-1", "actionId": "100", "serviceDid": did,
        "preparedCredentials": [{"credentialId": cred, "attributes": [
            {"name": "Name", "value": "Zoë 👋"}, {"name": "Member No", "value": "a=b"}]}],
        "callback": "googlechrome://"
    });
    let from_file = psi(&["link", "encode", "--env", "test", "-"], &file.to_string());
    let from_flags = psi(
        &[
            "link",
            "encode",
            "--env",
            "test",
            "--service-did",
            did,
            "--action-id",
            "100",
            "--instance-id",
            "inst-1",
            "--callback",
            "googlechrome://",
            "--attr",
            &format!("{cred}:Name=Zoë 👋"),
            "--attr",
            &format!("{cred}:Member No=a=b"),
        ],
        "",
    );
    assert!(from_flags.status.success(), "{}", stderr(&from_flags));
    assert_eq!(stdout(&from_flags), stdout(&from_file));

    let decoded = psi(&["link", "decode", stdout(&from_flags).trim()], "");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&decoded)).unwrap(),
        file
    );
}

#[test]
fn flags_override_request_file_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("request.json");
    std::fs::write(
        &path,
        r#"{"actionId":"1","serviceDid":"GbzPqgnU4XsMs7xg9mYJW8","unknown":[1]}"#,
    )
    .unwrap();
    let output = psi(
        &[
            "link",
            "encode",
            path.to_str().unwrap(),
            "--action-id",
            "2",
            "--source-url",
            "https://a.example/r.json",
        ],
        "",
    );
    let link = stdout(&output);
    let decoded = psi(&["link", "decode", "--compact", link.trim()], "");
    assert_eq!(
        stdout(&decoded),
        "{\"actionId\":\"2\",\"serviceDid\":\"GbzPqgnU4XsMs7xg9mYJW8\",\"sourceURL\":\"https://a.example/r.json\"}\n"
    );
}

#[test]
fn a_deployments_own_domain_and_scheme_encode_and_decode() {
    let target = ["--domain", "links.example.org", "--scheme", "exampleapp"];
    let mut args = vec![
        "link",
        "encode",
        "--deep",
        "--action-id",
        "1",
        "--service-did",
        "GbzPqgnU4XsMs7xg9mYJW8",
    ];
    args.extend(target);
    let link = stdout(&psi(&args, ""));
    assert!(
        link.starts_with("exampleapp://links.example.org/native/execute/"),
        "{link}"
    );

    assert_fails(
        &psi(&["link", "decode", link.trim()], ""),
        1,
        "unknown link scheme `exampleapp`",
    );
    let mut decode = vec!["link", "decode", "-v", link.trim()];
    decode.extend(target);
    let output = psi(&decode, "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "deep link, configured domain links.example.org\n"
    );
}

#[test]
fn invalid_requests_and_arguments_fail_with_the_cause() {
    let did = "GbzPqgnU4XsMs7xg9mYJW8";
    let cases: [(&[&str], &str, &str); 7] = [
        (
            &["link", "encode", "-"],
            "[1,2]",
            "standard input is not a JSON object",
        ),
        (&["link", "encode", "-"], "{", "standard input is not JSON"),
        (
            &["link", "encode", "-"],
            r#"{"serviceDid":"GbzPqgnU4XsMs7xg9mYJW8"}"#,
            "no `actionId`",
        ),
        (
            &["link", "encode", "--action-id", "1", "--service-did", "bad"],
            "",
            "malformed service DID `bad`",
        ),
        (
            &[
                "link",
                "encode",
                "--action-id",
                "1",
                "--service-did",
                did,
                "--attr",
                "x:3:CL:1:t:N=v",
            ],
            "",
            "malformed credential id",
        ),
        (&["link", "encode"], "", "no request"),
        (
            &["link", "encode", "/no/such/request.json"],
            "",
            "cannot read /no/such/request.json",
        ),
    ];
    for (args, stdin, cause) in cases {
        assert_fails(&psi(args, stdin), 1, cause);
    }
    let usage = psi(
        &[
            "link",
            "encode",
            "--attr",
            "no-equals-sign",
            "--action-id",
            "1",
        ],
        "",
    );
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("CREDENTIAL_ID:NAME=VALUE"));
    let conflict = psi(
        &[
            "link", "encode", "--env", "test", "--domain", "a.org", "--scheme", "a",
        ],
        "",
    );
    assert_eq!(conflict.status.code(), Some(2));
    assert_fails(
        &psi(
            &[
                "link",
                "encode",
                "--domain",
                "a.org:80",
                "--scheme",
                "a",
                "--action-id",
                "1",
                "--service-did",
                did,
            ],
            "",
        ),
        1,
        "invalid link domain",
    );
}

#[test]
fn help_texts_explain_every_command_with_examples() {
    for args in [
        &["--help"][..],
        &["link", "--help"],
        &["link", "encode", "--help"],
        &["link", "decode", "--help"],
        &["link", "batch", "--help"],
        &["qr", "--help"],
        &["serve", "--help"],
    ] {
        let output = psi(args, "");
        assert!(output.status.success());
        let help = stdout(&output);
        assert!(help.contains("Usage: psi"), "{args:?}");
        assert!(help.contains("Examples:\n  psi "), "{args:?}: {help}");
    }
    let serve = stdout(&psi(&["serve", "--help"], ""));
    for setting in [
        "PSI_OUTBOUND_ALLOW_LOOPBACK",
        "PSI_OUTBOUND_ALLOW_PRIVATE",
        "allowed_hosts",
    ] {
        assert!(
            serve.contains(setting),
            "psi serve --help names {setting}: {serve}"
        );
    }
}
