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
    tls: bool,
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
        Self::start_with(false)
    }

    /// A cluster that takes only TLS connections (a self-signed certificate
    /// for 127.0.0.1, written as `ca.pem` in [`Postgres::dir`]).
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    /// Where the cluster keeps its files (`ca.pem` for a TLS cluster).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn start_with(tls: bool) -> Self {
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
        let pg = Self { port: super::support::free_port(), dir, bin, tls };
        if tls {
            pg.only_tls();
        }
        pg.run();
        pg
    }

    /// A certificate for 127.0.0.1 and a pg_hba.conf that refuses anything
    /// but TLS.
    fn only_tls(&self) {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let d = self.dir.path();
        std::fs::write(d.join("ca.pem"), ck.cert.pem()).unwrap();
        std::fs::write(d.join("data/server.crt"), ck.cert.pem()).unwrap();
        std::fs::write(d.join("data/server.key"), ck.signing_key.serialize_pem()).unwrap();
        std::fs::write(d.join("data/pg_hba.conf"), "hostssl all all 127.0.0.1/32 scram-sha-256\n").unwrap();
        if unsafe_free_is_root() {
            let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(d).status().unwrap();
            assert!(chown.success());
        }
        let chmod = Command::new("chmod").arg("600").arg(d.join("data/server.key")).status().unwrap();
        assert!(chmod.success());
    }

    /// Starts (or starts again) the server on its port.
    pub fn run(&self) {
        let data = self.dir.path().join("data");
        let ssl = if self.tls { " -c ssl=on" } else { "" };
        let (port, dir) = (self.port, self.dir.path().display());
        let opts = format!("-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off{ssl}");
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
