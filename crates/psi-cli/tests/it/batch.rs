//! `psi link batch`: links and QR files from a CSV file, bad rows reported and skipped over.

use std::path::Path;

use serde_json::Value;

use crate::common::{assert_fails, psi, read_qr_png, stderr, stdout};

const DID: &str = "GbzPqgnU4XsMs7xg9mYJW8";

fn credential() -> String {
    format!("{DID}:3:CL:200:tag")
}

fn write_template(dir: &Path) -> String {
    let template = serde_json::json!({
        "actionId": "100", "serviceDid": DID,
        "preparedCredentials": [{"credentialId": credential(), "attributes": [{"name": "Name", "value": ""}]}]
    });
    let path = dir.join("request.json");
    std::fs::write(&path, template.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn read_csv(text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect()
}

fn decode(link: &str) -> Value {
    let output = psi(&["link", "decode", "--compact", link], "");
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn rows_become_links_and_qr_files_while_bad_rows_are_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path());
    let rows = dir.path().join("rows.csv");
    std::fs::write(
        &rows,
        format!(
            "instance_id,callback,Name,{cred}:Member No\n\
             i-1,https://shop.example/done.html,Alice,1\n\
             i-2,javascript:alert(1),Bob,2\n\
             i-3,,\"Zoë, \"\"the\"\" 👋\",3\n\
             i-4,,Dan\n\
             ../../etc,,,5\n",
            cred = credential()
        ),
    )
    .unwrap();
    let qr_dir = dir.path().join("qr");
    let out = dir.path().join("out.csv");
    let output = psi(
        &[
            "link",
            "batch",
            rows.to_str().unwrap(),
            "--template",
            &template,
            "--env",
            "test",
            "--qr-dir",
            qr_dir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--ec",
            "L",
            "--module-size",
            "3",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("line 3: invalid request: callback scheme `javascript:` is refused"),
        "{err}"
    );
    assert!(
        err.contains("line 5: the row has 3 fields, the header has 4"),
        "{err}"
    );
    assert!(err.contains("batch: 3 rows ok, 2 failed, 5 in "), "{err}");
    assert!(err.contains("3 png QR codes in "), "{err}");
    assert!(output.stdout.is_empty());

    let records = read_csv(&std::fs::read_to_string(&out).unwrap());
    let header = csv::Reader::from_path(&out)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "instance_id",
            "callback",
            "Name",
            &format!("{}:Member No", credential()),
            "link",
            "qr_file",
            "error"
        ]
    );
    assert_eq!(records.len(), 5);
    let ok: Vec<&csv::StringRecord> = records.iter().filter(|r| r[6].is_empty()).collect();
    assert_eq!(
        ok.iter().map(|r| &r[0]).collect::<Vec<_>>(),
        ["i-1", "i-3", "../../etc"]
    );
    for record in &ok {
        let link = &record[4];
        assert!(
            link.starts_with("https://test.proofspace.id/native/execute/"),
            "{link}"
        );
        let qr_file = Path::new(&record[5]);
        assert_eq!(
            qr_file.parent().unwrap(),
            qr_dir,
            "QR files stay inside --qr-dir"
        );
        assert_eq!(read_qr_png(qr_file), link);
    }
    assert_eq!(std::fs::read_dir(&qr_dir).unwrap().count(), 3);
    assert!(records[1][4].is_empty() && records[1][5].is_empty());
    let short: Vec<&str> = records[3].iter().take(4).collect();
    assert_eq!(
        short,
        ["i-4", "", "Dan", ""],
        "short rows are padded in the output"
    );

    let zoe = decode(&ok[1][4]);
    assert_eq!(zoe["id"], "i-3");
    assert_eq!(
        zoe.get("callback"),
        None,
        "an empty cell keeps the template's (absent) value"
    );
    assert_eq!(
        zoe["preparedCredentials"][0]["attributes"],
        serde_json::json!([{"name": "Name", "value": "Zoë, \"the\" 👋"}, {"name": "Member No", "value": "3"}])
    );
    let first = decode(&ok[0][4]);
    assert_eq!(first["callback"], "https://shop.example/done.html");
    let empty_name = decode(&ok[2][4]);
    assert_eq!(
        empty_name["preparedCredentials"][0]["attributes"][0],
        serde_json::json!({"name": "Name", "value": ""})
    );
}

