//! `hezi ps`.

use std::process::Command;

use anyhow::Context as _;

use crate::cli::{GlobalOpts, OutputFormat, PsArgs};

/// Runs `hezi ps ID [--format json] [ps args]`: json prints the array of pids; table runs
/// `ps` with the given args (default `-ef`) and keeps the header and the container's lines.
pub fn run(g: &GlobalOpts, a: &PsArgs) -> anyhow::Result<u8> {
    let c = hezi_runtime::Container::load(&g.root, &a.id)?;
    let pids = c.pids()?;
    if a.format == OutputFormat::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        a.ps_args.clone()
    };
    let out = Command::new("ps").args(&args).output().context("run ps")?;
    if !out.status.success() {
        anyhow::bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    for line in container_lines(&text, &pids)? {
        println!("{line}");
    }
    Ok(0)
}

/// The header of `ps` output and the lines of the processes in `pids`. As runc does, an
/// empty line is skipped and a line whose PID column is not a number is an error (a
/// format whose earlier columns hold spaces, such as `-o cmd,pid`, cannot be filtered).
fn container_lines<'a>(text: &'a str, pids: &[i32]) -> anyhow::Result<Vec<&'a str>> {
    let mut lines = text.lines();
    // No output at all has no PID column either; the error below says so.
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("couldn't find PID field in ps output"))?;
    let mut out = vec![header];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let field = line.split_whitespace().nth(col).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unable to parse pid {field:?} in ps line {line:?}"))?;
        if pids.contains(&pid) {
            out.push(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_and_the_container_lines() {
        let text = "UID PID PPID CMD\nroot 1 0 init\n\nroot 42 1 sh -c x\nroot 7 1 other\n";
        assert_eq!(
            container_lines(text, &[42, 1]).unwrap(),
            ["UID PID PPID CMD", "root 1 0 init", "root 42 1 sh -c x"]
        );
    }

    #[test]
    fn a_pid_column_that_is_not_a_number_is_an_error() {
        // `ps -o cmd,pid`: the command's words shift the columns.
        let text = "CMD PID\nsh -c x 42\n";
        let e = format!("{:#}", container_lines(text, &[42]).unwrap_err());
        assert!(
            e.contains("unable to parse pid") && e.contains("\"-c\""),
            "{e}"
        );
        let e = container_lines("", &[42]).unwrap_err().to_string();
        assert!(e.contains("PID field"), "{e}");
    }
}
