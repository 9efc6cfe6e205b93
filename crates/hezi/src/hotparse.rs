//! A lean parser for the commands on the container start path.
//!
//! `Cli::parse` builds clap's model of every subcommand (the whole `image` tree, `update`'s
//! dozens of flags, ...) before it looks at the first argument. For `create`, `start`, `run`,
//! `exec`, `state`, `kill` and `delete`, which engines call many times per container, that
//! model is most of hezi's start-up work: measured on the busybox bundle it was about a third
//! of the user time of `run` and most of the binary pages it touched (the peak RSS).
//!
//! This module builds the model of the one subcommand named on the command line, with the same
//! derive-generated argument definitions, so the parsed result is identical. Anything it does
//! not handle the same way (help, a usage error, an unknown flag, `--version`) returns `None`
//! and the caller falls back to the full parser, which prints exactly what it always did.

use std::ffi::OsString;

use clap::{Args, FromArgMatches};

use crate::cli::{
    Cli, Command, CreateArgs, DeleteArgs, ExecArgs, GlobalOpts, IdArgs, KillArgs, RunArgs,
};

/// Parses `args` (argv, program name first) with a parser built for its subcommand alone, when
/// that subcommand is on the start path and the line parses cleanly; `None` otherwise.
pub fn try_parse(args: &[OsString]) -> Option<Cli> {
    let globals = GlobalOpts::augment_args(
        clap::Command::new("hezi")
            .disable_version_flag(true)
            .disable_help_subcommand(true),
    );
    let name = subcommand_name(&globals, args)?;
    let sub = match name {
        "create" => CreateArgs::augment_args(clap::Command::new("create")),
        "run" => RunArgs::augment_args(clap::Command::new("run")),
        "exec" => ExecArgs::augment_args(clap::Command::new("exec")),
        "kill" => KillArgs::augment_args(clap::Command::new("kill")),
        "delete" => DeleteArgs::augment_args(clap::Command::new("delete")),
        "start" => IdArgs::augment_args(clap::Command::new("start")),
        "state" => IdArgs::augment_args(clap::Command::new("state")),
        _ => return None,
    };
    // Every `.ok()?` below hands the line to the full parser, which reports the error.
    let matches = globals.subcommand(sub).try_get_matches_from(args).ok()?;
    let global = GlobalOpts::from_arg_matches(&matches).ok()?;
    let (_, m) = matches.subcommand()?;
    let command = match name {
        "create" => Command::Create(CreateArgs::from_arg_matches(m).ok()?),
        "run" => Command::Run(RunArgs::from_arg_matches(m).ok()?),
        "exec" => Command::Exec(ExecArgs::from_arg_matches(m).ok()?),
        "kill" => Command::Kill(KillArgs::from_arg_matches(m).ok()?),
        "delete" => Command::Delete(DeleteArgs::from_arg_matches(m).ok()?),
        "start" => Command::Start(IdArgs::from_arg_matches(m).ok()?),
        "state" => Command::State(IdArgs::from_arg_matches(m).ok()?),
        _ => return None,
    };
    // `--version` anywhere wins in the full parser; leave that case to it.
    if global.version {
        return None;
    }
    Some(Cli {
        global,
        command: Some(command),
    })
}

/// The first argument that is not a global flag (or its value), if it can be told without a
/// parser: every flag before it is a long flag of `globals` (GlobalOpts, so the flags that
/// take a value are read from their definitions, never listed twice).
fn subcommand_name<'a>(globals: &clap::Command, args: &'a [OsString]) -> Option<&'a str> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        let Some(long) = arg.strip_prefix("--") else {
            // A short flag (`-v`) or the subcommand; short flags go to the full parser.
            return (!arg.starts_with('-')).then_some(arg);
        };
        let (flag, inline_value) = match long.split_once('=') {
            Some((flag, _)) => (flag, true),
            None => (long, false),
        };
        // `--help`, `--` or an unknown flag: the full parser decides.
        let def = globals
            .get_arguments()
            .find(|a| a.get_long() == Some(flag))?;
        if def.get_action().takes_values() && !inline_value {
            rest.next()?;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("hezi")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    /// The lean parser and the full one agree on every line the lean one accepts, and the lean
    /// one accepts the lines engines send.
    #[test]
    fn same_result_as_the_full_parser() {
        let accepted = [
            "create c",
            "--root /run/x create --bundle /b --pid-file /p --console-socket /s c",
            "--root=/run/x --log /l --log-format json --systemd-cgroup create -b /b --no-pivot --preserve-fds 2 c",
            "run c",
            "--debug run -d --keep --pid-file p c",
            "run --image busybox --pull never --volumes tmpfs c -- sh -c true",
            "exec c true",
            "exec -t -e A=1 --env B=2 -u 1:2 -g 3 --cwd / --cap CAP_CHOWN c sh -c 'x'",
            "exec --process /p.json --detach --pid-file /p c",
            "exec c ls -la --color",
            "kill c",
            "kill --all c KILL",
            "kill c 9",
            "delete c",
            "delete --force c",
            "start c",
            "state c",
            "--store /s --criu /usr/sbin/criu state c",
            "--rootless true run c",
            "--rootless=auto --log-format=json delete c",
        ];
        for line in accepted {
            let args = argv(line);
            let lean = try_parse(&args).unwrap_or_else(|| panic!("lean parser refused {line:?}"));
            let full = Cli::try_parse_from(&args).expect(line);
            assert_eq!(format!("{lean:?}"), format!("{full:?}"), "{line}");
        }
    }

    /// Help, version, errors and commands off the start path go to the full parser.
    #[test]
    fn falls_back_to_the_full_parser() {
        for line in [
            "",
            "--version",
            "-v run c",
            "run c --version",
            "--help",
            "run --help",
            "run",
            "run --no-such-flag c",
            "kill c NOSUCHSIG extra",
            "--unknown run c",
            "list",
            "image ls",
            "spec",
            "update --memory 1 c",
            "--root",
        ] {
            assert!(try_parse(&argv(line)).is_none(), "{line:?}");
        }
    }

    #[test]
    fn subcommand_found_after_global_values() {
        let globals = GlobalOpts::augment_args(clap::Command::new("hezi"));
        let name = |line: &str| subcommand_name(&globals, &argv(line)).map(str::to_string);
        assert_eq!(
            name("--root run --log create exec c").as_deref(),
            Some("exec")
        );
        assert_eq!(name("--debug list").as_deref(), Some("list"));
        assert_eq!(name("--help run c"), None);
    }
}
