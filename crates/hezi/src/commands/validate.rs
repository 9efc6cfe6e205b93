//! `hezi validate`: check a bundle's `config.json` and list every problem with its path.

use crate::cli::{BundleArgs, GlobalOpts};

/// Runs `hezi validate`: prints `valid` and exits 0 for a good bundle; prints each
/// problem (`path: message`) on stderr and exits 1 for a bad one.
pub fn run(_g: &GlobalOpts, a: &BundleArgs) -> anyhow::Result<u8> {
    match hezi_spec::validate::validate_bundle(&a.bundle) {
        Ok(_) => {
            println!("valid");
            Ok(0)
        }
        Err(errors) => {
            for p in errors.problems() {
                eprintln!("{p}");
            }
            tracing::debug!(problems = errors.problems().len(), bundle = %a.bundle.display(), "invalid bundle");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_util::globals;

    #[test]
    fn exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let a = BundleArgs {
            bundle: dir.path().to_path_buf(),
        };
        assert_eq!(run(&globals(), &a).unwrap(), 1, "no config.json");
        let spec = hezi_spec::defaults::default_spec();
        std::fs::write(
            dir.path().join("config.json"),
            hezi_spec::defaults::config_json(&spec).unwrap(),
        )
        .unwrap();
        assert_eq!(run(&globals(), &a).unwrap(), 1, "no rootfs");
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        assert_eq!(run(&globals(), &a).unwrap(), 0);
    }
}
