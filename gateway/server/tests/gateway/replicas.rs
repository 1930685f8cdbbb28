//! A real Redis and gateway replicas as separate processes (the binary),
//! for the cluster tests.

use super::support::{TOKEN, UPSTREAM_TOKEN, free_port, workspace};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `redis-server` on a free loopback port, no persistence; killed on drop.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub async fn start() -> Self {
        let mut r = Self { child: None, port: free_port() };
        r.run().await;
        r
    }

    /// Starts (or starts again) the server on its port.
    pub async fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is missing: scripts/test installs Debian's redis-server");
        self.child = Some(child);
        wait_port(self.port).await;
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Runs a command with redis-cli.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn wait_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("port {port} did not open");
}

/// A gateway replica: the binary, in its own process; killed on drop.
pub struct Replica {
    child: Child,
    pub port: u16,
    pub admin: u16,
    _dir: tempfile::TempDir,
}

impl Replica {
    /// Starts a replica of `route` (the `[upstream]` and `[mapping]` tables)
    /// with `extra` (for example `[cluster]`).
    pub async fn start(name: &str, route: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tokens"), format!("idp:{TOKEN}\n")).unwrap();
        std::fs::write(dir.path().join("admin-tokens"), format!("ops:{}\n", super::admin::ADMIN_TOKEN)).unwrap();
        let (port, admin) = (free_port(), free_port());
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_path = \"/scim/v2\"\n[server.auth]\ntokens_file = \"tokens\"\n[admin]\nlisten = \"127.0.0.1:{admin}\"\ntokens_file = \"admin-tokens\"\n{route}\n{extra}\n"
        )
        .replace("{replica}", name);
        std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
            .args(["serve", "--config"])
            .arg(dir.path().join("gateway.toml"))
            .env("TEST_UPSTREAM_TOKEN", UPSTREAM_TOKEN)
            .env("TEST_PG_PASSWORD", super::pg::PASSWORD)
            .env("RUST_LOG", "warn")
            .current_dir(workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(admin).await;
        Self { child, port, admin, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/scim/v2{path}", self.port)
    }

    /// SIGKILL: no cleanup, leases left as they were.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The sum of the metric lines starting with `prefix`.
    pub async fn metric(&self, prefix: &str) -> f64 {
        let r = super::support::send(
            http::Method::GET,
            &format!("http://127.0.0.1:{}/metrics", self.admin),
            None,
            None,
            &[],
        )
        .await;
        let text = String::from_utf8_lossy(&r.body).into_owned();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
