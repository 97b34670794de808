//! `psi extension`: an extension's version as a manifest file (docs/extensions.md, "Manifest
//! files"), through a psi server's management API: `export` writes one, `import` gives one to a
//! service of the same server or another.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use psi_server::domain::manifest_file::ManifestFile;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use super::health::{excerpt, failure};
use super::wallet::DEFAULT_SERVER;

/// Time for one call to the management API.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Export an extension's version as a manifest file; import one into a service.
#[derive(Args, Debug)]
#[command(
    long_about = "Move an extension between psi servers as a manifest file: one JSON document \
(format psi-extension/1, docs/extension-manifest.schema.json) holding the extension's name and \
description and one version's triggers, settings, output and required credentials. Ids, the \
author's DID and keys stay behind; the importing service chooses its own key.

`export` asks the server for a version of the service's own extension or of a public one and \
prints the document, or writes it to -o. `import` publishes the document's version to the \
service's extension of the same name, or creates that extension first (private unless \
--visibility public), and prints what it published.

Both call the management API of --server (or $PSI_SERVER, default http://127.0.0.1:8080) with \
--token (or $PSI_TOKEN): a token of the service --did, or the admin token.

Examples:
  psi extension export --token \"$TOKEN\" --did \"$DID\" --id \"$ID\" --version 1.0.0 -o crm.json
  psi extension import crm.json --server https://other.example --token \"$OTHER\" --did \"$OTHER_DID\"

Exit status: 0 success; 1 an error (the server's message is printed: unknown format, a version \
not above the latest, no such extension, ...); 2 a usage error."
)]
pub struct ExtensionArgs {
    #[command(subcommand)]
    command: ExtensionCommand,
}

#[derive(Subcommand, Debug)]
enum ExtensionCommand {
    Export(ExportArgs),
    Import(ImportArgs),
}

/// The server, the token and the service every call names.
#[derive(Args, Debug)]
struct ServiceArgs {
    /// The psi server's base URL
    #[arg(long, value_name = "URL", env = "PSI_SERVER", default_value = DEFAULT_SERVER)]
    server: String,
    /// A token of the service, or the admin token
    #[arg(long, value_name = "TOKEN", env = "PSI_TOKEN", hide_env_values = true)]
    token: String,
    /// The service's public DID
    #[arg(long, value_name = "DID")]
    did: String,
}

/// Print a version of an extension as a manifest file, or write it to a file.
#[derive(Args, Debug)]
struct ExportArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// The extension's id
    #[arg(long, value_name = "ID")]
    id: String,
    /// The version, MAJOR.MINOR.PATCH
    #[arg(long, value_name = "VERSION")]
    version: String,
    /// Write the document to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Publish the version in a manifest file to a service's extension of its name, creating it if
/// needed.
#[derive(Args, Debug)]
struct ImportArgs {
    /// The manifest file (`-`: standard input)
    #[arg(value_name = "FILE")]
    file: String,
    #[command(flatten)]
    service: ServiceArgs,
    /// Who sees the extension, when the import creates it [default: private]
    #[arg(long, value_parser = ["private", "public"])]
    visibility: Option<String>,
    /// The service's key that signs the triggers' calls, when the import creates the extension
    /// [default: default]
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// How the calls are authenticated, when the import creates the extension [default:
    /// signature]
    #[arg(long, value_parser = ["signature", "bearer", "standard_webhooks"])]
    auth: Option<String>,
    /// The service's key that authenticates the third party's calls on the extension's behalf,
    /// when the import creates the extension
    #[arg(long, value_name = "NAME")]
    inbound_key: Option<String>,
}

pub fn run(args: ExtensionArgs) -> Result<ExitCode> {
    let runtime = super::runtime()?;
    match args.command {
        ExtensionCommand::Export(args) => runtime.block_on(export(args)),
        ExtensionCommand::Import(args) => runtime.block_on(import(args)),
    }
}

async fn export(args: ExportArgs) -> Result<ExitCode> {
    let api = ServiceApi::new(&args.service)?;
    let url = api.url(&[
        "extensions",
        &args.id,
        "versions",
        &args.version,
        "manifest",
    ]);
    let answer = api
        .send("the export", api.http.get(url.clone()), &url)
        .await?;
    // Read as a manifest file, so what is written is one, with its members in their order.
    let file = ManifestFile::parse(answer)
        .context("the server's answer is not a manifest file this psi reads")?;
    let mut text = serde_json::to_string_pretty(&file).context("cannot write the document")?;
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(args: ImportArgs) -> Result<ExitCode> {
    let api = ServiceApi::new(&args.service)?;
    let text = super::read_text(&args.file)?;
    // Only the JSON is read here: the server says what it refuses in the document.
    let manifest: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON document", args.file))?;
    let mut body = json!({"manifest": manifest});
    for (member, value) in [
        ("visibility", &args.visibility),
        ("key", &args.key),
        ("auth", &args.auth),
        ("inbound_key", &args.inbound_key),
    ] {
        if let Some(value) = value {
            body[member] = json!(value);
        }
    }
    let url = api.url(&["extensions", "import"]);
    let request = api.http.post(url.clone()).json(&body);
    let answer = api.send("the import", request, &url).await?;
    let imported: Imported = serde_json::from_value(answer)
        .context("the answer to the import is not what the API documents")?;
    let Imported { extension, version } = imported;
    println!(
        "imported {:?} {} into extension {} ({})",
        extension.name, version.version, extension.id, extension.visibility
    );
    Ok(ExitCode::SUCCESS)
}

/// What the import answers, of what is printed.
#[derive(Deserialize)]
struct Imported {
    extension: ImportedExtension,
    version: ImportedVersion,
}

#[derive(Deserialize)]
struct ImportedExtension {
    id: String,
    name: String,
    visibility: String,
}

#[derive(Deserialize)]
struct ImportedVersion {
    version: String,
}

/// The management API of one service: `/api/v1/services/{did}/...` with its token.
struct ServiceApi<'a> {
    http: reqwest::Client,
    base: Url,
    service: &'a ServiceArgs,
}

impl<'a> ServiceApi<'a> {
    fn new(service: &'a ServiceArgs) -> Result<Self> {
        let base = Url::parse(&service.server)
            .with_context(|| format!("--server {} is not a URL", service.server))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!(
                "--server {}: use an http:// or https:// URL",
                service.server
            );
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .context("cannot make an HTTP client")?;
        Ok(ServiceApi {
            http,
            base,
            service,
        })
    }

    /// `/api/v1/services/{did}/<segments...>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the URL can be a base")
            .pop_if_empty()
            .extend(["api", "v1", "services", &self.service.did])
            .extend(segments);
        url
    }

    /// Sends `request` with the token; the JSON of a 2xx answer, else an error with the
    /// server's message.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder, url: &Url) -> Result<Value> {
        let response = request
            .bearer_auth(&self.service.token)
            .send()
            .await
            .map_err(|err| failure(url, &err, CALL_TIMEOUT))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| failure(url, &err, CALL_TIMEOUT))?;
        if !status.is_success() {
            bail!("the server refused {what} ({status}): {}", excerpt(&body));
        }
        serde_json::from_str(&body).with_context(|| format!("the answer to {what} is not JSON"))
    }
}
