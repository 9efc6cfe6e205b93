//! `hezi completion SHELL` and `hezi man DIR`: shell completion scripts and man pages, both
//! generated from the clap definitions in `cli.rs`, so they can never drift from the flags the
//! binary accepts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs, ManArgs};

/// The clap command tree with the version the pages and scripts should carry.
fn command() -> clap::Command {
    Cli::command().version(env!("CARGO_PKG_VERSION"))
}

/// `hezi completion SHELL`: prints the completion script on stdout.
pub fn completion(a: &CompletionArgs) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    write_completion(a.shell, &mut out)?;
    out.flush().context("writing the completion script")?;
    Ok(0)
}

/// Writes the completion script for `shell` to `out`.
pub fn write_completion(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = command();
    // clap_complete panics on a failed write (a closed pipe, say): generate into memory and
    // report write errors like every other command.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "hezi", &mut script);
    out.write_all(&script)
        .context("writing the completion script")?;
    Ok(())
}

/// `hezi man DIR`: writes one page per command (hezi.1, hezi-run.1, hezi-image-pull.1, ...).
pub fn man(a: &ManArgs) -> anyhow::Result<u8> {
    let pages = write_man_pages(&a.dir)?;
    for p in pages {
        println!("{}", p.display());
    }
    Ok(0)
}

/// Writes the man pages into `dir` (created if missing) and returns their paths, the
/// top-level page first.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    write_page(&cmd, dir, &mut pages)?;
    Ok(pages)
}

/// Writes the page of `cmd`, then those of its visible subcommands.
fn write_page(
    cmd: &clap::Command,
    dir: &Path,
    pages: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .manual("hezi manual")
        .source(format!("hezi {}", env!("CARGO_PKG_VERSION")));
    let path = man
        .generate_to(dir)
        .with_context(|| format!("writing a man page into {}", dir.display()))?;
    pages.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, dir, pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(shell: clap_complete::Shell) -> String {
        let mut buf = Vec::new();
        write_completion(shell, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn bash_completion_knows_subcommands_and_flags() {
        let s = script(clap_complete::Shell::Bash);
        for word in [
            "create", "run", "exec", "image", "pull", "--detach", "--bundle",
        ] {
            assert!(s.contains(word), "bash completion lacks {word}");
        }
        assert!(s.contains("complete -F"), "not a bash completion script");
    }

    #[test]
    fn zsh_and_fish_completions_are_generated() {
        assert!(script(clap_complete::Shell::Zsh).starts_with("#compdef hezi"));
        let fish = script(clap_complete::Shell::Fish);
        assert!(fish.contains("complete -c hezi"), "{fish}");
        assert!(fish.contains("kill"), "{fish}");
    }

    #[test]
    fn one_man_page_per_command() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_man_pages(&dir.path().join("man1")).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names[0], "hezi.1");
        for want in [
            "hezi-run.1",
            "hezi-kill.1",
            "hezi-image.1",
            "hezi-image-pull.1",
        ] {
            assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
        }
        let run = std::fs::read_to_string(dir.path().join("man1/hezi-run.1")).unwrap();
        // roff escapes each '-' of a flag; man(1) shows `--detach`.
        assert!(run.contains(r"\-\-detach"), "{run}");
        assert!(
            run.starts_with(".ie") || run.contains(".TH"),
            "not roff: {run}"
        );
    }
}
