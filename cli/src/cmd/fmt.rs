//! `flowctl fmt`: canonical formatting of `.flow` files, in place or as a check.

use super::out::{self, note};
use super::{Exit, Global};
use anyhow::Context;
use flowctl_lang::flow::fmt;
use flowctl_lang::render::FileDiagnostics;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report files that are not formatted (exit 1) instead of rewriting them
    #[arg(long)]
    pub check: bool,
    /// Files or directories to format; default: every flow in the manifest
    pub paths: Vec<PathBuf>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let files = if args.paths.is_empty() {
        let path = flowctl::project::locate(global.manifest.as_deref())?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (manifest, diags) = flowctl_lang::manifest::parse(&text);
        let Some(manifest) = manifest else {
            global.print_diagnostics(&[FileDiagnostics {
                path,
                source: text,
                diagnostics: diags,
            }]);
            return Ok(Exit::Failure);
        };
        let root = path.parent().unwrap_or(Path::new(""));
        manifest
            .flows
            .values()
            .map(|f| root.join(&f.source))
            .collect()
    } else {
        let mut files = Vec::new();
        for path in &args.paths {
            collect_flow_files(path, &mut files)
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        files
    };

    let mut broken = Vec::new();
    let mut unformatted = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match fmt::format(&source) {
            Ok(formatted) if formatted == source => {}
            Ok(formatted) => {
                if args.check {
                    out::println(format_args!("not formatted: {}", path.display()))?;
                } else {
                    std::fs::write(path, formatted)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    out::println(format_args!("formatted {}", path.display()))?;
                }
                unformatted.push(path.clone());
            }
            Err(diagnostics) => broken.push(FileDiagnostics {
                path: path.clone(),
                source,
                diagnostics,
            }),
        }
    }
    global.print_diagnostics(&broken);
    if args.check && !unformatted.is_empty() {
        note!(
            "{} file(s) not formatted; run `flowctl fmt` to fix",
            unformatted.len()
        );
    }
    let failed = !broken.is_empty() || (args.check && !unformatted.is_empty());
    Ok(if failed { Exit::Failure } else { Exit::Success })
}

/// `path` itself if it is a file, else every `*.flow` below it (sorted, hidden and target/ skipped).
fn collect_flow_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let p = entry.path();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect_flow_files(&p, out)?;
            }
        } else if name.ends_with(".flow") {
            out.push(p);
        }
    }
    Ok(())
}
