//! The real `haul` binary as a child process, for the faults only a separate
//! process can suffer: SIGKILL, SIGTERM, SIGSTOP/SIGCONT.
//!
//! The binary is found by [`crate::haul_bin::path`] (`$HAUL_BIN`, else
//! `$CARGO_TARGET_DIR/debug/haul`). `cargo test` does not build another
//! package's binary, so scripts/test.sh runs `cargo build -p haul --locked`
//! first.

use haul_core::Settings;
use serde_json::Value;
use std::fs::File;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A loopback address nothing listens on now, for a child process to bind
/// (`server.bind`, `worker.metrics_bind`).
pub fn free_local_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A running `haul <command>` with its own TOML configuration; its stderr
/// (JSON logs) goes to a file the test can read. Killed when dropped.
pub struct HaulProcess {
    child: Child,
    pub pid: u32,
    pub name: String,
    dir: PathBuf,
}

impl HaulProcess {
    /// Writes `settings` as TOML and starts `haul --config <file> <command>`.
    pub async fn spawn(name: &str, command: &str, settings: &Settings) -> HaulProcess {
        let dir = std::env::temp_dir().join(format!("haul-proc-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create the process directory");
        let mut settings = settings.clone();
        settings.log.format = haul_core::config::LogFormat::Json;
        settings.log.level = "info,haul_worker=debug,sqlx=warn".into();
        // Through JSON first: TOML cannot hold the nulls of unset options.
        let json = strip_nulls(serde_json::to_value(&settings).expect("settings serialize"));
        let config = dir.join("haul.toml");
        std::fs::write(&config, toml::to_string(&json).expect("settings as TOML"))
            .expect("write the config file");
        let log = File::create(dir.join("haul.log")).expect("create the log file");
        let child = Command::new(crate::haul_bin::path())
            .arg("--config")
            .arg(&config)
            .arg(command)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start the haul binary");
        let pid = child.id().expect("a running child has a pid");
        HaulProcess {
            child,
            pid,
            name: name.into(),
            dir,
        }
    }

    /// Starts `haul work` and waits until its workers run.
    pub async fn worker(name: &str, settings: &Settings) -> HaulProcess {
        let p = Self::spawn(name, "work", settings).await;
        p.wait_for_log("export worker started", Duration::from_secs(60))
            .await;
        p
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("haul.log")
    }

    /// Every log line so far, parsed (lines that are not JSON are skipped).
    pub fn logs(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Log lines whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<Value> {
        self.logs()
            .into_iter()
            .filter(|l| l["message"] == message)
            .collect()
    }

    /// The raw log, for assertion messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until a log line's message is `message`; panics with the log
    /// after `timeout`, or as soon as the process has exited.
    pub async fn wait_for_log(&self, message: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            if let Some(line) = self.events(message).into_iter().next() {
                return line;
            }
            assert!(
                started.elapsed() < timeout,
                "{}: no `{message}` within {timeout:?}; log:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a signal by name (`TERM`, `INT`, `STOP`, `CONT`, ...).
    pub async fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid.to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {} failed", self.pid);
    }

    /// Sends `signal` and asserts the process exits successfully within
    /// `grace` (waiting up to 30 s longer to report how long it took).
    pub async fn stop_within(&mut self, signal: &str, grace: Duration) {
        let signalled = std::time::Instant::now();
        self.signal(signal).await;
        let status = self
            .wait_exit(grace + Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{} exits after SIG{signal}", self.name));
        let exit_after = signalled.elapsed();
        eprintln!("{}: SIG{signal} → {status} after {exit_after:?}", self.name);
        assert!(status.success(), "exit status {status}");
        assert!(exit_after <= grace, "exit took {exit_after:?}");
    }

    /// SIGKILL, and reap the process.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL the child");
        let _ = self.child.wait().await;
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .map(|r| r.expect("wait for the child"))
    }
}

impl Drop for HaulProcess {
    fn drop(&mut self) {
        // kill_on_drop ends the process; the log stays only if the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("{} log kept at {}", self.name, self.log_path().display());
        }
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}
