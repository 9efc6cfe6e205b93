//! `hezi image ...`: the image store from the command line.

use anyhow::Context;
use hezi_image::archive::{self, Format};
use hezi_image::gc;
use hezi_image::unpack::UnpackOptions;
use hezi_image::{create_bundle, BundleOptions, Platform, Store};

use std::sync::Arc;

use hezi_image::store::Progress;

use crate::cli::{ArchiveFormat, GlobalOpts, ImageCommand, ImageUnpackArgs, OutputFormat};

fn format_of(f: ArchiveFormat) -> Format {
    match f {
        ArchiveFormat::OciDir => Format::OciDir,
        ArchiveFormat::OciArchive => Format::OciArchive,
        ArchiveFormat::DockerArchive => Format::DockerArchive,
    }
}

/// Opens the image store named by `--store`.
pub fn open_store(g: &GlobalOpts) -> anyhow::Result<Store> {
    open(g)
}

fn open(g: &GlobalOpts) -> anyhow::Result<Store> {
    Store::open(&g.store).with_context(|| format!("opening image store {}", g.store.display()))
}

/// A progress bar on stderr (bytes, throughput, elapsed; with a total also percentage and
/// ETA), drawn only when stderr is a terminal so logs and pipes stay clean.
struct Bar {
    bar: indicatif::ProgressBar,
}

impl Bar {
    /// A bar labelled `label`, `None` when stderr is not a terminal.
    fn new(label: &'static str, total: Option<u64>) -> Option<Bar> {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let target = indicatif::ProgressDrawTarget::stderr_with_hz(10);
        let (bar, template) = match total {
            Some(n) => (
                indicatif::ProgressBar::with_draw_target(Some(n), target),
                "{prefix:>10} [{wide_bar}] {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} eta {eta}",
            ),
            None => (
                indicatif::ProgressBar::with_draw_target(None, target),
                "{prefix:>10} {spinner} {binary_bytes} {binary_bytes_per_sec} {elapsed}",
            ),
        };
        match indicatif::ProgressStyle::with_template(template) {
            Ok(style) => bar.set_style(style.progress_chars("=> ")),
            Err(e) => tracing::debug!(error = %e, "progress bar template rejected"),
        }
        bar.set_prefix(label);
        Some(Bar { bar })
    }

    /// The callback the store feeds.
    fn callback(&self) -> Progress {
        let bar = self.bar.clone();
        Arc::new(move |n| bar.inc(n))
    }

    /// Leaves the final state on screen after success, clears it after a failure.
    fn done<T>(&self, result: &anyhow::Result<T>) {
        if result.is_ok() {
            self.bar.finish();
            // The cursor is still on the bar's line: what is printed next starts below it.
            eprintln!();
        } else {
            self.bar.finish_and_clear();
        }
    }
}

/// Runs `f` with a progress bar (if stderr is a terminal) hooked to the store.
fn with_bar<T>(
    store: &Store,
    label: &'static str,
    total: Option<u64>,
    f: impl FnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let Some(bar) = Bar::new(label, total) else {
        return f(store);
    };
    let mut shown = store.clone();
    shown.set_progress(Some(bar.callback()));
    let r = f(&shown);
    bar.done(&r);
    r
}

/// `2026-01-01T00:00:00.123Z` cut to seconds, `2026-01-01T00:00:00` (a time that does not look RFC 3339
/// is shown as it is).
fn short_time(t: &str) -> &str {
    t.get(..19)
        .filter(|s| s.as_bytes().get(10) == Some(&b'T'))
        .unwrap_or(t)
}

