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
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("couldn't find PID field in ps output"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
