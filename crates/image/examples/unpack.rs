//! Benchmark helper: unpack an image straight from an OCI layout directory.
//!
//! ```text
//! cargo run --release -p hezi-image --example unpack -- <layout-dir> <ref> <dest>
//! ```
//! `<ref>` is an `org.opencontainers.image.ref.name` in the layout's index.json (or a
//! manifest digest). Layers are read from the layout (no import), verified in the same
//! pass as decompression, and written to `<dest>` (which must not exist).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use hezi_image::archive::{import, Format};
use hezi_image::unpack::UnpackOptions;
use hezi_image::Store;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [layout, reference, dest] = args.as_slice() else {
        eprintln!("usage: unpack <layout-dir> <ref> <dest>");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(layout), reference, PathBuf::from(dest)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unpack: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(layout: PathBuf, reference: &str, dest: PathBuf) -> Result<(), hezi_image::ImageError> {
    if dest.exists() {
        return Err(hezi_image::ImageError::InvalidArgument(format!(
            "{} exists",
            dest.display()
        )));
    }
    // The layout itself is an OCI layout, so it can be opened as a store read-only in
    // practice: `Store::open` only creates what is missing (ingest/, blobs/sha256).
    let store = if layout.join("index.json").is_file() {
        Store::open(&layout)?
    } else {
        let tmp = std::env::temp_dir().join(format!("hezi-unpack-store-{}", std::process::id()));
        let s = Store::open(&tmp)?;
        import(&s, &layout, Some(Format::OciDir), None)?;
        s
    };
    let start = Instant::now();
    let image = store.image(reference, None)?;
    let reports = store.unpack(&image, &dest, UnpackOptions::default())?;
    let entries: u64 = reports.iter().map(|r| r.entries).sum();
    let bytes: u64 = reports.iter().map(|r| r.observed.tar_size).sum();
    eprintln!(
        "unpacked {} layers, {entries} entries, {bytes} tar bytes in {:.3}s",
        reports.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
