//! A throwaway Docker registry for registry tests: Debian's `docker-registry`
//! (distribution 2.8) serving plain HTTP on a free loopback port, storage in a temp dir,
//! optionally behind htpasswd basic auth. Killed and removed on drop.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True if `tool` is on PATH.
pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Returns early from a test, with a message, unless `tool` is on PATH.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::registry::have_tool($tool) {
            eprintln!(
                "skipped: {} needs {} (apt-get install -y docker-registry skopeo apache2-utils)",
                module_path!(),
                $tool
            );
            return;
        }
    };
}

/// A running `docker-registry`.
pub struct DockerRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: PathBuf,
}

impl DockerRegistry {
    /// Starts one (with htpasswd basic auth when `htpasswd` is given) and waits until it
    /// listens.
    pub fn start(htpasswd: Option<&Path>) -> io::Result<DockerRegistry> {
        DockerRegistry::launch(htpasswd, None, None)
    }

    /// Starts one serving HTTPS with the PEM certificate and key `tls`.
    pub fn start_tls(cert: &Path, key: &Path) -> io::Result<DockerRegistry> {
        DockerRegistry::launch(None, Some((cert, key)), None)
    }

    /// Starts one serving HTTPS that also requires a client certificate signed by
    /// `client_ca` (docker-registry's `http.tls.clientcas`).
    pub fn start_mtls(cert: &Path, key: &Path, client_ca: &Path) -> io::Result<DockerRegistry> {
        DockerRegistry::launch(None, Some((cert, key)), Some(client_ca))
    }

    fn launch(
        htpasswd: Option<&Path>,
        tls: Option<(&Path, &Path)>,
        client_ca: Option<&Path>,
    ) -> io::Result<DockerRegistry> {
        let dir = std::env::temp_dir().join(crate::unique_id("hezi-registry"));
        fs::create_dir_all(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let auth = match htpasswd {
            Some(p) => format!(
                "auth:\n  htpasswd:\n    realm: hezi-test\n    path: {}\n",
                p.display()
            ),
            None => String::new(),
        };
        let clientcas = client_ca
            .map(|ca| format!("    clientcas:\n      - {}\n", ca.display()))
            .unwrap_or_default();
        let tls = match tls {
            Some((c, k)) => format!(
                "  tls:\n    certificate: {}\n    key: {}\n{clientcas}",
                c.display(),
                k.display()
            ),
            None => String::new(),
        };
        let cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n{tls}{auth}",
            dir.join("data").display()
        );
        let cfg_path = dir.join("config.yml");
        fs::write(&cfg_path, cfg)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let reg = DockerRegistry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&reg.addr).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "docker-registry did not listen on {}",
                    reg.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(reg)
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Writes an htpasswd file with one bcrypt (`-B`) entry, using apache2-utils' `htpasswd`.
pub fn htpasswd(path: &Path, user: &str, password: &str) -> io::Result<()> {
    let mut c = Command::new("htpasswd");
    c.arg("-Bbc").arg(path).args([user, password]);
    run_quietly(c, "htpasswd")
}

/// Runs `openssl ARGS` in `dir`, quietly; fails with the arguments and the exit status.
fn openssl(dir: &Path, args: &[&str]) -> io::Result<()> {
    let mut c = Command::new("openssl");
    c.args(args).current_dir(dir);
    run_quietly(c, &format!("openssl {args:?}"))
}

/// Runs `c` without output; fails naming `what` and the exit status.
fn run_quietly(mut c: Command, what: &str) -> io::Result<()> {
    let st = c.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if st.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what}: {st}")))
    }
}

/// Makes a test CA and a server certificate for `127.0.0.1` and `localhost` with openssl
/// (EC P-256, valid two days) in `dir`; returns (CA cert, server cert, server key).
pub fn test_certs(dir: &Path) -> io::Result<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| openssl(dir, args);
    fs::create_dir_all(dir)?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=hezi test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca)?;
    let mut csr = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ];
    csr.extend(ec);
    run(&csr)?;
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.crt",
        "-extfile",
        "ext.cnf",
    ])?;
    Ok((
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    ))
}

/// Makes a client certificate (`client.cert`, `client.key`, EC P-256, `clientAuth`) signed by
/// the CA that [`test_certs`] made in `dir`; returns (certificate, key).
pub fn test_client_cert(dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let run = |args: &[&str]| openssl(dir, args);
    run(&[
        "req",
        "-subj",
        "/CN=hezi test client",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ])?;
    fs::write(
        dir.join("client-ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )?;
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "client.cert",
        "-extfile",
        "client-ext.cnf",
    ])?;
    Ok((dir.join("client.cert"), dir.join("client.key")))
}
