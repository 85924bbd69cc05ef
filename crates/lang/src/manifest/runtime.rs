//! The Lambda managed runtimes a function in another language may name, and what each asks of
//! its `handler` and `source` (pure: file existence is asked by the caller).
//!
//! The list is written once, in [`Runtime::ALL`] and [`Runtime::as_str`]: the loader, the JSON
//! Schema, the planner, the build and deploy all read it here.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

/// A Lambda managed runtime flowctl can deploy a function's source to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    Python311,
    Python312,
    Python313,
    Python314,
    Nodejs22,
    Nodejs24,
    /// An executable `bootstrap` of the function's own, in any language.
    ProvidedAl2023,
}

/// The language family of a runtime: what its handler names and which files it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Node,
    /// `provided.al2023`: Lambda starts the `bootstrap` executable; there is no handler.
    Provided,
}

/// Lambda's `Handler` setting for a `provided` runtime: required by the API, read by no one.
pub const PROVIDED_HANDLER: &str = "bootstrap";

impl Runtime {
    /// Every runtime accepted, in the order messages list them. Only the runtimes Lambda still
    /// lets a function be created with: a deprecated one would pass `check` and fail deploy.
    pub const ALL: [Runtime; 7] = [
        Runtime::Python311,
        Runtime::Python312,
        Runtime::Python313,
        Runtime::Python314,
        Runtime::Nodejs22,
        Runtime::Nodejs24,
        Runtime::ProvidedAl2023,
    ];

    /// The identifier Lambda's API and the manifest use.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Python311 => "python3.11",
            Runtime::Python312 => "python3.12",
            Runtime::Python313 => "python3.13",
            Runtime::Python314 => "python3.14",
            Runtime::Nodejs22 => "nodejs22.x",
            Runtime::Nodejs24 => "nodejs24.x",
            Runtime::ProvidedAl2023 => "provided.al2023",
        }
    }

    /// The runtime of that identifier, if flowctl supports it.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn language(self) -> Language {
        match self {
            Runtime::Python311 | Runtime::Python312 | Runtime::Python313 | Runtime::Python314 => {
                Language::Python
            }
            Runtime::Nodejs22 | Runtime::Nodejs24 => Language::Node,
            Runtime::ProvidedAl2023 => Language::Provided,
        }
    }

    /// Every identifier, for messages: "`python3.11`, `python3.12`, … or `provided.al2023`".
    pub fn list() -> String {
        let names: Vec<String> = Runtime::ALL
            .iter()
            .map(|r| format!("`{}`", r.as_str()))
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// A likely meant runtime for a name that is not one: a near spelling, or the language's
    /// newest version for a bare `python`/`node`.
    pub fn suggestion(name: &str) -> Option<Runtime> {
        let lower = name.to_ascii_lowercase();
        if let Some(exact) = Runtime::from_name(&lower) {
            return Some(exact);
        }
        let names = Runtime::ALL.map(Runtime::as_str);
        if let Some(near) = flowctl_protocol::did_you_mean(&lower, names) {
            return Runtime::from_name(near);
        }
        let newest = |language: Language| {
            Runtime::ALL
                .into_iter()
                .rev()
                .find(|r| r.language() == language)
        };
        if lower.starts_with("python") {
            newest(Language::Python)
        } else if lower.starts_with("node") {
            newest(Language::Node)
        } else if lower.starts_with("provided") || lower == "rust" || lower == "go" {
            Some(Runtime::ProvidedAl2023)
        } else {
            None
        }
    }
}

impl Language {
    /// An example handler, for hints.
    pub fn example_handler(self) -> &'static str {
        match self {
            Language::Python => "app.handler",
            Language::Node => "index.handler",
            Language::Provided => PROVIDED_HANDLER,
        }
    }

    /// What a handler looks like, for messages.
    pub fn handler_shape(self) -> &'static str {
        match self {
            Language::Python => {
                "`module.function` (e.g. `app.handler` for `def handler(event, context)` in `app.py`)"
            }
            Language::Node => {
                "`file.export` (e.g. `index.handler` for `export const handler` in `index.mjs`)"
            }
            Language::Provided => "none: Lambda starts the `bootstrap` executable",
        }
    }
}

/// Why `handler` is not a handler `language` can load, or `None` when it has the right shape.
///
/// Python: `[dir/]module[.module].function` (Lambda imports the part before the last `.`);
/// Node: `[dir/]file.export[.export]` (Lambda loads the file named up to the first `.` after
/// the last `/`).
pub fn handler_problem(language: Language, handler: &str) -> Option<String> {
    let identifier = |s: &str, extra: &[char]| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || extra.contains(&c))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
    };
    let (dir, rest) = match handler.rsplit_once('/') {
        Some((dir, rest)) => (Some(dir), rest),
        None => (None, handler),
    };
    if let Some(dir) = dir {
        let bad = dir.is_empty()
            || dir.starts_with('/')
            || dir
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..");
        if bad {
            return Some(format!(
                "`{dir}/` is not a directory inside the source (no leading `/`, `.` or `..`)"
            ));
        }
    }
    match language {
        Language::Provided => Some("`provided.al2023` takes no handler".to_string()),
        Language::Python => {
            let Some((module, function)) = rest.rsplit_once('.') else {
                return Some(format!(
                    "`{handler}` has no `.` between module and function"
                ));
            };
            if !module.split('.').all(|m| identifier(m, &[])) {
                return Some(format!("`{module}` is not a Python module name"));
            }
            if !identifier(function, &[]) {
                return Some(format!("`{function}` is not a Python function name"));
            }
            None
        }
        Language::Node => {
            let Some((file, export)) = rest.split_once('.') else {
                return Some(format!("`{handler}` has no `.` between file and export"));
            };
            let file_ok = !file.is_empty()
                && file
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !file_ok {
                return Some(format!(
                    "`{file}` is not a file name (without its extension)"
                ));
            }
            if !export.split('.').all(|e| identifier(e, &['$'])) {
                return Some(format!("`{export}` is not a JavaScript export name"));
            }
            None
        }
    }
}

