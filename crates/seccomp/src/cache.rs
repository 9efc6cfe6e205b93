//! A directory of compiled filters keyed by sha256(profile JSON, arch, crate version).

use crate::compile::{compile_with, CompileOptions};
use crate::{CompiledFilter, SeccompError};
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Compiled-filter cache in a directory (created on first store).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    opts: Option<CompileOptions>,
}

impl Cache {
    /// A cache in `dir` for the running machine.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache {
            dir: dir.into(),
            opts: None,
        }
    }

    /// A cache in `dir` compiling with explicit options.
    pub fn with_options(dir: impl Into<PathBuf>, opts: CompileOptions) -> Self {
        Cache {
            dir: dir.into(),
            opts: Some(opts),
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file for `profile` (the key covers the profile JSON, the
    /// options and this crate's version).
    pub fn path_for(&self, profile: &LinuxSeccomp) -> Result<PathBuf, SeccompError> {
        let opts = self.options()?;
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(profile)?);
        h.update(format!("\0{:?}\0{}\0", opts, env!("CARGO_PKG_VERSION")));
        Ok(self.dir.join(format!("{}.bpf", hex::encode(h.finalize()))))
    }

    fn options(&self) -> Result<CompileOptions, SeccompError> {
        match self.opts {
            Some(o) => Ok(o),
            None => CompileOptions::native(),
        }
    }

    /// Load the cached filter for `profile`, or compile and store it. An
    /// unreadable or corrupt entry is replaced; a failure to store is only
    /// logged (the compiled filter is still returned).
    pub fn get_or_compile(&self, profile: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
        let path = self.path_for(profile)?;
        match std::fs::read(&path) {
            Ok(bytes) => match CompiledFilter::from_bytes(&bytes) {
                Ok(f) => return Ok(f),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "seccomp cache: corrupt entry, recompiling")
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "seccomp cache: unreadable entry, recompiling")
            }
        }
        let filter = compile_with(profile, &self.options()?)?;
        if let Err(e) = self.store(&path, &filter) {
            tracing::warn!(error = %e, "seccomp cache: could not store compiled filter");
        }
        Ok(filter)
    }

    fn store(&self, path: &Path, filter: &CompiledFilter) -> Result<(), SeccompError> {
        let err = |p: &Path, source| SeccompError::Cache {
            path: p.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| err(&self.dir, e))?;
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, filter.to_bytes()).map_err(|e| err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(path, e)
        })
    }
}
