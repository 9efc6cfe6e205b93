//! `hezi`: the thin binary. It parses runc's command line and composes the hezi crates;
//! every real job lives in a library crate.

mod cli;
mod commands;
mod hotparse;
mod logging;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Text of `hezi --version`, in runc's form.
fn version_text() -> String {
    format!(
        "hezi version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("HEZI_COMMIT"),
        hezi_spec::SPEC_VERSION
    )
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = hotparse::try_parse(&args).unwrap_or_else(|| Cli::parse_from(args));
    if cli.global.version {
        print!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        // runc prints its help and exits 0 when called with no command.
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    // Commands that run container code first make the hezi binary unwritable from inside
    // (CVE-2019-5736); this happens before logging or any thread exists.
    if matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        if let Err(e) = hezi_runtime::ensure_sealed() {
            eprintln!("hezi: {}", error_line(&anyhow::Error::from(e)));
            return ExitCode::from(1);
        }
    }
    let g = &cli.global;
    if let Err(e) = logging::init(g.log.as_deref(), g.log_format, g.debug) {
        eprintln!("hezi: cannot open log file: {e}");
        return ExitCode::from(1);
    }
    match dispatch(g, command) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // One line, outermost context first, as runc prints it; containerd reads the
            // `msg` of the last error line in the log file.
            let msg = error_line(&err);
            tracing::error!("{msg}");
            // Without --log the logged line is already on stderr (once, in the chosen format,
            // as runc writes it); with --log the user still sees the error.
            if !logging::logs_to_stderr(g.log.as_deref()) {
                eprintln!("hezi: {msg}");
            }
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, outermost first, like anyhow's `{:#}`, but without
/// repeating a cause whose text the line already ends with (library errors often print their
/// source in their own message and also return it as `source()`).
fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Runs one subcommand and returns the process exit code.
fn dispatch(g: &cli::GlobalOpts, command: Command) -> anyhow::Result<u8> {
    use commands::*;
    match command {
        Command::Create(a) => create::run(g, &a),
        Command::Start(a) => start::run(g, &a),
        Command::Run(a) => run::run(g, &a),
        Command::State(a) => state::run(g, &a),
        Command::Kill(a) => kill::run(g, &a),
        Command::Delete(a) => delete::run(g, &a),
        Command::List(a) => list::run(g, &a),
        Command::Ps(a) => ps::run(g, &a),
        Command::Exec(a) => exec::run(g, &a),
        Command::Pause(a) => freeze::pause(g, &a),
        Command::Resume(a) => freeze::resume(g, &a),
        Command::Update(a) => update::run(g, &a),
        Command::Events(a) => events::run(g, &a),
        Command::Spec(a) => spec::run(g, &a),
        Command::Checkpoint(a) => checkpoint::checkpoint(g, &a),
        Command::Restore(a) => checkpoint::restore(g, &a),
        Command::Features => features::run(g),
        Command::Validate(a) => validate::run(g, &a),
        Command::Image(c) => image::run(g, c),
        Command::Login(a) => registry::login(&a),
        Command::Logout(a) => registry::logout(&a),
        Command::Completion(a) => docs::completion(&a),
        Command::Man(a) => docs::man(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[derive(Debug, thiserror::Error)]
    #[error("read /x: {source}")]
    struct Echoes {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn causes_are_not_repeated() {
        let io = std::io::Error::from_raw_os_error(20);
        let e = anyhow::Error::new(Echoes { source: io }).context("loading state");
        let line = error_line(&e);
        assert_eq!(line.matches("os error 20").count(), 1, "{line}");
        assert!(line.starts_with("loading state: read /x: "), "{line}");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_line(&plain), "outer: inner");
    }
}
