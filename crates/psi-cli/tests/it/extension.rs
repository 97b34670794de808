//! `psi extension export` and `import` against a real server: a vendor's version goes to a file
//! and from it into another service; refusals print the server's message and exit 1.

use serde_json::{Value, json};

use crate::common::{assert_fails, psi, stderr, stdout};
use crate::wallet_env::{ADMIN_TOKEN, Env};

/// Creates a service; its DID.
fn service(env: &Env, name: &str) -> String {
    env.post("/api/v1/services", json!({"name": name}))["did"]
        .as_str()
        .expect("a DID")
        .to_owned()
}

/// Runs `psi extension <command>` against `env` as the admin, for the service `did`.
fn run(env: &Env, command: &str, did: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "extension",
        command,
        "--server",
        &env.url,
        "--token",
        ADMIN_TOKEN,
        "--did",
        did,
    ];
    all.extend(args);
    psi(&all, "")
}

#[test]
fn a_version_exported_to_a_file_imports_into_another_service() {
    let env = Env::start();
    let (vendor, club) = (service(&env, "CRM Vendor"), service(&env, "Club"));
    let extension = env.post(
        &format!("/api/v1/services/{vendor}/extensions"),
        json!({"name": "CRM Sync", "description": "Members to the CRM"}),
    )["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let manifest = json!({
        "version": "1.0.0",
        "triggers": {"on_finish": {"url": "https://crm.example/finished", "timeout_ms": 5000}},
        "service_settings": [{"name": "api_key", "type": "secret", "required": true}],
    });
    let versions = format!("/api/v1/services/{vendor}/extensions/{extension}/versions");
    let published = env.post(&versions, manifest);

    let file = env.dir.path().join("crm.json");
    let path = file.to_str().unwrap();
    let export = ["--id", extension.as_str(), "--version", "1.0.0"];
    let to_file = [export.as_slice(), &["-o", path]].concat();
    let written = run(&env, "export", &vendor, &to_file);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert_eq!(stdout(&written), "");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("{\n  \"format\": \"psi-extension/1\",\n  \"name\": \"CRM Sync\""),
        "the format first, pretty: {text}"
    );
    let printed = run(&env, "export", &vendor, &export);
    assert_eq!(stdout(&printed), text, "without -o, the same on stdout");

    let imported = run(&env, "import", &club, &[path, "--visibility", "public"]);
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let line = stdout(&imported);
    assert!(
        line.starts_with("imported \"CRM Sync\" 1.0.0 into extension ")
            && line.ends_with(" (public)\n"),
        "{line}"
    );
    let listed = env.get(&format!("/api/v1/services/{club}/extensions"));
    let copy = &listed["data"][0];
    assert_eq!(copy["name"], "CRM Sync");
    assert_eq!(copy["author_did"], club.as_str());
    let copy = copy["id"].as_str().unwrap();
    assert!(line.contains(copy), "{line}");
    let mut stored = env.get(&format!(
        "/api/v1/services/{club}/extensions/{copy}/versions/1.0.0"
    ));
    let mut original = published;
    for version in [&mut stored, &mut original] {
        version.as_object_mut().unwrap().remove("created_at");
    }
    assert_eq!(stored, original, "the same manifest");

    // Refusals: the server's message, exit status 1.
    let again = run(&env, "import", &club, &[path]);
    assert_fails(&again, 1, "version 1.0.0 is not above the latest");
    let mut newer: Value = serde_json::from_str(&text).unwrap();
    newer["format"] = json!("psi-extension/2");
    std::fs::write(&file, newer.to_string()).unwrap();
    let unknown = run(&env, "import", &club, &[path]);
    assert_fails(&unknown, 1, "\"psi-extension/2\" is not one this psi reads");
    std::fs::write(&file, "{\"format\": ").unwrap();
    assert_fails(
        &run(&env, "import", &club, &[path]),
        1,
        "is not a JSON document",
    );
    let missing = ["--id", extension.as_str(), "--version", "9.9.9"];
    assert_fails(
        &run(&env, "export", &vendor, &missing),
        1,
        "version not found",
    );
    let builtin = ["--id", "psiallowlist", "--version", "1.0.0"];
    assert_fails(
        &run(&env, "export", &club, &builtin),
        1,
        "built-in extensions run only inside psi",
    );
}
