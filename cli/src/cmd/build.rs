//! `flowctl build`: the functions (one `cargo build --release`, then per unit a `bootstrap` and
//! a deterministic zip with its `CodeSha256`), every flow's state machine, and the record
//! `build.json`, all under `<target>/flowctl/<project>/` (`flowctl::build` does the work).
//! `--asl-only` compiles the flows alone, without cargo. `<target>` is cargo's target
//! directory when the project is inside a cargo workspace (honouring `CARGO_TARGET_DIR`),
//! else `<project>/target`. A file whose bytes would not change is not rewritten, so a no-op
//! build touches nothing.

use super::compile::{fail, options, report};
use super::{Color, Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl::asl;
use flowctl::build::record::{BuildRecord, FlowRecord};
use flowctl::build::{self, BuiltUnit, Options};
use flowctl::manifest::Architecture;
use flowctl::project::Project;
use flowctl::render::FileDiagnostics;
use serde_json::{json, Value};
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only compile the flows to Amazon States Language (no cargo, no function packages)
    #[arg(long)]
    pub asl_only: bool,
    /// The Lambda architecture to build for (default: the manifest's `deploy.architecture`)
    #[arg(long, value_enum, value_name = "ARCH")]
    pub arch: Option<Arch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

impl From<Arch> for Architecture {
    fn from(arch: Arch) -> Architecture {
        match arch {
            Arch::X86_64 => Architecture::X86_64,
            Arch::Arm64 => Architecture::Arm64,
        }
    }
}

/// One flow compiled: its name, its kind and its canonical bytes.
struct Compiled {
    name: String,
    kind: &'static str,
    text: String,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    let loaded = global.load()?;
    if loaded.error_count() > 0 {
        return fail(global, &loaded.reports);
    }
    let project = loaded
        .project
        .as_ref()
        .context("the manifest could not be read")?;
    // Flows first: a compile error stops the build before cargo spends minutes on it.
    let flows = match compile_flows(project)? {
        Ok(flows) => flows,
        Err(problems) => return fail(global, &problems),
    };
    let target = build::target_dir(&project.root);
    let out_dir = build::out_dir(&target, &project.manifest.project);
    if args.asl_only {
        return asl_only(global, project, &flows, &target);
    }

    let options = Options {
        architecture: args
            .arch
            .map(Architecture::from)
            .unwrap_or(project.manifest.deploy.architecture),
        out_dir: out_dir.clone(),
        color: cargo_color(global),
    };
    let text = global.output == Output::Text;
    let units = match build::build_units(project, &options, &mut |unit| {
        if text {
            eprintln!("{}", unit_line(&unit));
        }
    }) {
        Ok(units) => units,
        Err(err) if err.is_environment() => return Err(err.into()),
        Err(err) => return said_no(global, &err.to_string()),
    };

    let dir = build::asl_dir(&target, &project.manifest.project);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut flow_records = Vec::new();
    for flow in &flows {
        let file = format!("{}.asl.json", flow.name);
        let path = dir.join(&file);
        let changed = build::write_if_changed(&path, flow.text.as_bytes(), build::zip::REGULAR)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if text {
            let what = if changed { "wrote" } else { "unchanged" };
            eprintln!("{what:>9} {} → {}", flow.name, path.display());
        }
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
    let record_path = out_dir.join(build::record::FILE);
    match global.output {
        Output::Json => {
            let mut answer = json!({ "ok": true, "build_json": record_path });
            if let (Value::Object(answer), Value::Object(fields)) =
                (&mut answer, serde_json::to_value(&record)?)
            {
                answer.extend(fields);
            }
            print_json(&answer)?;
        }
        Output::Text => {
            eprintln!(
                "    built {} unit(s) and {} flow(s) for {} → {}",
                record.units.len(),
                record.flows.len(),
                record.architecture,
                record_path.display()
            );
        }
    }
    Ok(Exit::Success)
}

/// Every flow's document, or the compile diagnostics.
fn compile_flows(project: &Project) -> anyhow::Result<Result<Vec<Compiled>, Vec<FileDiagnostics>>> {
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
        match asl::compile(ir, &options(project, flow, true)) {
            Ok(doc) => compiled.push(Compiled {
                name: flow.name.clone(),
                kind: flow.entry.kind.as_str(),
                text: asl::to_pretty_json(&doc),
            }),
            Err(diagnostics) => problems.push(report(flow, diagnostics)),
        }
    }
    Ok(if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(problems)
    })
}

/// `--asl-only`: the flows' documents alone, as before the functions were built.
fn asl_only(
    global: &Global,
    project: &Project,
    flows: &[Compiled],
    target: &Path,
) -> anyhow::Result<Exit> {
    let dir = build::asl_dir(target, &project.manifest.project);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for flow in flows {
        let path = dir.join(format!("{}.asl.json", flow.name));
        let changed = build::write_if_changed(&path, flow.text.as_bytes(), build::zip::REGULAR)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push((flow.name.clone(), path, changed));
    }
    match global.output {
        Output::Json => {
            let flows: Vec<_> = written
                .iter()
                .map(|(name, path, changed)| json!({ "flow": name, "path": path, "changed": changed }))
                .collect();
            print_json(&json!({ "ok": true, "flows": flows }))?;
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

/// The build ran and said no (a failed cargo build, a binary Lambda could not start): the
/// reason, then exit 1.
fn said_no(global: &Global, message: &str) -> anyhow::Result<Exit> {
    match global.output {
        Output::Json => print_json(&json!({ "ok": false, "error": message }))?,
        Output::Text => eprintln!("error: {message}"),
    }
    Ok(Exit::Failure)
}

/// Prints a JSON answer on stdout; a reader that went away (`| head`) is not an error.
fn print_json(value: &Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
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
        "{what:>9} {} ({}): bootstrap {}, zip {}, CodeSha256 {}",
        record.name,
        record.package,
        human_size(unit.bootstrap_size),
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
