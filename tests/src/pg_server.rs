//! A PostgreSQL server of a test's own: `initdb` into a scratch folder, started on a free
//! loopback port, so a fault test can stop, crash and restart the server itself under load
//! without touching the machine's shared server that every other test uses.
//!
//! The server binaries come from `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin` (Debian's layout; `.ci/run` installs the package where the
//! machine lacks it). PostgreSQL refuses to run as root, so under root every server command runs
//! as the `postgres` user through `runuser`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// How the server goes down: `Fast` is a clean shutdown (sessions cut, a checkpoint written);
/// `Immediate` is a crash (no checkpoint; the next start replays the WAL).
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    Fast,
    Immediate,
}

impl PrivatePostgres {
    /// A fresh cluster (trust auth for `postgres` on loopback), started.
    pub fn start() -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        let dir = tempfile::tempdir()?;
        let pg = Self { dir, bin, port: crate::free_port(), as_postgres };
        std::fs::create_dir(pg.data())?;
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(pg.dir.path(), std::fs::Permissions::from_mode(0o755))?;
            let owner = Command::new("id").args(["-u", "postgres"]).output().context("id -u postgres")?;
            let uid: u32 = String::from_utf8_lossy(&owner.stdout).trim().parse().context("no postgres user")?;
            std::os::unix::fs::chown(pg.data(), Some(uid), None)?;
        }
        let data = pg.data().display().to_string();
        pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])?;
        pg.start_server()?;
        Ok(pg)
    }

    /// The connection URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on the same data and port; returns once it accepts connections.
    pub fn start_server(&self) -> anyhow::Result<()> {
        let data = self.data().display().to_string();
        let log = self.data().join("server.log").display().to_string();
        let opts = format!("-p {} -k {data} -c listen_addresses=127.0.0.1", self.port);
        self.run("pg_ctl", &["start", "-w", "-t", "60", "-D", &data, "-l", &log, "-o", &opts])
    }

    /// Stops the server the way `how` says; returns once it is down.
    pub fn stop_server(&self, how: Stop) -> anyhow::Result<()> {
        let mode = match how {
            Stop::Fast => "fast",
            Stop::Immediate => "immediate",
        };
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["stop", "-w", "-t", "60", "-m", mode, "-D", &data])
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!("{tool} {}: {}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop_server(Stop::Immediate);
    }
}

/// The folder holding `initdb`, `pg_ctl` and `postgres`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let has_initdb = |p: &Path| p.join("initdb").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&p) {
            return Ok(p);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p)| has_initdb(p))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).context("PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package")
}
