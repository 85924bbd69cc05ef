//! Reads a project from disk — the manifest, the registry a build cached and the schema files
//! the manifest names, then every flow, parsed and checked against them — and collects every
//! diagnostic by file. The I/O edge in front of the pure front-end (`manifest`, `registry`,
//! `flow`).

use flowctl_lang::diagnostic::Severity;
use flowctl_lang::flow::{self, ast::FlowFile, ir};
use flowctl_lang::manifest::{self, FlowEntry, Manifest};
use flowctl_lang::plan::{self, Plan};
use flowctl_lang::registry::{self, Registry};
use flowctl_lang::render::FileDiagnostics;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name `flowctl` looks for.
pub const MANIFEST_FILE: &str = "flowctl.yaml";

#[derive(Debug)]
pub struct Project {
    /// The manifest's path as shown to the user.
    pub manifest_path: PathBuf,
    /// The directory holding the manifest; flow sources are relative to it.
    pub root: PathBuf,
    /// The manifest, with each function's `idempotent` as the registry has it (the planner
    /// and fusion read it there).
    pub manifest: Manifest,
    /// The functions' types and properties: the last build's `describe` answers joined with
    /// what the manifest declares.
    pub registry: Arc<Registry>,
    /// Whether the last build's registry was found and covers every function package.
    pub typed: bool,
    /// The manifest's flows, in manifest order; each read, parsed and checked when possible.
    pub flows: Vec<LoadedFlow>,
}

#[derive(Debug)]
pub struct LoadedFlow {
    pub name: String,
    pub entry: FlowEntry,
    /// The source path as shown to the user.
    pub path: PathBuf,
    /// `None` when the file could not be read (reported against the manifest).
    pub source: Option<String>,
    pub ast: Option<FlowFile>,
    /// Present only for a flow without errors.
    pub ir: Option<ir::Flow>,
}

impl Project {
    pub fn flow(&self, name: &str) -> Option<&LoadedFlow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The colocation plan, from the flows that checked: the one source of units for build,
    /// deploy, `invoke` and `compile`, so documents' `${unit:…}` placeholders and the built
    /// units always agree.
    pub fn plan(&self) -> Plan {
        let flows: Vec<&ir::Flow> = self.flows.iter().filter_map(|f| f.ir.as_ref()).collect();
        plan::plan(&self.manifest, &flows)
    }
}

/// A project and everything wrong with it. `project` is `None` when the manifest itself
/// could not be understood.
#[derive(Debug)]
pub struct Loaded {
    pub project: Option<Project>,
    pub reports: Vec<FileDiagnostics>,
}

impl Loaded {
    pub fn error_count(&self) -> usize {
        self.reports.iter().map(FileDiagnostics::errors).sum()
    }

