//! Building and finding the binaries the benchmark measures.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

pub fn build_release() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building: cargo build --release --workspace --bins");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--workspace", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!(
            "`cargo build --release --workspace --bins` failed ({s}); run it yourself and fix the build first"
        ),
        Err(e) => {
            bail!("cannot run cargo ({e}); run `cargo build --release --workspace --bins` first")
        }
    }
}

/// `target/release`, found from this benchmark's own path (`target/release/deps/convergence-*`).
pub fn release_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locate the benchmark executable")?;
    let has_bins = |dir: &Path| {
        dir.join("recommender-operator").is_file() && dir.join("pinpoint-emulator").is_file()
    };
    for ancestor in exe.ancestors().skip(1) {
        if ancestor.file_name().is_some_and(|n| n == "release") && has_bins(ancestor) {
            return Ok(ancestor.to_path_buf());
        }
        let release = ancestor.join("release");
        if has_bins(&release) {
            return Ok(release);
        }
    }
    bail!(
        "no release build of recommender-operator and pinpoint-emulator next to {}: run `cargo build --release --workspace --bins` first",
        exe.display()
    )
}
