//! A real OpenID provider for the sign-in tests: `tests/oidc/op.mjs` (panva/oidc-provider from
//! `tests/oidc/package-lock.json`), started with node on a loopback port and stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The provider's directory.
fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

/// Whether the provider can run here (node and `npm ci --prefix tests/oidc`); says it skipped
/// otherwise, or fails when CI requires it (`ROLLOUT_REQUIRE_OIDC=1`).
pub fn available() -> bool {
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let installed = dir().join("node_modules/oidc-provider").exists();
    super::required(node && installed, "ROLLOUT_REQUIRE_OIDC", "node and `npm ci --prefix tests/oidc`")
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A running provider.
pub struct Op {
    child: Child,
    pub port: u16,
}

impl Op {
    /// The provider on `port`, signing with a fresh key `kid`, for a relying party at
    /// `rp` (`http://127.0.0.1:PORT`); `tamper`: "", "signature" or "iss".
    pub fn start(port: u16, kid: &str, rp: &str, tamper: &str) -> Op {
        let mut child = Command::new("node")
            .arg(dir().join("op.mjs"))
            .env("OP_PORT", port.to_string())
            .env("OP_KID", kid)
            .env("OP_REDIRECT_URI", format!("{rp}/auth/callback"))
            .env("OP_POST_LOGOUT_URI", format!("{rp}/"))
            .env("OP_TAMPER", tamper)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("the provider says it is ready").expect("line");
            if line.starts_with("ready ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Op { child, port }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
