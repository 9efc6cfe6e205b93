//! `hezi delete`.

use anyhow::Context as _;

use crate::cli::{DeleteArgs, GlobalOpts};

/// Runs `hezi delete ID [--force]`. With `--force` an unknown id is not an error (a directory
/// left by an aborted create is removed), as with runc.
pub fn run(g: &GlobalOpts, a: &DeleteArgs) -> anyhow::Result<u8> {
    match hezi_runtime::Container::load(&g.root, &a.id) {
        Ok(c) => {
            let owned_bundle = super::image_bundle::owned(&c.state());
            c.delete(a.force)
                .with_context(|| format!("delete container {}", a.id))?;
            if let Some(dir) = owned_bundle {
                super::image_bundle::remove(&dir)?;
            }
            Ok(0)
        }
        Err(hezi_runtime::RuntimeError::NotExist(id)) => {
            if hezi_runtime::id::validate_id(&id).is_ok() {
                let dir = g.root.join(&id);
                if dir.is_dir() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("remove {}", dir.display()))?;
                }
            }
            if a.force {
                Ok(0)
            } else {
                Err(hezi_runtime::RuntimeError::NotExist(id).into())
            }
        }
        Err(e) => Err(e.into()),
    }
}
