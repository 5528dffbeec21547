//! Runs the real `haul` binary, as a user would.

use std::path::{Path, PathBuf};
use std::process::Output;

/// `HAUL_BIN`, else `$CARGO_TARGET_DIR/debug/haul`, else the `haul` next to
/// the test executable's `deps` directory. `cargo test` does not build
/// another package's binary: run `cargo build -p haul` first (scripts/test.sh
/// does).
pub fn path() -> PathBuf {
    let bin = if let Some(explicit) = std::env::var_os("HAUL_BIN") {
        PathBuf::from(explicit)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        Path::new(&target).join("debug").join("haul")
    } else {
        // <target>/debug/deps/<test binary> -> <target>/debug/haul
        let exe = std::env::current_exe().expect("the test binary's path");
        exe.parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/debug/deps")
            .join("haul")
    };
    assert!(
        bin.is_file(),
        "the haul binary is missing at {}: build it with `cargo build -p haul --locked` \
         (scripts/test.sh does), or point HAUL_BIN at it",
        bin.display()
    );
    bin
}

/// A `haul export …` command against `base_url` with `api_key`, from the
/// environment the way users set it.
pub fn export_command(base_url: &str, api_key: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(path());
    cmd.arg("export")
        .env("HAUL_URL", base_url)
        .env("HAUL_API_KEY", api_key)
        .env_remove("HAUL_CONFIG")
        .kill_on_drop(true);
    cmd
}

/// Runs `haul export ARGS…` to the end.
pub async fn run_export(base_url: &str, api_key: &str, args: &[&str]) -> Output {
    export_command(base_url, api_key)
        .args(args)
        .output()
        .await
        .expect("haul runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
