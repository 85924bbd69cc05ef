//! `flowctl new NAME [--template basic|saga] [--dir PATH]`: a new project from one of the
//! templates embedded in the binary (`templates/` in the repository), ready for
//! `flowctl check`, `flowctl invoke` and `flowctl test` (each flow comes with test cases that
//! take all its branches) as it is written.
//!
//! The templates carry two placeholders, replaced as plain text: `{{project}}` (the project
//! name) and `{{flowctl-shim}}` (the shim's dependency line in `functions/Cargo.toml`; see
//! [`Shim`] for which one is written and `templates/README.md` for why).

use super::out::{self, note};
use super::{Exit, Global, Output};
use anyhow::{bail, Context};
use flowctl_lang::diagnostic::Severity;
use flowctl_lang::manifest::{self, names};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project's name: it names the deployed resources (`NAME-Function`, `NAME-Flow`), the
    /// functions crate (`NAME-functions`) and, unless --dir says otherwise, the directory
    pub name: String,
    /// What the project starts with: `basic` (two functions, a flow with an if/else) or `saga`
    /// (a trip booked as a saga: compensations, retries, a parallel and a map)
    #[arg(long, short, value_enum, default_value_t = Template::Basic)]
    pub template: Template,
    /// Where to create the project (default: ./NAME); it must not exist, or be empty
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// The flowctl-shim sources the functions crate depends on by path (default: those this
    /// flowctl was built from, if they are still there; otherwise crates.io)
    #[arg(long, value_name = "PATH")]
    pub shim_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    Basic,
    Saga,
}

/// One file of a template: its path in the project, and its text before rendering.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

/// The files of `templates/<dir>/`, embedded so that an installed binary has them.
macro_rules! template_files {
    ($dir:literal: $($path:literal),+ $(,)?) => {
        &[$(TemplateFile {
            path: $path,
            text: include_str!(concat!("../../../templates/", $dir, "/", $path)),
        }),+]
    };
}

const BASIC: &[TemplateFile] = template_files!("basic":
    ".gitignore",
    "Cargo.toml",
    "README.md",
    "flowctl.yaml",
    "flows/main.flow",
    "flows/main.test.yaml",
    "functions/Cargo.toml",
    "functions/src/main.rs",
);

const SAGA: &[TemplateFile] = template_files!("saga":
    ".gitignore",
    "Cargo.toml",
    "README.md",
    "flowctl.yaml",
    "flows/trip.flow",
    "flows/trip.test.yaml",
    "functions/Cargo.toml",
    "functions/src/main.rs",
    "functions/src/trip.rs",
);

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::Basic => "basic",
            Template::Saga => "saga",
        }
    }

    fn files(self) -> &'static [TemplateFile] {
        match self {
            Template::Basic => BASIC,
            Template::Saga => SAGA,
        }
    }

    /// The flow to try first, and an input that takes its successful path.
    fn first_run(self) -> (&'static str, &'static str) {
        match self {
            Template::Basic => ("Main", r#"{"name": "ada lovelace"}"#),
            Template::Saga => (
                "Trip",
                r#"{"trip": "t-1", "from": "LHR", "to": "Lisbon", "nights": 3, "amount": 900, "travellers": ["Ada", "Grace"]}"#,
            ),
        }
    }
}

const PROJECT: &str = "{{project}}";
const SHIM: &str = "{{flowctl-shim}}";

/// Where the functions crate gets flowctl-shim from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shim {
    /// A directory holding the `flowctl-shim` package (absolute).
    Path(PathBuf),
    /// The crates.io release.
    CratesIo,
}

impl Shim {
    /// `--shim-path`, else the sources this binary was built from when they are still on
    /// disk, else crates.io. A `--shim-path` that does not hold flowctl-shim is an error.
    fn choose(flag: Option<&Path>) -> anyhow::Result<Shim> {
        if let Some(dir) = flag {
            let dir = std::fs::canonicalize(dir)
                .with_context(|| format!("--shim-path {}: no such directory", dir.display()))?;
            if !holds_shim(&dir) {
                bail!(
                    "--shim-path {}: no flowctl-shim package there (expected its Cargo.toml, as in the `lambda-shim` directory of a flowctl checkout)",
                    dir.display()
                );
            }
            return Ok(Shim::Path(dir));
        }
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lambda-shim");
        Ok(match std::fs::canonicalize(built_from) {
            Ok(dir) if holds_shim(&dir) => Shim::Path(dir),
            _ => Shim::CratesIo,
        })
    }