#[test]
fn rows_from_stdin_to_stdout_with_deep_links_and_svg_files() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path());
    let qr_dir = dir.path().join("svg");
    let output = psi(
        &[
            "link",
            "batch",
            "-",
            "--template",
            &template,
            "--deep",
            "--env",
            "staging",
            "--qr-dir",
            qr_dir.to_str().unwrap(),
            "--qr-format",
            "svg",
        ],
        "id,Name\na,1\nb,2\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let records = read_csv(&stdout(&output));
    assert_eq!(records.len(), 2);
    for (record, id) in records.iter().zip(["a", "b"]) {
        assert!(record[2].starts_with("stagezakaio://stage.proofspace.id/native/execute/"));
        assert_eq!(decode(&record[2])["id"], id);
        let svg = std::fs::read_to_string(&record[3]).unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
        assert!(record[3].ends_with(&format!("-{id}.svg")));
        assert!(record[4].is_empty());
    }
}

#[test]
fn links_without_qr_have_no_qr_file_column() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path());
    let output = psi(
        &["link", "batch", "-", "--template", &template],
        "Name\nAlice\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("Name,link,error\n"), "{text}");
    let link = &read_csv(&text)[0][1];
    assert_eq!(
        decode(link)["preparedCredentials"][0]["attributes"][0]["value"],
        "Alice"
    );
}

#[test]
fn bad_headers_templates_and_files_stop_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path());
    let bad_template = dir.path().join("bad.json");
    std::fs::write(&bad_template, r#"{"actionId":"1","serviceDid":"nope"}"#).unwrap();
    let two_creds = dir.path().join("two.json");
    std::fs::write(
        &two_creds,
        format!(
            r#"{{"actionId":"1","serviceDid":"{DID}","preparedCredentials":[
                {{"credentialId":"{DID}:3:CL:1:a","attributes":[]}},{{"credentialId":"{DID}:3:CL:2:b","attributes":[]}}]}}"#
        ),
    )
    .unwrap();
    let cases: [(&str, &str, &str); 5] = [
        (&template, "id,link\na,b\n", "which psi adds to the output"),
        (&template, "id,id\na,b\n", "fills the same field"),
        (
            two_creds.to_str().unwrap(),
            "Name\nx\n",
            "exactly one prepared credential",
        ),
        (
            bad_template.to_str().unwrap(),
            "id\na\n",
            "is not a valid request",
        ),
        (
            "/no/such/template.json",
            "id\na\n",
            "cannot read /no/such/template.json",
        ),
    ];
    for (template, rows, cause) in cases {
        let output = psi(&["link", "batch", "-", "--template", template], rows);
        assert_fails(&output, 1, cause);
        assert!(output.stdout.is_empty(), "no output rows for {cause}");
    }
    assert_fails(
        &psi(
            &["link", "batch", "/no/rows.csv", "--template", &template],
            "",
        ),
        1,
        "cannot open /no/rows.csv",
    );
}

#[test]
fn spreadsheet_exports_with_a_byte_order_mark_and_crlf_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path());
    let output = psi(
        &["link", "batch", "-", "--template", &template],
        "\u{feff}instance_id,Name\r\ni-1,Alice\r\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("instance_id,Name,link,error\n"), "{text}");
    let decoded = decode(&read_csv(&text)[0][2]);
    assert_eq!(decoded["id"], "i-1");
    assert_eq!(
        decoded["preparedCredentials"][0]["attributes"][0]["value"],
        "Alice"
    );
}
