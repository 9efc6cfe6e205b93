//! `hezi delete`.

use anyhow::Context as _;

use crate::cli::{DeleteArgs, GlobalOpts};

/// Runs `hezi delete ID [--force]`. With `--force` an unknown id is not an error (a directory
/// left by an aborted create is removed), as with runc; without it an id without a record is
/// "does not exist" and nothing is touched.
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
        Err(hezi_runtime::RuntimeError::NotExist(id)) if a.force => {
            // A directory without a record (a create killed before its first write) goes,
            // with the id's default cgroup; nothing at all is fine too (runc).
            if hezi_runtime::validate_id(&id).is_ok() {
                hezi_runtime::Container::remove_orphan(&g.root, &id)
                    .with_context(|| format!("delete container {id}"))?;
            }
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}
