//! The build `flowctl build` and `flowctl deploy` run: every flow compiled first (a compile
//! error stops it before cargo spends minutes), then the units built and packaged, the
//! documents written, and the record `build.json` (the work itself is `flowctl::build`).

use super::{compile_options, fail, flow_report, said_no};
use crate::cmd::out::note;
use crate::cmd::progress::Progress;
use crate::cmd::{Color, Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::build::record::{BuildRecord, FlowRecord};
use flowctl::build::{self, BuiltUnit, Options};
use flowctl::project::Project;
use flowctl_lang::asl;
use flowctl_lang::manifest::Architecture;
use flowctl_lang::render::FileDiagnostics;
use std::path::{Path, PathBuf};

/// One flow compiled: its name, its kind and its canonical bytes.
pub struct Compiled {
    pub name: String,
    pub kind: &'static str,
    pub text: String,
}

/// What a build made: the record and where it was written.
pub struct Built {
    pub record: BuildRecord,
    pub path: PathBuf,
}

/// Builds `project` for `architecture`, cargo's own output first, then a bar (or a line) per
/// unit packaged and, in text output, a line per flow written and a summary, on stderr. `Ok(Err(exit))`:
/// diagnostics or a refused build were printed.
pub fn build_project(
    global: &Global,
    project: &Project,
    architecture: Architecture,
) -> anyhow::Result<Result<Built, Exit>> {
    // Compile first: a compile error stops the build before cargo spends minutes.
    if let Err(problems) = compile_flows(project)? {
        return fail(global, &problems).map(Err);
    }
    let target = build::target_dir(&project.root);
    let out_dir = build::out_dir(&target, &project.manifest.project);
    let options = Options {
        architecture,
        out_dir: out_dir.clone(),
        color: cargo_color(global),
    };
    // The bar starts with the first unit packaged: while cargo runs, its output is the
    // progress (a bar redrawn under it would garble both).
    let total = project.plan().units.len();
    let mut bar: Option<Progress> = None;
    let built = build::build_units(project, &options, &mut |unit| {
        bar.get_or_insert_with(|| Progress::bar(global, total))
            .finished(&unit.record.name, unit_line(&unit));
    });
    drop(bar);
    let units = match built {
        Ok(units) => units,
        Err(err) if err.is_environment() => return Err(err.into()),
        Err(err) => return said_no(global, &err.to_string()).map(Err),
    };
    // The build has just described the functions (registry.json): check the flows again with
    // their types and properties, and compile them with the registry's idempotency.
    let reloaded = global.load()?;
    if global.problem_count(&reloaded) > 0 {
        return fail(global, &reloaded.reports).map(Err);
    }
    if reloaded.warning_count() > 0 && global.output == Output::Text {
        global.print_diagnostics(&reloaded.reports);
    }
    let project = reloaded.project.as_ref().unwrap_or(project);
    let flows = match compile_flows(project)? {
        Ok(flows) => flows,
        Err(problems) => return fail(global, &problems).map(Err),
    };

    let mut flow_records = Vec::new();
    for (flow, path, changed) in write_flows(project, &flows, &target)? {
        if global.output == Output::Text {
            let what = if changed { "wrote" } else { "unchanged" };
            note!("{what:>9} {} → {}", flow.name, path.display());
        }
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        flow_records.push(FlowRecord {
            name: flow.name.clone(),
            kind: flow.kind.to_string(),
            asl: format!("flows/{file}"),
            sha256: build::zip::sha256_hex(flow.text.as_bytes()),
        });
    }
    let record = BuildRecord {
        project: project.manifest.project.clone(),
        architecture: options.architecture.as_str().to_string(),
        flowctl: build::FLOWCTL_VERSION.to_string(),
        units,
        flows: flow_records,
    };
    build::write_record(&out_dir, &record)?;
    let path = out_dir.join(build::record::FILE);
    if global.output == Output::Text {
        note!(
            "    built {} unit(s) and {} flow(s) for {} → {}",
            record.units.len(),
            record.flows.len(),
            record.architecture,
            path.display()
        );
    }
    Ok(Ok(Built { record, path }))
}

/// Every flow's document, or the compile diagnostics.
pub fn compile_flows(
    project: &Project,
) -> anyhow::Result<Result<Vec<Compiled>, Vec<FileDiagnostics>>> {
    let plan = project.plan();
    let mut compiled = Vec::new();
    let mut problems = Vec::new();
    for flow in &project.flows {
        let Some(ir) = &flow.ir else {
            bail!(
                "cannot read flow `{}` from {}",
                flow.name,
                flow.path.display()
            );
        };
        match asl::compile(ir, &compile_options(project, &plan, flow, true)) {
            Ok(doc) => compiled.push(Compiled {
                name: flow.name.clone(),
                kind: flow.entry.kind.as_str(),
                text: asl::to_pretty_json(&doc),
            }),
            Err(diagnostics) => problems.push(flow_report(flow, diagnostics)),
        }
    }
    Ok(if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(problems)
    })
}

/// Writes each document to `<target>/flowctl/<project>/flows/<Flow>.asl.json` where its bytes
/// differ; returns each flow with its path and whether it was written.
pub fn write_flows<'c>(
    project: &Project,
    flows: &'c [Compiled],
    target: &Path,
) -> anyhow::Result<Vec<(&'c Compiled, PathBuf, bool)>> {
    let dir = build::asl_dir(target, &project.manifest.project);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    flows
        .iter()
        .map(|flow| {
            let path = dir.join(format!("{}.asl.json", flow.name));
            let changed = build::write_if_changed(&path, flow.text.as_bytes(), build::zip::REGULAR)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((flow, path, changed))
        })
        .collect()
}

/// cargo's `--color` from flowctl's.
fn cargo_color(global: &Global) -> &'static str {
    match global.color {
        Color::Always => "always",
        Color::Never => "never",
        Color::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => "never",
        Color::Auto => "auto",
    }
}

/// `  packaged Unit (package): bootstrap 2.1 MiB, zip 640.3 KiB, CodeSha256 …`
fn unit_line(unit: &BuiltUnit<'_>) -> String {
    let what = if unit.changed {
        "packaged"
    } else {
        "unchanged"
    };
    let record = unit.record;
    format!(
        "{what:>9} {} ({}): {} {}, zip {}, CodeSha256 {}",
        record.name,
        record.origin(),
        if record.bootstrap.is_some() {
            "bootstrap"
        } else {
            "source"
        },
        human_size(unit.unpacked_size),
        human_size(record.size),
        record.code_sha256
    )
}

fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(22), "22 B");
        assert_eq!(human_size(549_000), "536.1 KiB");
        assert_eq!(human_size(2_320_688), "2.2 MiB");
    }
}
