//! Building a project for Lambda: one `cargo build --release` for every package the units
//! need, then per unit a `bootstrap` and a deterministic zip with its `CodeSha256`, checked
//! against what Lambda's `provided.al2023` runtime can start; a unit in a managed runtime
//! (Python, Node.js, a `bootstrap` of its own) is its source directory zipped ([`source`]),
//! and cargo runs only when some unit needs it. Everything lands in
//! `<target>/flowctl/<project>/`, with the record `build.json` (see [`record`]).
//!
//! The pure parts — the zip writer ([`zip`]), the ELF reader
//! ([`elf`]), the record ([`record`]), cargo's command line and messages ([`cargo`]) and the
//! toolchain decision ([`toolchain`]) — are separate from the I/O here ([`build_units`]):
//! running cargo, reading executables, writing files.
//!
//! Invariant: a file is written only when its bytes would change, and a unit whose
//! `bootstrap` is unchanged is not zipped again, so a no-op build costs cargo's own freshness
//! check plus reading and comparing a few files. Likewise a binary whose hash is the one in
//! the registry cache (`registry.json`, [`registry`]) is not asked to `describe` itself again.

pub mod cargo;
pub mod elf;
pub use flowctl_aws::record;
pub mod registry;
pub mod source;
pub mod toolchain;
pub mod zip;

