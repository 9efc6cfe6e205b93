//! `hezi list`.

use crate::cli::{GlobalOpts, ListArgs, OutputFormat};

/// Runs `hezi list`: runc's table (ID PID STATUS BUNDLE CREATED OWNER), `--quiet` ids, or JSON.
pub fn run(g: &GlobalOpts, a: &ListArgs) -> anyhow::Result<u8> {
    let containers = hezi_runtime::Container::list(&g.root)?;
    if a.quiet {
        for c in &containers {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let states: Vec<hezi_runtime::RuncState> = containers.iter().map(|c| c.state()).collect();
    match a.format {
        OutputFormat::Json => {
            if states.is_empty() {
                // runc marshals a nil slice.
                println!("null");
            } else {
                println!("{}", serde_json::to_string(&states)?);
            }
        }
        OutputFormat::Table => print!("{}", table(&states)),
    }
    Ok(0)
}

/// Formats the table like runc's tabwriter (minimum width 12, padding 3).
pub fn table(states: &[hezi_runtime::RuncState]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for s in states {
        rows.push(vec![
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == 5 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = (widths[i] + 3).max(12))
                }
            })
            .collect();
        out.push_str(line.concat().trim_end());
        out.push('\n');
    }
    out
}
