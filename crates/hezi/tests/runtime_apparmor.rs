//! AppArmor: `process.apparmorProfile` and `exec --apparmor` confine the process at its
//! exec, beside Debian's runc on the same bundle. Needs the AppArmor LSM and
//! `apparmor_parser`, which the VM suite has (tests/vm/v2-suite.sh boots Debian's kernel,
//! AppArmor on); on a host without the LSM the profile is refused clearly instead.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::{Command, Stdio};

use helpers::World;
use hezi_testsupport::{require_root, unique_id};

const RUNC: &str = "/usr/sbin/runc";

fn apparmor_on() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

/// Loads a profile named `name` that allows everything but writing `/denied*`; unloads it
/// on drop.
struct Profile {
    name: String,
    file: std::path::PathBuf,
}

impl Profile {
    fn load(w: &World, name: &str) -> Result<Profile, String> {
        if !Path::new("/sys/kernel/security/apparmor").exists() {
            let _ = Command::new("mount")
                .args(["-t", "securityfs", "securityfs", "/sys/kernel/security"])
                .status();
        }
        let file = w.tmp.path().join(format!("{name}.profile"));
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  pivot_root,\n  deny /denied* w,\n}}\n"
        );
        std::fs::write(&file, text).map_err(|e| e.to_string())?;
        let o = Command::new("apparmor_parser")
            .arg("-r")
            .arg(&file)
            .output()
            .map_err(|e| format!("apparmor_parser: {e}"))?;
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).into_owned());
        }
        Ok(Profile {
            name: name.to_string(),
            file,
        })
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("-R")
            .arg(&self.file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

const SCRIPT: &str = "cat /proc/self/attr/current; echo x > /denied-file && echo wrote || echo refused; echo y > /tmp/allowed && echo allowed";

#[test]
fn a_profile_confines_the_container_as_with_runc() {
    require_root!();
    if !apparmor_on() {
        eprintln!("skipped: the AppArmor LSM is not enabled here (the VM suite runs this)");
        return;
    }
    let w = World::new("hezi-apparmor");
    let name = unique_id("hezi-test-deny");
    let profile = match Profile::load(&w, &name) {
        Ok(p) => p,
        Err(e) => panic!("apparmor_parser could not load the test profile: {e}"),
    };
    let id = w.id("aa");
    let b = w.bundle(&id, &["sh", "-c", SCRIPT], |c| {
        c["process"]["apparmorProfile"] = profile.name.clone().into();
        c["root"]["readonly"] = false.into();
    });
    let (code, out, err) = w.run(&b, &id);
    assert_eq!(code, 0, "run: {err}");
    let want = format!("{} (enforce)\nrefused\nallowed", profile.name);
    assert_eq!(out.trim(), want, "stderr: {err}");
    // runc on the same bundle confines the same way.
    if Path::new(RUNC).is_file() {
        let root = w.tmp.path().join("runc-state");
        let o = Command::new(RUNC)
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(&b)
            .arg(unique_id("aa-runc"))
            .stdin(Stdio::null())
            .output()
            .expect("spawn runc");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            want,
            "runc: {o:?}"
        );
    }
    // exec: the container's profile by default, --apparmor for another (here: unconfined).
    let id = w.id("aaexec");
    let b = w.bundle(&id, &["sleep", "60"], |c| {
        c["process"]["apparmorProfile"] = profile.name.clone().into();
    });
    let (ok, err) = w.detached(&["run", "--detach", "--bundle", &b.display().to_string(), &id]);
    assert!(ok, "run -d: {err}");
    let o = w.out(&["exec", &id, "cat", "/proc/self/attr/current"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("{} (enforce)", profile.name),
        "{o:?}"
    );
    let o = w.out(&[
        "exec",
        "--apparmor",
        "unconfined",
        &id,
        "cat",
        "/proc/self/attr/current",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "unconfined",
        "{o:?}"
    );
    // A profile that is not loaded: a clear error naming it.
    let id = w.id("aamissing");
    let b = w.bundle(&id, &["true"], |c| {
        c["process"]["apparmorProfile"] = "hezi-no-such-profile".into();
    });
    let (code, _, err) = w.run(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("hezi-no-such-profile") && err.contains("loaded"),
        "{err}"
    );
}

#[test]
fn without_the_lsm_a_profile_is_refused_clearly() {
    require_root!();
    if apparmor_on() {
        eprintln!("note: AppArmor is on here; the refusal is tested on hosts without it");
        return;
    }
    let w = World::new("hezi-apparmor-off");
    let id = w.id("aaoff");
    let b = w.bundle(&id, &["true"], |c| {
        c["process"]["apparmorProfile"] = "docker-default".into();
    });
    let (code, _, err) = w.run(&b, &id);
    assert_ne!(code, 0);
    assert!(
        err.contains("process.apparmorProfile") && err.contains("not enabled"),
        "{err}"
    );
    assert!(!w.root().join(&id).exists());
    let f = w.out(&["features"]);
    let v: serde_json::Value = serde_json::from_slice(&f.stdout).expect("features json");
    assert_eq!(v["linux"]["apparmor"]["enabled"], false);
}