use crate::project::Project;
use cargo::{CargoError, Request};
use elf::{ElfInfo, Machine, LAMBDA_GLIBC};
use flowctl_lang::manifest::{Architecture, Code, Managed};
use flowctl_lang::plan::Unit;
use record::{BuildRecord, UnitRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toolchain::{MissingToolchain, TargetPlan};

/// The version written into build records.
pub const FLOWCTL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no Cargo.toml in {} or any parent directory: the functions' packages are built with cargo from the project's workspace (put a Cargo.toml with a [workspace] listing them at or above the project)", .0.display())]
    NoCargoProject(PathBuf),
    #[error(transparent)]
    Toolchain(#[from] MissingToolchain),
    #[error(transparent)]
    Cargo(#[from] CargoError),
    /// The build ran, and its binaries cannot be deployed as they are (one line per problem).
    #[error("{}", .0.join("\n"))]
    Rejected(Vec<String>),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl BuildError {
    /// Whether this is the machine's or the setup's fault (exit 2) rather than the project's
    /// build saying no (exit 1).
    pub fn is_environment(&self) -> bool {
        match self {
            BuildError::NoCargoProject(_) | BuildError::Toolchain(_) | BuildError::Io { .. } => {
                true
            }
            BuildError::Cargo(CargoError::NotRunnable { .. }) => true,
            BuildError::Cargo(CargoError::Failed { .. }) | BuildError::Rejected(_) => false,
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}

/// How to build.
#[derive(Debug, Clone)]
pub struct Options {
    pub architecture: Architecture,
    /// The project's build directory, `<target>/flowctl/<project>` ([`out_dir`]).
    pub out_dir: PathBuf,
    /// `--color` for cargo: `auto`, `always` or `never`.
    pub color: &'static str,
}

/// One unit as built, for progress display.
#[derive(Debug, Clone)]
pub struct BuiltUnit<'a> {
    pub record: &'a UnitRecord,
    /// Whether its bootstrap or zip was written (false: both were already up to date).
    pub changed: bool,
    /// What the zip holds, in bytes: a cargo unit's bootstrap, a managed runtime's source.
    pub unpacked_size: u64,
}

/// A package's executable, read once for all its units.
struct Binary {
    path: PathBuf,
    bytes: Vec<u8>,
    info: ElfInfo,
    /// The deployment package, made when the first unit needs it.
    zip: Option<(Vec<u8>, String)>,
}

/// Builds and packages every unit of `project`; `progress` hears of each unit as it is done.
/// Returns the unit records in manifest order. Stale unit directories (functions no longer
/// in the manifest) are removed.
pub fn build_units(
    project: &Project,
    options: &Options,
    progress: &mut dyn FnMut(BuiltUnit<'_>),
) -> Result<Vec<UnitRecord>, BuildError> {
    let plan = project.plan();
    let units = &plan.units;
    let units_dir = options.out_dir.join("units");
    if units.is_empty() {
        prune(&units_dir, &BTreeSet::new())?;
        if registry::read_cache(&options.out_dir).is_some() {
            write_registry(&options.out_dir, registry::merge(None, BTreeMap::new()))?;
        }
        return Ok(Vec::new());
    }
    let packages = plan.packages();
    let old_cache = registry::read_cache(&options.out_dir);
    // Cargo runs only for the units it builds: a project of managed runtimes needs none.
    let (mut binaries, described) = if packages.is_empty() {
        (BTreeMap::new(), BTreeMap::new())
    } else {
        build_binaries(project, options, units, &packages, old_cache.as_ref())?
    };

    let previous = BuildRecord::read(&options.out_dir).filter(|r| {
        r.flowctl == FLOWCTL_VERSION && r.architecture == options.architecture.as_str()
    });
    let mut records = Vec::new();
    for unit in units {
        let (record, changed, unpacked_size) = match &unit.code {
            Code::Cargo { package } => {
                let Some(binary) = binaries.get_mut(package) else {
                    continue; // reported by `build_binaries`
                };
                let previous = previous.as_ref().and_then(|r| r.unit(&unit.name));
                let (record, changed) = package_unit(&units_dir, unit, package, binary, previous)?;
                (record, changed, binary.bytes.len() as u64)
            }
            Code::Managed(managed) => package_source(&units_dir, &project.root, unit, managed)?,
        };
        if let Some(problem) = size_problem(
            &format!("unit `{}`", unit.name),
            &unit.code.describe(),
            "zipped",
            record.size,
            LAMBDA_ZIP_MAX_BYTES,
        ) {
            return Err(BuildError::Rejected(vec![problem]));
        }
        progress(BuiltUnit {
            record: &record,
            changed,
            unpacked_size,
        });
        records.push(record);
    }
    prune(&units_dir, &units.iter().map(|u| u.name.clone()).collect())?;
    write_registry(
        &options.out_dir,
        registry::merge(old_cache.as_ref(), described),
    )?;
    Ok(records)
}

/// The binaries of the cargo units: one cargo build of `packages`, each binary checked
/// against what Lambda can start and (built for this machine) asked what it registers.
#[allow(clippy::type_complexity)]
fn build_binaries(
    project: &Project,
    options: &Options,
    units: &[Unit],
    packages: &[String],
    old_cache: Option<&flowctl_lang::registry::Cache>,
) -> Result<(BTreeMap<String, Binary>, BTreeMap<String, registry::Built>), BuildError> {
    let dir = absolute(&project.root);
    let root = cargo_root(&dir).ok_or_else(|| BuildError::NoCargoProject(dir.clone()))?;

    let target = if toolchain::is_native(
        options.architecture,
        std::env::consts::ARCH,
        std::env::consts::OS,
    ) {
        TargetPlan::Native
    } else {
        toolchain::plan(
            options.architecture,
            &toolchain::probe(options.architecture, &dir),
        )?
    };
    let settings: Vec<String> = ["Cargo.toml", ".cargo/config.toml", ".cargo/config"]
        .iter()
        .filter_map(|file| std::fs::read_to_string(root.join(file)).ok())
        .collect();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut env = cargo::release_profile_env(&settings, |name| std::env::var_os(name).is_some());
    // Only a binary for this machine can be asked what it registers.
    let native = matches!(target, TargetPlan::Native);
    let triple = match target {
        TargetPlan::Native => None,
        TargetPlan::Cross { triple, linker } => {
            env.extend(linker);
            Some(triple.to_string())
        }
    };
    // Subscriptions and webhooks run in the units' binaries once deployed.
    let events = !project.manifest.subscriptions.is_empty();
    let request = Request {
        packages: packages.to_vec(),
        features: if events {
            vec![cargo::SUBSCRIBER_FEATURE.to_string()]
        } else {
            Vec::new()
        },
        target: triple,
        color: options.color,
        env,
    };
    let artifacts = cargo::run(&cargo::program(), &dir, &request)?;

    let mut problems = Vec::new();
    let mut binaries: BTreeMap<String, Binary> = BTreeMap::new();
    // What each binary built for this machine registers: asked, or cached for its hash.
    let mut described: BTreeMap<String, registry::Built> = BTreeMap::new();
    for package in packages {
        let users = unit_names(units, package);
        let executables = artifacts
            .executables
            .get(package)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let path = match executables {
            [(_, path)] => path.clone(),
            [] => {
                problems.push(format!(
                    "{users}: package `{package}` has no binary target; a function package needs exactly one (src/main.rs, or one [[bin]]) that registers its functions through flowctl-shim"
                ));
                continue;
            }
            several => {
                let names: Vec<String> = several.iter().map(|(t, _)| format!("`{t}`")).collect();
                problems.push(format!(
                    "{users}: package `{package}` has {} binary targets ({}); which one is the bootstrap is ambiguous: keep one, or move the others to another package",
                    several.len(),
                    names.join(", ")
                ));
                continue;
            }
        };
        let bytes = std::fs::read(&path).map_err(io_error("read", &path))?;
        let info = match elf::inspect(&bytes) {
            Ok(info) => info,
            Err(err) => {
                problems.push(format!(
                    "{users}: {} (package `{package}`) is {err}",
                    path.display()
                ));
                continue;
            }
        };
        problems.extend(compatibility(
            &users,
            package,
            &path,
            &info,
            options.architecture,
        ));
        problems.extend(size_problem(
            &users,
            package,
            "unzipped",
            bytes.len() as u64,
            LAMBDA_UNZIPPED_MAX_BYTES,
        ));
        if native {
            let sha256 = zip::sha256_hex(&bytes);
            let (document, fresh) = match registry::cached(old_cache, package, &sha256) {
                Some(document) => (Some(document.clone()), None),
                None => match registry::describe(&path) {
                    registry::Answer::Described(document) => {
                        (Some(document.clone()), Some(document))
                    }
                    registry::Answer::Refused(mistakes) => {
                        for mistake in mistakes {
                            problems.push(format!(
                                "{users}: the binary of package `{package}` refuses to start: {mistake}; correct its registration (`Registry::new()…` in its main)"
                            ));
                        }
                        (None, None)
                    }
                    registry::Answer::Unknown => (None, None),
                },
            };
            if let Some(names) = document.as_ref().and_then(registry::registered) {
                let wanted: Vec<&str> = units
                    .iter()
                    .filter(|u| u.code.package() == Some(package.as_str()))
                    .flat_map(|u| u.functions.iter().map(String::as_str))
                    .collect();
                problems.extend(registry::unregistered(package, &wanted, &names));
            }
            described.insert(package.clone(), registry::Built { sha256, fresh });
        }
        binaries.insert(
            package.clone(),
            Binary {
                path,
                bytes,
                info,
                zip: None,
            },
        );
    }
    if !problems.is_empty() {
        return Err(BuildError::Rejected(problems));
    }
    Ok((binaries, described))
}

/// Writes the registry cache (`registry.json`) where its bytes change.
fn write_registry(out_dir: &Path, cache: flowctl_lang::registry::Cache) -> Result<(), BuildError> {
    registry::write_cache(out_dir, &cache)
        .map(|_| ())
        .map_err(io_error(
            "write",
            &out_dir.join(flowctl_lang::registry::CACHE_FILE),
        ))
}

/// Lambda's limit on a deployment package uploaded directly (zipped), in bytes.
pub const LAMBDA_ZIP_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Lambda's limit on a function's code unzipped, in bytes.
pub const LAMBDA_UNZIPPED_MAX_BYTES: u64 = 250 * 1024 * 1024;

/// A package over one of Lambda's size limits. Every unit of a package ships the same
/// binary, so colocating functions never changes a unit's size: the limit is the package's.
fn size_problem(users: &str, package: &str, what: &str, size: u64, limit: u64) -> Option<String> {
    (size > limit).then(|| {
        format!(
            "{users}: package `{package}` is {:.1} MB {what}, over Lambda's {} MB; make the binary smaller (fewer dependencies, `opt-level = \"s\"`, strip) or split the package",
            size as f64 / (1024.0 * 1024.0),
            limit / (1024 * 1024)
        )
    })
}

/// `unit `A`` or `units `A`, `B``: who is affected by a package's problem.
fn unit_names(units: &[Unit], package: &str) -> String {
    let names: Vec<String> = units
        .iter()
        .filter(|u| u.code.package() == Some(package))
        .map(|u| format!("`{}`", u.name))
        .collect();
    match names.len() {
        1 => format!("unit {}", names[0]),
        _ => format!("units {}", names.join(", ")),
    }
}

/// Why Lambda could not start `info` for `architecture`, one message per problem.
fn compatibility(
    users: &str,
    package: &str,
    path: &Path,
    info: &ElfInfo,
    architecture: Architecture,
) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = match architecture {
        Architecture::X86_64 => Machine::X86_64,
        Architecture::Arm64 => Machine::Aarch64,
    };
    let triple = toolchain::triple(architecture);
    if info.machine != expected {
        problems.push(format!(
            "{users}: {} (package `{package}`) is built for {}, but the project deploys {} (`deploy.architecture` or --arch); build it for {triple} (is CARGO_BUILD_TARGET or build.target set?), or change the architecture",
            path.display(),
            info.machine,
            architecture.as_str()
        ));
    }
    if let Some(needed) = info.glibc_max.filter(|v| *v > LAMBDA_GLIBC) {
        let cpu = &triple[..triple.find('-').unwrap_or(triple.len())];
        let symbols = match info.glibc_max_symbols.as_slice() {
            [] => String::new(),
            some => {
                let shown: Vec<String> = some.iter().take(3).map(|s| format!("`{s}`")).collect();
                let more = some.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(" (for {}{more})", shown.join(", "))
            }
        };
        problems.push(format!(
            "{users}: {} (package `{package}`) needs {needed}{symbols}, but Lambda's provided.al2023 runtime has glibc {}.{}, so it would not start there. Build it against glibc {}.{} or older: on a machine (or container) with that glibc, with `cargo zigbuild --release --target {triple}.{}.{}`, or statically with musl (`rustup target add {cpu}-unknown-linux-musl`, then `CARGO_BUILD_TARGET={cpu}-unknown-linux-musl flowctl build`)",
            path.display(),
            LAMBDA_GLIBC.major,
            LAMBDA_GLIBC.minor,
            LAMBDA_GLIBC.major,
            LAMBDA_GLIBC.minor,
            LAMBDA_GLIBC.major,
            LAMBDA_GLIBC.minor,
        ));
    }
    problems
}

/// Writes a unit's `bootstrap` and zip where they differ; returns its record and whether
/// anything was written.
fn package_unit(
    units_dir: &Path,
    unit: &Unit,
    package: &str,
    binary: &mut Binary,
    previous: Option<&UnitRecord>,
) -> Result<(UnitRecord, bool), BuildError> {
    let dir = units_dir.join(&unit.name);
    std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
    let bootstrap = dir.join("bootstrap");
    let bootstrap_changed = write_if_changed(&bootstrap, &binary.bytes, zip::EXECUTABLE)
        .map_err(io_error("write", &bootstrap))?;
    let zip_name = format!("{}.zip", unit.name);
    let zip_path = dir.join(&zip_name);

    // An unchanged bootstrap whose zip is still the one recorded needs no zipping.
    let kept = previous
        .filter(|_| !bootstrap_changed)
        .and_then(|previous| {
            let bytes = std::fs::read(&zip_path).ok()?;
            (zip::code_sha256(&bytes) == previous.code_sha256)
                .then(|| (previous.code_sha256.clone(), bytes.len() as u64))
        });
    let (code_sha256, size, zip_changed) = match kept {
        Some((sha, size)) => (sha, size, false),
        None => {
            let zipped = match binary.zip.take() {
                Some(zipped) => zipped,
                None => {
                    let bytes = zip::write(&[zip::Entry {
                        name: "bootstrap",
                        data: &binary.bytes,
                        mode: zip::EXECUTABLE,
                    }])
                    .map_err(|err| {
                        BuildError::Rejected(vec![format!(
                            "cannot package {}: {err}",
                            binary.path.display()
                        )])
                    })?;
                    let sha = zip::code_sha256(&bytes);
                    (bytes, sha)
                }
            };
            let changed = write_if_changed(&zip_path, &zipped.0, zip::REGULAR)
                .map_err(io_error("write", &zip_path))?;
            let written = (zipped.1.clone(), zipped.0.len() as u64, changed);
            binary.zip = Some(zipped);
            written
        }
    };
    let record = UnitRecord {
        name: unit.name.clone(),
        functions: unit.functions.clone(),
        package: Some(package.to_string()),
        runtime: record::PROVIDED_RUNTIME.to_string(),
        handler: flowctl_lang::manifest::runtime::PROVIDED_HANDLER.to_string(),
        source: None,
        bootstrap: Some(format!("units/{}/bootstrap", unit.name)),
        zip: format!("units/{}/{zip_name}", unit.name),
        code_sha256,
        size,
        glibc_max: binary.info.glibc_max.map(|v| v.to_string()),
        env: unit.env.clone(),
        memory: unit.memory,
        timeout: unit.timeout,
    };
    Ok((record, bootstrap_changed || zip_changed))
}

/// Zips a managed runtime's unit from its source directory (`project_root` joined with the
/// manifest's `source`) where the zip's bytes change; returns its record, whether the zip was
/// written, and the source's size.
fn package_source(
    units_dir: &Path,
    project_root: &Path,
    unit: &Unit,
    managed: &Managed,
) -> Result<(UnitRecord, bool, u64), BuildError> {
    let runtime = managed.runtime.as_str();
    let source_dir = project_root.join(&managed.source);
    let files = source::read_tree(&source_dir).map_err(|err| {
        BuildError::Rejected(vec![format!("unit `{}` ({runtime}): {err}", unit.name)])
    })?;
    let (bytes, unzipped) = source::package(&files).map_err(|err| {
        BuildError::Rejected(vec![format!(
            "unit `{}` ({runtime}): cannot package {}: {err}",
            unit.name,
            source_dir.display()
        )])
    })?;
    if let Some(problem) = size_problem(
        &format!("unit `{}`", unit.name),
        &unit.code.describe(),
        "unzipped",
        unzipped,
        LAMBDA_UNZIPPED_MAX_BYTES,
    ) {
        return Err(BuildError::Rejected(vec![problem]));
    }
    let dir = units_dir.join(&unit.name);
    std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
    // A cargo unit of the same name, before: its bootstrap is not this unit's.
    let stale = dir.join("bootstrap");
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(io_error("remove", &stale))?;
    }
    let zip_name = format!("{}.zip", unit.name);
    let zip_path = dir.join(&zip_name);
    let changed =
        write_if_changed(&zip_path, &bytes, zip::REGULAR).map_err(io_error("write", &zip_path))?;
    let record = UnitRecord {
        name: unit.name.clone(),
        functions: unit.functions.clone(),
        package: None,
        runtime: runtime.to_string(),
        handler: managed.handler.clone(),
        source: Some(
            managed
                .source
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        ),
        bootstrap: None,
        zip: format!("units/{}/{zip_name}", unit.name),
        code_sha256: zip::code_sha256(&bytes),
        size: bytes.len() as u64,
        glibc_max: None,
        env: unit.env.clone(),
        memory: unit.memory,
        timeout: unit.timeout,
    };
    Ok((record, changed, unzipped))
}

/// Removes the directories under `units_dir` that are not units any more.
fn prune(units_dir: &Path, keep: &BTreeSet<String>) -> Result<(), BuildError> {
    let Ok(entries) = std::fs::read_dir(units_dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && !keep.contains(&name) {
            std::fs::remove_dir_all(&path).map_err(io_error("remove", &path))?;
        }
    }
    Ok(())
}

/// Writes `record` to `<out_dir>/build.json` unless it already says exactly that; returns
/// whether it wrote.
pub fn write_record(out_dir: &Path, record: &BuildRecord) -> Result<bool, BuildError> {
    std::fs::create_dir_all(out_dir).map_err(io_error("create", out_dir))?;
    let path = out_dir.join(record::FILE);
    write_if_changed(&path, record.to_json().as_bytes(), zip::REGULAR)
        .map_err(io_error("write", &path))
}

/// A project's build directory: `<target>/flowctl/<project>`.
pub fn out_dir(target: &Path, project: &str) -> PathBuf {
    target.join("flowctl").join(project)
}

/// Where `flowctl build` puts a project's flows: `<target>/flowctl/<project>/flows`.
pub fn asl_dir(target: &Path, project: &str) -> PathBuf {
    out_dir(target, project).join("flows")
}

/// Cargo's target directory for a project in `project_root`: `CARGO_TARGET_DIR` when set,
/// else `target/` beside the nearest `Cargo.toml` with a `[workspace]` (or, failing that, the
/// nearest `Cargo.toml`) at or above the project; `<project_root>/target` outside cargo.
pub fn target_dir(project_root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let absolute = absolute(project_root);
    cargo_root(&absolute).unwrap_or(absolute).join("target")
}

/// `dir` made absolute (the working directory for an empty path).
fn absolute(dir: &Path) -> PathBuf {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The directory of the cargo workspace (or package) containing `dir`, if any.
pub fn cargo_root(dir: &Path) -> Option<PathBuf> {
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

/// Writes `bytes` to `path` (through a temporary file and a rename, with Unix `mode`) unless
/// it already holds exactly them; returns whether it wrote. An unchanged file keeps its
/// modification time; only its mode is corrected if it differs.
pub fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        set_mode(path, mode)?;
        return Ok(false);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    set_mode(&tmp, mode)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let wanted = mode & 0o7777;
    let current = std::fs::metadata(path)?.permissions();
    if current.mode() & 0o7777 != wanted {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_over_lambdas_size_limits_are_named_with_their_size() {
        assert_eq!(
            size_problem(
                "unit `u`",
                "fns",
                "zipped",
                LAMBDA_ZIP_MAX_BYTES,
                LAMBDA_ZIP_MAX_BYTES
            ),
            None
        );
        let problem = size_problem(
            "unit `u`",
            "fns",
            "zipped",
            LAMBDA_ZIP_MAX_BYTES + 1024 * 1024,
            LAMBDA_ZIP_MAX_BYTES,
        )
        .unwrap();
        assert!(
            problem.starts_with("unit `u`: package `fns` is 51.0 MB zipped, over Lambda's 50 MB"),
            "{problem}"
        );
    }

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
    fn unchanged_bytes_are_not_rewritten_but_the_mode_is_corrected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap");
        assert!(write_if_changed(&path, b"one", zip::EXECUTABLE).unwrap());
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_if_changed(&path, b"one", zip::EXECUTABLE).unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o755);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(!write_if_changed(&path, b"one", zip::EXECUTABLE).unwrap());
            assert_eq!(mode(&path), 0o755);
        }
        assert!(write_if_changed(&path, b"two", zip::EXECUTABLE).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join("bootstrap.tmp").exists());
    }

    fn elf_info(machine: Machine, glibc: &str, symbols: &[&str]) -> ElfInfo {
        ElfInfo {
            machine,
            dynamic: true,
            glibc_max: elf::GlibcVersion::parse(glibc),
            glibc_max_symbols: symbols.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_binary_lambda_could_not_start_is_explained() {
        let path = Path::new("target/release/fns");
        let ok = elf_info(Machine::X86_64, "GLIBC_2.34", &["__libc_start_main"]);
        assert!(compatibility("unit `A`", "fns", path, &ok, Architecture::X86_64).is_empty());

        let new = elf_info(Machine::X86_64, "GLIBC_2.39", &["a", "b", "c", "d"]);
        let problems = compatibility("unit `A`", "fns", path, &new, Architecture::X86_64);
        assert_eq!(problems.len(), 1);
        let text = &problems[0];
        for part in [
            "unit `A`",
            "target/release/fns",
            "package `fns`",
            "needs GLIBC_2.39 (for `a`, `b`, `c` and 1 more)",
            "glibc 2.34",
            "cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.34",
            "x86_64-unknown-linux-musl",
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }

        let arm = elf_info(Machine::Aarch64, "GLIBC_2.17", &[]);
        let problems = compatibility("units `A`, `B`", "fns", path, &arm, Architecture::X86_64);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("built for aarch64 (arm64), but the project deploys x86_64"),
            "{}",
            problems[0]
        );
        assert!(compatibility("unit `A`", "fns", path, &arm, Architecture::Arm64).is_empty());
    }

    #[test]
    fn problems_name_every_unit_of_the_package() {
        let (manifest, _) = flowctl_lang::manifest::parse(
            "project: p\nfunctions:\n  A: { package: x }\n  B: { package: x }\n  C: { package: y }\n",
        );
        let units = flowctl_lang::plan::one_unit_per_function(&manifest.unwrap()).units;
        assert_eq!(unit_names(&units, "x"), "units `A`, `B`");
        assert_eq!(unit_names(&units, "y"), "unit `C`");
    }
}