/// Bytes in the units `du -h` and podman use (1000-based, like podman's image sizes).
fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Runs one `hezi image` subcommand.
pub fn run(g: &GlobalOpts, c: ImageCommand) -> anyhow::Result<u8> {
    let store = open(g)?;
    match c {
        ImageCommand::Import(a) => {
            let imported = with_bar(&store, "importing", None, |s| {
                archive::import(s, &a.source, a.format.map(format_of), a.name.as_deref())
                    .with_context(|| format!("importing {}", a.source.display()))
            })?;
            for i in imported {
                println!(
                    "{}\t{}",
                    i.name.as_deref().unwrap_or("<none>"),
                    i.descriptor.digest
                );
            }
        }
        ImageCommand::Export(a) => {
            with_bar(&store, "exporting", None, |s| {
                archive::export(s, &a.reference, &a.dest, format_of(a.format))
                    .with_context(|| format!("exporting {} to {}", a.reference, a.dest.display()))
            })?;
        }
        ImageCommand::Ls(a) => {
            let rows = hezi_image::report::summaries(&store)?;
            if a.quiet {
                for r in &rows {
                    println!("{}", r.name);
                }
            } else if a.format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<40} {:<20} {:<22} {:>10}",
                    "NAME", "DIGEST", "CREATED", "SIZE"
                );
                for r in &rows {
                    let short = r.digest.get(..19).unwrap_or(&r.digest);
                    println!(
                        "{:<40} {:<20} {:<22} {:>10}",
                        r.name,
                        short,
                        r.created.as_deref().map(short_time).unwrap_or("-"),
                        r.size.map(human_size).unwrap_or_else(|| "-".into()),
                    );
                }
            }
        }
        ImageCommand::History(a) => {
            let image = store
                .image(&a.reference, None)
                .with_context(|| format!("history of {}", a.reference))?;
            let steps = hezi_image::report::history(&image);
            if a.format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&steps)?);
            } else {
                println!("{:<22} {:>10}  CREATED BY", "CREATED", "SIZE");
                for s in &steps {
                    println!(
                        "{:<22} {:>10}  {}",
                        s.created.as_deref().map(short_time).unwrap_or("-"),
                        s.size.map(human_size).unwrap_or_else(|| "0 B".into()),
                        s.created_by.as_deref().unwrap_or("")
                    );
                }
            }
        }
        ImageCommand::Du(a) => {
            let u = hezi_image::report::usage(&store)?;
            if a.format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&u)?);
            } else {
                println!(
                    "blobs:           {:>6}  {:>10}",
                    u.blobs,
                    human_size(u.blob_bytes)
                );
                println!(
                    "unpacked layers: {:>6}  {:>10}",
                    u.unpacked_layers,
                    human_size(u.unpacked_bytes)
                );
                println!();
                println!(
                    "{:<40} {:>10} {:>10} {:>10}",
                    "IMAGE", "SIZE", "SHARED", "UNIQUE"
                );
                for i in &u.images {
                    println!(
                        "{:<40} {:>10} {:>10} {:>10}",
                        i.names.join(","),
                        human_size(i.size),
                        human_size(i.shared),
                        human_size(i.unique)
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
        ImageCommand::Pull(a) => {
            with_bar(&store, "pulling", None, |s| super::registry::pull(s, &a))?;
        }
        ImageCommand::Push(a) => super::registry::push(&store, &a)?,
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
        ImageCommand::Verify(a) if a.repair => {
            let r = gc::repair(&store, a.from.as_deref())?;
            for d in &r.restored {
                println!("restored {d}");
            }
            for d in &r.removed {
                println!("removed corrupt {d} (no good copy to restore it from)");
            }
            for p in &r.after.problems {
                println!("{p}");
            }
            println!(
                "restored {}, removed {}; {} problems remain",
                r.restored.len(),
                r.removed.len(),
                r.after.problems.len()
            );
            if !r.after.problems.is_empty() {
                return Ok(1);
            }
        }
        ImageCommand::Verify(_) => {
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
    let image = store
        .image(&a.reference, platform.as_ref())
        .with_context(|| format!("resolving {}", a.reference))?;
    // The bar counts layer blob bytes as they are read.
    let total = image.manifest.layers.iter().map(|l| l.size).sum();
    let unpack_opts = UnpackOptions {
        max_layer_size: a.max_layer_size,
        ..UnpackOptions::default()
    };
    with_bar(store, "unpacking", Some(total), |s| {
        if !a.rootfs_only {
            let opts = BundleOptions {
                platform: platform.clone(),
                volumes: a.volumes,
                unpack: unpack_opts.clone(),
                ..BundleOptions::default()
            };
            create_bundle(s, &a.reference, &a.dest, &opts).with_context(|| {
                format!("creating bundle {} from {}", a.dest.display(), a.reference)
            })?;
            return Ok(());
        }
        s.unpack(&image, &a.dest, unpack_opts.clone())
            .with_context(|| format!("unpacking {} into {}", a.reference, a.dest.display()))?;
        Ok(())
    })
}
