//! `flowctl build --asl-only`: every flow's state machine, written to
//! `<target>/flowctl/<project>/flows/<Flow>.asl.json` in canonical bytes (with `${unit:NAME}`
//! placeholders, substituted at deploy). `<target>` is cargo's target directory when the
//! project is inside a cargo workspace (honouring `CARGO_TARGET_DIR`), else `<project>/target`.
//! A file whose bytes would not change is not rewritten, so a no-op build touches nothing.
//!
//! Building the functions (cargo, packaging) is not part of this command yet: without
//! `--asl-only` it says so.

use super::compile::{fail, options, report};
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::asl;
use flowctl::render::FileDiagnostics;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only compile the flows to Amazon States Language (no function packages)
    #[arg(long)]
    pub asl_only: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    if !args.asl_only {
        bail!("building function packages is not available yet; run `flowctl build --asl-only` to compile the flows");
    }
    let loaded = global.load()?;
    if loaded.error_count() > 0 {
        return fail(global, &loaded.reports);
    }
    let project = loaded
        .project
        .as_ref()
        .context("the manifest could not be read")?;
    let mut docs = Vec::new();
    let mut problems: Vec<FileDiagnostics> = Vec::new();
    for flow in &project.flows {
        let Some(ir) = &flow.ir else {
            bail!(
                "cannot read flow `{}` from {}",
                flow.name,
                flow.path.display()
            );
        };
        match asl::compile(ir, &options(project, flow)) {
            Ok(doc) => docs.push((flow.name.clone(), asl::to_pretty_json(&doc))),
            Err(diagnostics) => problems.push(report(flow, diagnostics)),
        }
    }
    if !problems.is_empty() {
        return fail(global, &problems);
    }

    let dir = asl_dir(&target_dir(&project.root), &project.manifest.project);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, bytes) in &docs {
        let path = dir.join(format!("{name}.asl.json"));
        let changed = write_if_changed(&path, bytes)?;
        written.push((name.clone(), path, changed));
    }
    match global.output {
        Output::Json => {
            let flows: Vec<_> = written
                .iter()
                .map(|(name, path, changed)| json!({ "flow": name, "path": path, "changed": changed }))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "ok": true, "flows": flows }))?
            );
        }
        Output::Text => {
            for (name, path, changed) in &written {
                let what = if *changed { "wrote" } else { "unchanged" };
                eprintln!("{what:>9} {name} → {}", path.display());
            }
        }
    }
    Ok(Exit::Success)
}

/// Where `flowctl build` puts a project's flows.
pub fn asl_dir(target: &Path, project: &str) -> PathBuf {
    target.join("flowctl").join(project).join("flows")
}

/// Cargo's target directory for a project in `project_root`: `CARGO_TARGET_DIR` when set,
/// else `target/` beside the nearest `Cargo.toml` with a `[workspace]` (or, failing that, the
/// nearest `Cargo.toml`) at or above the project; `<project_root>/target` outside cargo.
pub fn target_dir(project_root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let root = if project_root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project_root
    };
    let absolute = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    cargo_root(&absolute).unwrap_or(absolute).join("target")
}

/// The directory of the cargo workspace (or package) containing `dir`, if any.
fn cargo_root(dir: &Path) -> Option<PathBuf> {
    let mut package = None;
    for ancestor in dir.ancestors() {
        let manifest = ancestor.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if text.lines().any(|l| l.trim() == "[workspace]") {
            return Some(ancestor.to_path_buf());
        }
        package.get_or_insert_with(|| ancestor.to_path_buf());
    }
    package
}

/// Writes `bytes` to `path` unless it already holds exactly them; returns whether it wrote.
fn write_if_changed(path: &Path, bytes: &str) -> anyhow::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes.as_bytes()) {
        return Ok(false);
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_root_wins_over_a_member_package() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::write(
            ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"member\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(ws.join("member/project")).unwrap();
        std::fs::write(
            ws.join("member/Cargo.toml"),
            "[package]\nname = \"member\"\n",
        )
        .unwrap();
        let found = cargo_root(&ws.join("member/project")).unwrap();
        assert_eq!(found, ws);
    }

    #[test]
    fn a_lone_package_is_its_own_root_and_no_cargo_means_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/flows")).unwrap();
        std::fs::write(
            dir.path().join("pkg/Cargo.toml"),
            "[package]\nname = \"p\"\n",
        )
        .unwrap();
        assert_eq!(
            cargo_root(&dir.path().join("pkg/flows")).unwrap(),
            dir.path().join("pkg")
        );
        // a temp dir is (normally) outside any cargo project
        let plain = tempfile::tempdir().unwrap();
        if cargo_root(plain.path()).is_none() {
            assert_eq!(
                asl_dir(&plain.path().join("target"), "demo"),
                plain.path().join("target/flowctl/demo/flows")
            );
        }
    }

    #[test]
    fn unchanged_bytes_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("F.asl.json");
        assert!(write_if_changed(&path, "{}\n").unwrap());
        assert!(!write_if_changed(&path, "{}\n").unwrap());
        assert!(write_if_changed(&path, "{ }\n").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ }\n");
    }
}
