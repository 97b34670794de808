//! Flags that choose where links point.

use anyhow::{Context, Result};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use psi_link::{Decoder, Environment, LinkKind, LinkTarget};

fn environment_parser() -> impl TypedValueParser<Value = Environment> {
    PossibleValuesParser::new(Environment::ALL.map(Environment::name))
        .try_map(|name| name.parse::<Environment>())
}

/// `--domain` and `--scheme`: a deployment's own link target.
#[derive(Args, Debug, Clone)]
pub struct CustomTargetArgs {
    /// A deployment's own application domain (with --scheme), e.g. `links.example.org`.
    #[arg(long, value_name = "DOMAIN", requires = "scheme")]
    pub domain: Option<String>,
    /// The app's own custom scheme for deep links (with --domain), e.g. `exampleapp`.
    #[arg(long, value_name = "SCHEME", requires = "domain")]
    pub scheme: Option<String>,
}

impl CustomTargetArgs {
    /// The configured target, if both flags were given.
    pub fn target(&self) -> Result<Option<LinkTarget>> {
        match (&self.domain, &self.scheme) {
            (Some(domain), Some(scheme)) => Ok(Some(
                LinkTarget::custom(domain, scheme).context("invalid --domain/--scheme")?,
            )),
            _ => Ok(None),
        }
    }

    /// A decoder that also accepts links of the configured target.
    pub fn decoder(&self) -> Result<Decoder> {
        let decoder = Decoder::new();
        Ok(match self.target()? {
            Some(target) => decoder.with_target(target),
            None => decoder,
        })
    }
}

/// Where encoded links point: an environment or a deployment's own domain, app or deep link.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Platform environment whose domain and app scheme the link uses.
    #[arg(
        long,
        value_name = "ENV",
        default_value = "production",
        value_parser = environment_parser(),
        conflicts_with_all = ["domain", "scheme"]
    )]
    pub env: Environment,
    #[command(flatten)]
    pub custom: CustomTargetArgs,
    /// Make a deep link (`<scheme>://<domain>/...`, opens only an installed app) instead of an app
    /// link (`https://<domain>/...`, falls back to a web page).
    #[arg(long)]
    pub deep: bool,
}

impl TargetArgs {
    /// The chosen target: --domain/--scheme if given, else the environment's.
    pub fn target(&self) -> Result<LinkTarget> {
        Ok(self
            .custom
            .target()?
            .unwrap_or_else(|| LinkTarget::env(self.env)))
    }

    /// App or deep link.
    pub fn kind(&self) -> LinkKind {
        if self.deep {
            LinkKind::Deep
        } else {
            LinkKind::App
        }
    }
}