    pub fn warning_count(&self) -> usize {
        self.reports
            .iter()
            .flat_map(|r| &r.diagnostics)
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no {MANIFEST_FILE} in {} or any parent directory (create one with `flowctl new NAME`, or pass -m path/to/{MANIFEST_FILE})", .0.display())]
    NotFound(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The manifest in `start` or the nearest parent directory.
pub fn find_manifest(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(MANIFEST_FILE))
        .find(|p| p.is_file())
}

/// `path` when given (a file, or a directory holding `flowctl.yaml`), else found upwards from
/// the working directory.
pub fn locate(path: Option<&Path>) -> Result<PathBuf, LoadError> {
    match path {
        Some(p) if p.is_dir() => Ok(p.join(MANIFEST_FILE)),
        Some(p) => Ok(p.to_path_buf()),
        None => {
            let cwd = std::env::current_dir().map_err(|source| LoadError::Read {
                path: PathBuf::from("."),
                source,
            })?;
            let found = find_manifest(&cwd).ok_or(LoadError::NotFound(cwd.clone()))?;
            Ok(found
                .strip_prefix(&cwd)
                .map(Path::to_path_buf)
                .unwrap_or(found))
        }
    }
}

/// Reads, parses and checks the manifest at `manifest_path` and every flow it lists, with the
/// registry the last build cached.
pub fn load(manifest_path: &Path) -> Result<Loaded, LoadError> {
    load_with_cache(manifest_path, |root, project| {
        let out_dir = crate::build::out_dir(&crate::build::target_dir(root), project);
        let main = crate::build::registry::read_cache(&out_dir);
        main.filter(|c| !c.packages.is_empty()).or_else(|| {
            // A cross-compiled build cannot run its binaries to describe them; the native
            // build `invoke` and `dev` make beside it can.
            ["x86_64", "arm64"].iter().find_map(|arch| {
                crate::build::registry::read_cache(&out_dir.join(format!("local-{arch}")))
            })
        })
    })
}

/// [`load`], with the registry cache given by `cache(project root, project name)` (tests give
/// a fixture).
pub fn load_with_cache(
    manifest_path: &Path,
    cache: impl FnOnce(&Path, &str) -> Option<registry::Cache>,
) -> Result<Loaded, LoadError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let text = read(manifest_path)?;
    let root = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (manifest, mut manifest_diags) = manifest::parse(&text);
    let mut reports = Vec::new();
    let Some(manifest) = manifest else {
        reports.push(FileDiagnostics {
            path: manifest_path.to_path_buf(),
            source: text,
            diagnostics: manifest_diags,
        });
        return Ok(Loaded {
            project: None,
            reports,
        });
    };
    manifest_diags.extend(manifest::check_files(&manifest, &text, |p| {
        root.join(p).is_file()
    }));
    manifest_diags.extend(manifest::check_sources(&manifest, &text, |p| {
        path_kind(&root.join(p))
    }));

    let cache = cache(&root, &manifest.project);
    let schema_files: BTreeMap<PathBuf, String> = manifest
        .schema_files()
        .into_iter()
        .filter_map(|(_, path)| {
            let text = std::fs::read_to_string(root.join(&path)).ok()?;
            Some((path, text))
        })
        .collect();
    let (registry, registry_diags) = registry::assemble(&registry::Inputs {
        manifest: &manifest,
        manifest_text: &text,
        cache: cache.as_ref(),
        schema_files: &schema_files,
    });
    manifest_diags.extend(registry_diags);
    let mut manifest = manifest;
    for (key, function) in manifest.functions.iter_mut() {
        if let Some(info) = registry.function(key).filter(|f| f.declared) {
            function.idempotent = Some(info.properties.idempotent);
        }
    }
    let typed = registry.complete;
    let registry = Arc::new(registry);

    let mut flows = Vec::new();
    for (name, entry) in &manifest.flows {
        let path = root.join(&entry.source);
        let mut loaded = LoadedFlow {
            name: name.clone(),
            entry: entry.clone(),
            path: path.clone(),
            source: None,
            ast: None,
            ir: None,
        };
        if path.is_file() {
            let source = read(&path)?;
            let mut known = manifest.known_functions(name);
            known.registry = Some(registry.clone());
            let (ast, ir, diags) = flow::parse_and_check(&source, &known);
            loaded.ir = ir;
            loaded.ast = ast;
            if !diags.is_empty() {
                reports.push(FileDiagnostics {
                    path,
                    source: source.clone(),
                    diagnostics: diags,
                });
            }
            loaded.source = Some(source);
        }
        flows.push(loaded);
    }
    if !manifest_diags.is_empty() {
        reports.insert(
            0,
            FileDiagnostics {
                path: manifest_path.to_path_buf(),
                source: text,
                diagnostics: manifest_diags,
            },
        );
    }
    Ok(Loaded {
        project: Some(Project {
            manifest_path: manifest_path.to_path_buf(),
            root,
            manifest,
            registry,
            typed,
            flows,
        }),
        reports,
    })
}

/// What is at `path`, for [`manifest::check_sources`] (symbolic links followed).
fn path_kind(path: &Path) -> manifest::PathKind {
    match std::fs::metadata(path) {
        Err(_) => manifest::PathKind::Missing,
        Ok(meta) if meta.is_dir() => manifest::PathKind::Directory,
        Ok(meta) => manifest::PathKind::File {
            executable: is_executable(&meta),
        },
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}