    /// The text that replaces `{{flowctl-shim}}`: the dependency line and why it is so.
    fn dependency(&self) -> String {
        match self {
            Shim::Path(dir) => format!(
                "# The flowctl sources on the machine that created this project (flowctl-shim is not\n\
                 # on crates.io yet); elsewhere, point this at a flowctl checkout's lambda-shim.\n\
                 flowctl-shim = {{ path = {} }}",
                toml_string(&dir.to_string_lossy())
            ),
            Shim::CratesIo => "# flowctl-shim may not be on crates.io yet: until it is, depend on a flowctl checkout\n\
                 # instead: flowctl-shim = { path = \"/path/to/flowctl/lambda-shim\" }\n\
                 flowctl-shim = \"0.1\""
                .to_string(),
        }
    }
}

/// Whether `dir` holds the flowctl-shim package.
fn holds_shim(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|l| l.trim() == r#"name = "flowctl-shim""#))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The template's files with the placeholders filled in: (path in the project, text).
pub fn render(template: Template, project: &str, shim: &Shim) -> Vec<(&'static str, String)> {
    let dependency = shim.dependency();
    template
        .files()
        .iter()
        .map(|file| {
            (
                file.path,
                file.text
                    .replace(PROJECT, project)
                    .replace(SHIM, &dependency),
            )
        })
        .collect()
}

/// Why `name` cannot name a project, if it cannot: the manifest's own rules (AWS's
/// characters and lengths, YAML's reading of the value) and cargo's for `<name>-functions`.
pub fn name_problem(name: &str, template: Template) -> Option<String> {
    if name.is_empty() {
        return Some("a project needs a name, e.g. `flowctl new my-app`".into());
    }
    if !names::is_aws_name(name) {
        let suggestion = names::name_suggestion(name);
        let suggestion = suggestion.trim_matches('-');
        let example = if suggestion.is_empty() {
            "my-app"
        } else {
            suggestion
        };
        return Some(format!(
            "`{name}` cannot name a project: AWS accepts only letters, digits, `-` and `_` in the names made from it (try `{example}`)"
        ));
    }
    let package = format!("{name}-functions");
    if !names::is_package_name(&package) {
        return Some(format!(
            "`{name}` cannot name a project: its functions crate `{package}` must start with a letter or `_` (try `app-{name}`)"
        ));
    }
    let (_, manifest_text) = render(template, name, &Shim::CratesIo)
        .into_iter()
        .find(|(path, _)| *path == "flowctl.yaml")?;
    let (_, diagnostics) = manifest::parse(&manifest_text);
    let error = diagnostics
        .into_iter()
        .find(|d| d.severity == Severity::Error)?;
    if error.code == "M004" {
        return Some(format!(
            "`{name}` cannot name a project: YAML would not read `project: {name}` in flowctl.yaml as text (it is a null, a number or a boolean there); choose another name"
        ));
    }
    let mut problem = format!("`{name}` cannot name a project: {}", error.title);
    if !error.text.is_empty() {
        problem.push_str(&format!(" ({})", error.text));
    }
    if error.code == "M007" {
        problem.push_str("; choose a shorter name");
    }
    Some(problem)
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Exit> {
    if let Some(problem) = name_problem(&args.name, args.template) {
        bail!(problem);
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    refuse_to_overwrite(&dir)?;
    let shim = Shim::choose(args.shim_path.as_deref())?;
    let files = render(args.template, &args.name, &shim);
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }

    let (flow, input) = args.template.first_run();
    let next = [
        format!("cd {}", shell_word(&dir.to_string_lossy())),
        format!("flowctl invoke {flow} --input {}", shell_word(input)),
        "flowctl test --coverage".to_string(),
    ];
    match global.output {
        Output::Json => {
            let shim = match &shim {
                Shim::Path(dir) => json!({ "path": dir }),
                Shim::CratesIo => json!("crates.io"),
            };
            let report = json!({
                "ok": true,
                "project": args.name,
                "template": args.template.name(),
                "dir": dir,
                "files": files.iter().map(|(path, _)| path).collect::<Vec<_>>(),
                "flowctl_shim": shim,
                "next": next,
            });
            out::json(&report)?;
        }
        Output::Text => {
            out::println(format_args!(
                "created {} project `{}` in {} ({} files)",
                args.template.name(),
                args.name,
                dir.display(),
                files.len()
            ))?;
            if shim == Shim::CratesIo {
                note!(
                    "note: functions/Cargo.toml takes flowctl-shim from crates.io; if it is not published yet, run again with --shim-path path/to/flowctl/lambda-shim"
                );
            }
            out::println("\nnext (the first invoke builds the functions, a minute or two):")?;
            for line in &next {
                out::println(format_args!("  {line}"))?;
            }
        }
    }
    Ok(Exit::Success)
}

/// A directory that exists and holds anything is left alone (exit 2).
fn refuse_to_overwrite(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} already exists and is not empty; flowctl new writes only into a new or empty directory (choose another name or --dir)",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() => bail!("{} already exists and is not a directory", dir.display()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// `word` as one shell word: as it is when that is safe, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowctl_lang::flow::fmt;
    use std::collections::BTreeSet;

    const TEMPLATES: [Template; 2] = [Template::Basic, Template::Saga];

    fn files_on_disk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_on_disk(&path, base, out);
            } else {
                out.insert(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    /// A file added to a template folder must be added to its list here too.
    #[test]
    fn every_template_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        for template in TEMPLATES {
            let dir = root.join(template.name());
            let mut on_disk = BTreeSet::new();
            files_on_disk(&dir, &dir, &mut on_disk);
            let embedded: BTreeSet<String> = template
                .files()
                .iter()
                .map(|f| f.path.to_string())
                .collect();
            assert_eq!(
                embedded,
                on_disk,
                "templates/{} and its list in new.rs differ",
                template.name()
            );
        }
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        let shims = [
            Shim::Path(PathBuf::from("/opt/flow\"ctl/lambda-shim")),
            Shim::CratesIo,
        ];
        for template in TEMPLATES {
            for shim in &shims {
                let files = render(template, "my-app", shim);
                for (path, text) in &files {
                    assert!(
                        !text.contains("{{"),
                        "{path} still has a placeholder:\n{text}"
                    );
                }
                let cargo = &files
                    .iter()
                    .find(|(p, _)| *p == "functions/Cargo.toml")
                    .unwrap()
                    .1;
                assert!(cargo.contains("name = \"my-app-functions\""), "{cargo}");
                match shim {
                    Shim::Path(_) => {
                        assert!(
                            cargo.contains(
                                r#"flowctl-shim = { path = "/opt/flow\"ctl/lambda-shim" }"#
                            ),
                            "{cargo}"
                        )
                    }
                    Shim::CratesIo => {
                        assert!(cargo.contains("\nflowctl-shim = \"0.1\"\n"), "{cargo}")
                    }
                }
                let root = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
                assert!(root.lines().any(|l| l == "[workspace]"), "{root}");
            }
        }
    }

    /// What `flowctl check` and `flowctl fmt --check` will say about a new project.
    #[test]
    fn rendered_projects_check_clean_and_are_formatted() {
        for template in TEMPLATES {
            let dir = tempfile::tempdir().unwrap();
            for (path, text) in render(template, "my-app", &Shim::CratesIo) {
                let path = dir.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                if path.extension().is_some_and(|e| e == "flow") {
                    assert_eq!(
                        fmt::is_formatted(&text).ok(),
                        Some(true),
                        "{}",
                        path.display()
                    );
                }
            }
            let loaded = flowctl::project::load(&dir.path().join("flowctl.yaml")).unwrap();
            assert_eq!(
                loaded.error_count(),
                0,
                "{}: {:#?}",
                template.name(),
                loaded.reports
            );
            let project = loaded.project.unwrap();
            let (flow, input) = template.first_run();
            assert!(project.flows.iter().any(|f| f.name == flow), "{flow}");
            serde_json::from_str::<serde_json::Value>(input).unwrap();
        }
    }

    #[test]
    fn names_follow_the_manifest_and_cargo_rules() {
        for good in ["my-app", "trips_2", "A", "_x", "yes"] {
            assert_eq!(name_problem(good, Template::Saga), None, "{good}");
        }
        let problem = |name: &str| name_problem(name, Template::Saga).unwrap_or_default();
        assert!(problem("").contains("needs a name"));
        assert!(
            problem("my app!").contains("try `my-app`"),
            "{}",
            problem("my app!")
        );
        assert!(problem("../x").contains("cannot name a project"));
        assert!(problem("2fast").contains("`2fast-functions` must start with a letter"));
        // YAML's core schema reads `true` as text for a string field, but not `null`.
        assert_eq!(name_problem("true", Template::Basic), None);
        assert!(problem("null").contains("YAML"), "{}", problem("null"));
        assert!(problem("Null").contains("YAML"), "{}", problem("Null"));
        // `<project>-SendConfirmation` is a Lambda function: at most 64 characters.
        let long = "a".repeat(48);
        assert!(problem(&long).contains("shorter"), "{}", problem(&long));
        assert_eq!(name_problem(&long, Template::Basic), None);
    }

    #[test]
    fn next_steps_are_shell_words() {
        assert_eq!(shell_word("my-app"), "my-app");
        assert_eq!(shell_word("/tmp/my app"), "'/tmp/my app'");
        assert_eq!(shell_word(r#"{"a": "it's"}"#), r#"'{"a": "it'\''s"}'"#);
    }
}
