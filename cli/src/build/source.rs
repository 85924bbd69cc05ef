//! A function in a managed runtime is deployed as its `source` directory, zipped: what goes
//! in ([`included`], pure), reading the tree ([`read_tree`]), and the archive ([`package`],
//! pure, through [`super::zip`]).
//!
//! The same files give the same bytes, so the same `CodeSha256`, whatever order the file
//! system lists them in and whatever their timestamps: entries are sorted by path, and a file's
//! mode is only whether it is executable (0755, else 0644), not the umask it was made under.
//! Dependencies come along (`node_modules`, vendored Python packages): Lambda installs none.
//! Left out is only what the runtime regenerates or never reads: Python's bytecode caches
//! (`__pycache__`, `*.pyc`) and version control (`.git`).

use super::zip;
use std::path::{Path, PathBuf};

/// One file of a source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path inside the source directory, `/`-separated.
    pub name: String,
    pub data: Vec<u8>,
    pub executable: bool,
}

/// Why a source directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} leads back into a directory that contains it (a symbolic link loop)", .0.display())]
    Loop(PathBuf),
    #[error("{} has a name that is not UTF-8, which a zip cannot carry for Lambda", .0.display())]
    Name(PathBuf),
}

/// Whether the entry `name` (a file or directory name, not a path) goes into the package.
pub fn included(name: &str, is_dir: bool) -> bool {
    if is_dir {
        !matches!(name, "__pycache__" | ".git")
    } else {
        // A `.git` file marks a worktree or submodule.
        name != ".git" && !name.ends_with(".pyc")
    }
}

/// Every included file under `dir`, in no particular order; symbolic links are followed (a
/// link's target is packaged under the link's name), and a loop is an error.
pub fn read_tree(dir: &Path) -> Result<Vec<SourceFile>, SourceError> {
    let mut files = Vec::new();
    let mut ancestors = Vec::new();
    walk(dir, "", &mut ancestors, &mut files)?;
    Ok(files)
}

fn walk(
    dir: &Path,
    prefix: &str,
    ancestors: &mut Vec<PathBuf>,
    files: &mut Vec<SourceFile>,
) -> Result<(), SourceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    let canonical = std::fs::canonicalize(dir).map_err(io(dir))?;
    if ancestors.contains(&canonical) {
        return Err(SourceError::Loop(dir.to_path_buf()));
    }
    ancestors.push(canonical);
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(SourceError::Name(path));
        };
        // Following links: a link to a directory is walked, to a file is read.
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if !included(&name, meta.is_dir()) {
            continue;
        }
        let inner = format!("{prefix}{name}");
        if meta.is_dir() {
            walk(&path, &format!("{inner}/"), ancestors, files)?;
        } else if meta.is_file() {
            files.push(SourceFile {
                name: inner,
                data: std::fs::read(&path).map_err(io(&path))?,
                executable: is_executable(&meta),
            });
        }
    }
    ancestors.pop();
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// The deployment package of `files`, and its size unzipped.
pub fn package(files: &[SourceFile]) -> Result<(Vec<u8>, u64), zip::ZipError> {
    let entries: Vec<zip::Entry<'_>> = files
        .iter()
        .map(|file| zip::Entry {
            name: &file.name,
            data: &file.data,
            mode: if file.executable {
                zip::EXECUTABLE
            } else {
                zip::REGULAR
            },
        })
        .collect();
    let unzipped = files.iter().map(|f| f.data.len() as u64).sum();
    Ok((zip::write(&entries)?, unzipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str, executable: bool) -> SourceFile {
        SourceFile {
            name: name.into(),
            data: data.as_bytes().to_vec(),
            executable,
        }
    }

    #[test]
    fn the_same_files_in_any_order_give_the_same_bytes() {
        let files = vec![
            file("app.py", "def handler(e, c):\n    return e\n", false),
            file("lib/util.py", "X = 1\n", false),
            file("bootstrap", "#!/bin/sh\n", true),
        ];
        let mut reversed = files.clone();
        reversed.reverse();
        let (a, size) = package(&files).unwrap();
        let (b, _) = package(&reversed).unwrap();
        assert_eq!(a, b);
        assert_eq!(zip::code_sha256(&a), zip::code_sha256(&b));
        assert_eq!(size, 48);
        let mut changed = files.clone();
        changed[1].data = b"X = 2\n".to_vec();
        assert_ne!(package(&changed).unwrap().0, a);
        let mut mode = files.clone();
        mode[0].executable = true;
        assert_ne!(package(&mode).unwrap().0, a, "the mode is packaged");
    }

    #[test]
    fn caches_and_version_control_stay_out_and_dependencies_go_in() {
        assert!(!included("__pycache__", true));
        assert!(!included(".git", true));
        assert!(!included(".git", false));
        assert!(!included("app.cpython-312.pyc", false));
        assert!(included("node_modules", true));
        assert!(included("app.py", false));
        assert!(included(".env", false));
        assert!(
            included("__pycache__", false),
            "only the directory is a cache"
        );
    }

    #[test]
    fn a_tree_read_twice_packages_to_the_same_code_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("node_modules/dep")).unwrap();
        std::fs::create_dir_all(root.join("__pycache__")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(
            root.join("index.mjs"),
            "export const handler = async (e) => e;\n",
        )
        .unwrap();
        std::fs::write(
            root.join("node_modules/dep/index.js"),
            "module.exports = 1;\n",
        )
        .unwrap();
        std::fs::write(root.join("__pycache__/app.cpython-312.pyc"), "x").unwrap();
        std::fs::write(root.join(".git/HEAD"), "ref").unwrap();
        std::fs::write(root.join("stale.pyc"), "x").unwrap();
        let mut files = read_tree(root).unwrap();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["index.mjs", "node_modules/dep/index.js"]);
        let first = package(&files).unwrap().0;
        // Newer timestamps, same contents: the same package.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(
            root.join("index.mjs"),
            "export const handler = async (e) => e;\n",
        )
        .unwrap();
        assert_eq!(package(&read_tree(root).unwrap()).unwrap().0, first);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_a_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("lib/a.py"), "A = 1\n").unwrap();
        std::os::unix::fs::symlink("lib/a.py", root.join("b.py")).unwrap();
        let mut names: Vec<String> = read_tree(root)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        names.sort();
        assert_eq!(names, ["b.py", "lib/a.py"]);
        std::os::unix::fs::symlink("..", root.join("lib/up")).unwrap();
        assert!(matches!(read_tree(root), Err(SourceError::Loop(_))));
    }
}
