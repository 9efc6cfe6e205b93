//! `hezi image ...`: the image store from the command line.

use anyhow::Context;
use hezi_image::archive::{self, Format};
use hezi_image::gc;
use hezi_image::unpack::UnpackOptions;
use hezi_image::{create_bundle, BundleOptions, Platform, Store};

use crate::cli::{ArchiveFormat, GlobalOpts, ImageCommand, ImageUnpackArgs, OutputFormat};

fn format_of(f: ArchiveFormat) -> Format {
    match f {
        ArchiveFormat::OciDir => Format::OciDir,
        ArchiveFormat::OciArchive => Format::OciArchive,
        ArchiveFormat::DockerArchive => Format::DockerArchive,
    }
}

fn open(g: &GlobalOpts) -> anyhow::Result<Store> {
    Store::open(&g.store).with_context(|| format!("opening image store {}", g.store.display()))
}

/// A one-line byte counter on stderr, redrawn at most every 100 ms, only on a terminal.
fn progress_line(label: &'static str) -> Option<hezi_image::store::Progress> {
    use std::io::{IsTerminal, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total = Arc::new(AtomicU64::new(0));
    let last = Mutex::new(std::time::Instant::now());
    Some(Arc::new(move |n| {
        let t = total.fetch_add(n, Ordering::Relaxed) + n;
        if let Ok(mut l) = last.lock() {
            if l.elapsed().as_millis() >= 100 {
                *l = std::time::Instant::now();
                let _ = write!(
                    std::io::stderr(),
                    "\r{label}: {:.1} MiB",
                    t as f64 / 1048576.0
                );
            }
        }
    }))
}

/// Runs one `hezi image` subcommand.
pub fn run(g: &GlobalOpts, c: ImageCommand) -> anyhow::Result<u8> {
    let store = open(g)?;
    match c {
        ImageCommand::Import(a) => {
            let mut store = store;
            let progress = progress_line("importing");
            let shown = progress.is_some();
            store.set_progress(progress);
            let imported = archive::import(
                &store,
                &a.source,
                a.format.map(format_of),
                a.name.as_deref(),
            )
            .with_context(|| format!("importing {}", a.source.display()));
            if shown {
                eprintln!();
            }
            for i in imported? {
                println!(
                    "{}\t{}",
                    i.name.as_deref().unwrap_or("<none>"),
                    i.descriptor.digest
                );
            }
        }
        ImageCommand::Export(a) => {
            archive::export(&store, &a.reference, &a.dest, format_of(a.format))
                .with_context(|| format!("exporting {} to {}", a.reference, a.dest.display()))?;
        }
        ImageCommand::Ls(a) => {
            let names = store.names()?;
            if a.quiet {
                for (n, _) in &names {
                    println!("{n}");
                }
            } else if a.format == OutputFormat::Json {
                let rows: Vec<_> = names
                    .iter()
                    .map(|(n, d)| serde_json::json!({"name": n, "digest": d.digest.to_string(), "mediaType": d.media_type, "size": d.size}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<40} {:<20} MEDIA TYPE", "NAME", "DIGEST");
                for (n, d) in &names {
                    let short = &d.digest.encoded()[..12];
                    println!(
                        "{:<40} {:<20} {}",
                        n,
                        format!("{}:{short}", d.digest.algorithm()),
                        d.media_type
                    );
                }
            }
        }
        ImageCommand::Inspect(a) => {
            let image = store
                .image(&a.reference, None)
                .with_context(|| format!("inspecting {}", a.reference))?;
            let out = serde_json::json!({
                "descriptor": image.manifest_descriptor,
                "manifest": image.manifest,
                "config": image.config,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        ImageCommand::Rm(a) => {
            let mut failed = false;
            for r in &a.references {
                match store.remove_name(r) {
                    Ok(d) => println!("untagged {r} ({})", d.digest),
                    Err(e) => {
                        tracing::error!("{e}");
                        eprintln!("hezi image rm: {e}");
                        failed = true;
                    }
                }
            }
            return Ok(u8::from(failed));
        }
        ImageCommand::Tag(a) => {
            let d = store
                .resolve(&a.source)
                .with_context(|| format!("resolving {}", a.source))?;
            store.set_name(&a.target, &d)?;
        }
        ImageCommand::Unpack(a) => unpack(&store, &a)?,
        ImageCommand::Gc => {
            let r = gc::gc(&store)?;
            println!(
                "removed {} blobs ({} bytes), {} layer directories, {} stale ingest files",
                r.removed.len(),
                r.bytes,
                r.layer_dirs,
                r.ingest_files
            );
        }
        ImageCommand::Verify => {
            let r = gc::verify(&store)?;
            for p in &r.problems {
                println!("{p}");
            }
            println!(
                "checked {} blobs ({} bytes): {} problems",
                r.blobs,
                r.bytes,
                r.problems.len()
            );
            if !r.problems.is_empty() {
                return Ok(1);
            }
        }
    }
    Ok(0)
}

fn unpack(store: &Store, a: &ImageUnpackArgs) -> anyhow::Result<()> {
    let platform = a.platform.as_deref().map(Platform::parse).transpose()?;
    if !a.rootfs_only {
        let opts = BundleOptions {
            platform,
            ..BundleOptions::default()
        };
        create_bundle(store, &a.reference, &a.dest, &opts).with_context(|| {
            format!("creating bundle {} from {}", a.dest.display(), a.reference)
        })?;
        return Ok(());
    }
    let image = store
        .image(&a.reference, platform.as_ref())
        .with_context(|| format!("resolving {}", a.reference))?;
    store
        .unpack(&image, &a.dest, UnpackOptions::default())
        .with_context(|| format!("unpacking {} into {}", a.reference, a.dest.display()))?;
    Ok(())
}
