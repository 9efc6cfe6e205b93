//! Prints `<hex>  <file>` for each file argument, like coreutils `sha256sum`; used to
//! compare hezi-digest's SHA-256 speed with `openssl dgst -sha256`.
//!
//! `cargo run --release -p hezi-digest --example sha256sum -- FILE...`

use std::fs::File;
use std::io::Read;
use std::process::ExitCode;

use hezi_digest::Algorithm;

fn hash_file(path: &str) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut d = Algorithm::Sha256.digester();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    Ok(d.finish().encoded().to_string())
}

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        match hash_file(&path) {
            Ok(hex) => println!("{hex}  {path}"),
            Err(e) => {
                eprintln!("sha256sum: {path}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
