//! `psi admin`: the dashboard's people from the command line. The password is asked for twice
//! without echo on a terminal, or read as one line from standard input (for scripts:
//! `printf '%s\n' "$PASSWORD" | psi admin add-operator ada --admin`).

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use psi_server::cli::AdminArgs;
use zeroize::Zeroizing;

use super::runtime;

pub fn run(args: AdminArgs) -> Result<ExitCode> {
    let password = password()?;
    runtime()?.block_on(psi_server::admin(args, &password))?;
    Ok(ExitCode::SUCCESS)
}

fn password() -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password("Password: ")?);
        let again = Zeroizing::new(rpassword::prompt_password("Password again: ")?);
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}
