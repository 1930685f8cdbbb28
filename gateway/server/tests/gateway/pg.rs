//! A throwaway PostgreSQL cluster on a free loopback port, run as the
//! `postgres` user (the server refuses to run as root), with a password
//! (the gateway reads it from the environment). Stopped and removed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "audit-test-password-0123";

pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

/// The newest installed PostgreSQL's programs.
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is missing: scripts/test installs Debian's postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("no PostgreSQL bin dir")
}

fn as_postgres(program: &PathBuf, args: &[&str]) -> Command {
    let root = unsafe_free_is_root();
    let mut c = if root { Command::new("runuser") } else { Command::new(program) };
    if root {
        c.args(["-u", "postgres", "--"]).arg(program);
    }
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn unsafe_free_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("scim-gw-pg").tempdir_in("/tmp").unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if unsafe_free_is_root() {
            let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(chown.success());
        }
        let d = data.to_str().unwrap();
        let pw = format!("--pwfile={}", pwfile.display());
        let out = as_postgres(&bin.join("initdb"), &["-D", d, "-U", "postgres", "--auth=scram-sha-256", &pw])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let pg = Self { port: super::support::free_port(), dir, bin };
        pg.run();
        pg
    }

    /// Starts (or starts again) the server on its port.
    pub fn run(&self) {
        let data = self.dir.path().join("data");
        let opts =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("log").display().to_string();
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-o", &opts, "-l", &log, "-w", "start"],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the server (the store goes down).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(&self.bin.join("pg_ctl"), &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"])
            .output();
        std::thread::sleep(Duration::from_millis(100));
    }

    /// The URL the gateway is given (the password comes from the env).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