/// The files, relative to the source directory, one of which must exist for `handler` to
/// load: `app.py` (or the package `app/__init__.py`) for `app.handler`; `index.js`,
/// `index.mjs` or `index.cjs` for `index.handler`; `bootstrap` for `provided.al2023`. Empty
/// for a handler of the wrong shape (reported on its own).
pub fn handler_files(language: Language, handler: &str) -> Vec<PathBuf> {
    if language == Language::Provided {
        return vec![PathBuf::from(PROVIDED_HANDLER)];
    }
    if handler_problem(language, handler).is_some() {
        return Vec::new();
    }
    let (dir, rest) = match handler.rsplit_once('/') {
        Some((dir, rest)) => (Path::new(dir), rest),
        None => (Path::new(""), handler),
    };
    match language {
        Language::Python => {
            let module = rest.rsplit_once('.').map_or(rest, |(m, _)| m);
            let path: PathBuf = module.split('.').collect();
            vec![
                dir.join(path.with_extension("py")),
                dir.join(path).join("__init__.py"),
            ]
        }
        Language::Node => {
            let file = rest.split_once('.').map_or(rest, |(f, _)| f);
            ["js", "mjs", "cjs"]
                .iter()
                .map(|ext| dir.join(format!("{file}.{ext}")))
                .collect()
        }
        Language::Provided => Vec::new(),
    }
}

impl Serialize for Runtime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Runtime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Runtime::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown runtime `{name}`: expected {}",
                Runtime::list()
            ))
        })
    }
}

impl JsonSchema for Runtime {
    fn schema_name() -> String {
        "Runtime".into()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let value = serde_json::json!({
            "description": "A Lambda managed runtime: Python or Node.js (the function's source with its `handler`), or `provided.al2023` (an executable `bootstrap` in the source directory).",
            "type": "string",
            "enum": Runtime::ALL.map(Runtime::as_str),
        });
        serde_json::from_value(value).unwrap_or(schemars::schema::Schema::Bool(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_reads_back_from_its_name() {
        for runtime in Runtime::ALL {
            assert_eq!(Runtime::from_name(runtime.as_str()), Some(runtime));
        }
        assert_eq!(Runtime::from_name("python3.9"), None);
        assert_eq!(
            Runtime::list(),
            "`python3.11`, `python3.12`, `python3.13`, `python3.14`, `nodejs22.x`, `nodejs24.x` or `provided.al2023`"
        );
    }

    #[test]
    fn a_near_or_bare_name_suggests_a_runtime() {
        assert_eq!(Runtime::suggestion("python3.21"), Some(Runtime::Python312));
        assert_eq!(Runtime::suggestion("Python3.12"), Some(Runtime::Python312));
        assert_eq!(Runtime::suggestion("python"), Some(Runtime::Python314));
        assert_eq!(Runtime::suggestion("node"), Some(Runtime::Nodejs24));
        assert_eq!(Runtime::suggestion("nodejs22"), Some(Runtime::Nodejs22));
        assert_eq!(
            Runtime::suggestion("provided.al2"),
            Some(Runtime::ProvidedAl2023)
        );
        assert_eq!(Runtime::suggestion("cobol"), None);
    }

    #[test]
    fn handlers_are_checked_by_language() {
        use Language::*;
        for ok in [
            "app.handler",
            "pkg.app.handler",
            "src/app.handler",
            "_a.b_2",
        ] {
            assert_eq!(handler_problem(Python, ok), None, "{ok}");
        }
        for bad in [
            "app",
            "app.",
            ".handler",
            "app.my-handler",
            "1app.h",
            "/abs/app.h",
            "../app.h",
        ] {
            assert!(handler_problem(Python, bad).is_some(), "{bad}");
        }
        for ok in [
            "index.handler",
            "src/my-app.handler",
            "index.api.get",
            "i.$h",
        ] {
            assert_eq!(handler_problem(Node, ok), None, "{ok}");
        }
        for bad in ["index", "index.", "index.1h", "a b.h", "./index.h"] {
            assert!(handler_problem(Node, bad).is_some(), "{bad}");
        }
        assert!(handler_problem(Provided, "bootstrap").is_some());
    }

    #[test]
    fn a_handler_names_the_files_that_load_it() {
        assert_eq!(
            handler_files(Language::Python, "pkg.app.handler"),
            [
                PathBuf::from("pkg/app.py"),
                PathBuf::from("pkg/app/__init__.py")
            ]
        );
        assert_eq!(
            handler_files(Language::Node, "src/index.handler"),
            ["src/index.js", "src/index.mjs", "src/index.cjs"].map(PathBuf::from)
        );
        assert_eq!(
            handler_files(Language::Provided, ""),
            [PathBuf::from("bootstrap")]
        );
        assert!(handler_files(Language::Python, "app").is_empty());
    }
}
