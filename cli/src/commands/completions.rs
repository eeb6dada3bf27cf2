//! `sitejobs completions <shell>` and `sitejobs man`: shell manners, generated
//! from the same clap definition the binary parses with (clap_complete,
//! clap_mangen), so they never drift from the real flags.
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Install with, e.g., `sitejobs completions bash > /etc/bash_completion.d/sitejobs`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "sitejobs", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// The man page of `sitejobs` (roff): `sitejobs man > /usr/local/share/man/man1/sitejobs.1`.
pub fn man() -> anyhow::Result<ExitCode> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    page.render(&mut out)?;
    use std::io::Write;
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}
