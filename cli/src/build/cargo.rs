//! The one `cargo build --release` of a build: its command line, the release settings
//! flowctl adds for Lambda, and reading cargo's JSON messages for each package's executable.
//! Cargo's own output (progress, rendered diagnostics) goes straight to the user's stderr.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Release settings for Lambda binaries, in the spirit of cargo-lambda's: no symbol table,
/// link-time optimisation across crates and one codegen unit, and code optimised for size
/// (`opt-level = "s"`): a Lambda's cold start downloads and loads the package, and an echo
/// function on flowctl-shim zips to about 520 KiB this way against 660 KiB at `opt-level = 3`.
/// Panics still unwind, so the shim turns a panicking function into an error response
/// instead of a crashed process. Each is `(key in [profile.release], value)`; a key the
/// project sets itself (say `opt-level = 3` for CPU-bound functions) is left alone.
pub const LAMBDA_RELEASE_PROFILE: &[(&str, &str)] = &[
    ("strip", "symbols"),
    ("lto", "true"),
    ("codegen-units", "1"),
    ("opt-level", "s"),
];

/// The shim's feature that lets a unit's binary also serve as a deployed subscriber or a
/// webhook's ingest function (it brings in the AWS SDK clients those need). A project with
/// subscriptions builds its packages with it, for `flowctl dev` as for deploy, so what runs
/// locally is the binary that is deployed.
pub const SUBSCRIBER_FEATURE: &str = "flowctl-shim/subscriber";

/// What to ask cargo for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The packages to build (`-p` each).
    pub packages: Vec<String>,
    /// Features to enable (`--features`, comma-separated), a dependency's as `dep/feature`.
    pub features: Vec<String>,
    /// `--target TRIPLE` when cross-compiling.
    pub target: Option<String>,
    /// `--color` for cargo's own output: `auto`, `always` or `never`.
    pub color: &'static str,
    /// Extra environment (the release settings, a cross linker).
    pub env: Vec<(String, String)>,
}

impl Request {
    /// cargo's arguments, after the program name.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "build".to_string(),
            "--release".to_string(),
            "--message-format=json-render-diagnostics".to_string(),
            format!("--color={}", self.color),
        ];
        for package in &self.packages {
            args.push("-p".to_string());
            args.push(package.clone());
        }
        if !self.features.is_empty() {
            args.push("--features".to_string());
            args.push(self.features.join(","));
        }
        if let Some(target) = &self.target {
            args.push("--target".to_string());
            args.push(target.clone());
        }
        args
    }
}

/// The `CARGO_PROFILE_RELEASE_*` variables that apply [`LAMBDA_RELEASE_PROFILE`], leaving out
/// every setting the project already makes: in `[profile.release]` of one of `manifests`
/// (the workspace's `Cargo.toml`, `.cargo/config.toml`) or in the environment (`env_set`).
pub fn release_profile_env(
    manifests: &[&str],
    env_set: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let set_in_files: Vec<String> = manifests
        .iter()
        .flat_map(|text| release_profile_keys(text))
        .collect();
    LAMBDA_RELEASE_PROFILE
        .iter()
        .filter(|(key, _)| !set_in_files.iter().any(|k| k == key))
        .map(|(key, value)| (profile_env_name(key), value.to_string()))
        .filter(|(name, _)| !env_set(name))
        .collect()
}

/// `codegen-units` → `CARGO_PROFILE_RELEASE_CODEGEN_UNITS`.
fn profile_env_name(key: &str) -> String {
    format!(
        "CARGO_PROFILE_RELEASE_{}",
        key.to_ascii_uppercase().replace('-', "_")
    )
}

/// The keys a TOML text sets in `[profile.release]` (a `[profile.release]` table, or dotted
/// keys such as `profile.release.lto` or `release.lto` under `[profile]`). A line scan, not
/// a TOML parser: enough for the settings people write, and a miss only means flowctl's
/// default applies.
fn release_profile_keys(text: &str) -> Vec<String> {
    let unquote = |part: &str| {
        part.trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .to_string()
    };
    let dotted = |s: &str| -> Vec<String> { s.split('.').map(unquote).collect() };
    let mut table: Vec<String> = Vec::new();
    let mut keys = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let end = header.find(']').unwrap_or(header.len());
            table = dotted(&header[..end]);
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let mut full = table.clone();
        full.extend(dotted(key));
        if let [profile, release, key] = full.as_slice() {
            if profile == "profile" && release == "release" {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// One package's executables, from cargo's `compiler-artifact` messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// Package name → (binary target name, executable path), in message order.
    pub executables: BTreeMap<String, Vec<(String, PathBuf)>>,
}

/// Reads cargo's JSON messages (one per line) and keeps the executables of `bin` targets.
/// Lines that are not JSON (a build script's stray output) are skipped.
pub fn read_messages(reader: impl BufRead) -> std::io::Result<Artifacts> {
    let mut artifacts = Artifacts::default();
    for line in reader.lines() {
        let line = line?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_bin = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        let (Some(id), Some(executable), Some(target)) = (
            message["package_id"].as_str(),
            message["executable"].as_str(),
            message["target"]["name"].as_str(),
        ) else {
            continue;
        };
        let Some(package) = package_name(id) else {
            continue;
        };
        if is_bin {
            let list = artifacts.executables.entry(package).or_default();
            if !list.iter().any(|(t, _)| t == target) {
                list.push((target.to_string(), PathBuf::from(executable)));
            }
        }
    }
    Ok(artifacts)
}

/// The package name in a cargo package ID: `path+file:///w/fns#booking-functions@0.1.0`,
/// `path+file:///w/echo#0.1.0` (the name is the directory's), `registry+…#serde@1.0.0`, or the
/// older `echo 0.1.0 (path+file:///w/echo)`.
pub fn package_name(id: &str) -> Option<String> {
    if let Some((url, fragment)) = id.rsplit_once('#') {
        if let Some((name, _version)) = fragment.split_once('@') {
            return Some(name.to_string());
        }
        let path = url.split(['?', '#']).next()?.trim_end_matches('/');
        let last = path.rsplit('/').next()?;
        return (!last.is_empty()).then(|| last.to_string());
    }
    let name = id.split(' ').next()?;
    (!name.is_empty() && id.contains(' ')).then(|| name.to_string())
}

/// How running cargo ended badly.
#[derive(Debug, thiserror::Error)]
pub enum CargoError {
    #[error("cannot run `{}`: {source}", program.to_string_lossy())]
    NotRunnable {
        program: OsString,
        source: std::io::Error,
    },
    #[error("cargo build failed ({status}); cargo's messages are above")]
    Failed { status: std::process::ExitStatus },
}

/// Runs `program` (cargo) with `request` in `dir`; cargo's stderr goes to ours.
pub fn run(program: &OsString, dir: &Path, request: &Request) -> Result<Artifacts, CargoError> {
    let not_runnable = |source| CargoError::NotRunnable {
        program: program.clone(),
        source,
    };
    let mut child = Command::new(program)
        .args(request.args())
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(not_runnable)?;
    let artifacts = match child.stdout.take() {
        Some(stdout) => read_messages(BufReader::new(stdout)),
        None => Ok(Artifacts::default()),
    };
    let status = child.wait().map_err(not_runnable)?;
    if !status.success() {
        return Err(CargoError::Failed { status });
    }
    artifacts.map_err(not_runnable)
}

/// The cargo to run: `$CARGO` (set when flowctl itself runs under cargo), else `cargo`.
pub fn program() -> OsString {
    std::env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| OsString::from("cargo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_builds_every_package_once_in_release() {
        let request = Request {
            packages: vec!["a".into(), "b-fns".into()],
            features: vec![SUBSCRIBER_FEATURE.into()],
            target: Some("aarch64-unknown-linux-gnu".into()),
            color: "never",
            env: vec![],
        };
        assert_eq!(
            request.args().join(" "),
            "build --release --message-format=json-render-diagnostics --color=never -p a -p b-fns --features flowctl-shim/subscriber --target aarch64-unknown-linux-gnu"
        );
    }

    #[test]
    fn package_names_from_every_id_format() {
        let cases = [
            (
                "path+file:///w/examples/booking/functions#booking-functions@0.1.0",
                "booking-functions",
            ),
            ("path+file:///tmp/echo#0.1.0", "echo"),
            (
                "registry+https://github.com/rust-lang/crates.io-index#lambda_runtime@0.14.4",
                "lambda_runtime",
            ),
            ("git+https://example.com/repo?branch=main#fns@1.0.0", "fns"),
            ("echo 0.1.0 (path+file:///tmp/echo)", "echo"),
        ];
        for (id, name) in cases {
            assert_eq!(package_name(id).as_deref(), Some(name), "{id}");
        }
        assert_eq!(package_name(""), None);
        assert_eq!(package_name("#"), None);
    }

    #[test]
    fn executables_are_read_from_bin_artifacts_only() {
        let messages = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","target":{"kind":["lib"],"name":"serde"},"executable":null,"fresh":true}
not json at all
{"reason":"compiler-artifact","package_id":"path+file:///w/fns#fns@0.1.0","target":{"kind":["custom-build"],"name":"build-script-build"},"executable":null}
{"reason":"compiler-artifact","package_id":"path+file:///w/fns#fns@0.1.0","target":{"kind":["bin"],"name":"fns"},"executable":"/w/target/release/fns","fresh":false}
{"reason":"compiler-artifact","package_id":"path+file:///w/two#0.1.0","target":{"kind":["bin"],"name":"one"},"executable":"/w/target/release/one"}
{"reason":"compiler-artifact","package_id":"path+file:///w/two#0.1.0","target":{"kind":["bin"],"name":"other"},"executable":"/w/target/release/other"}
{"reason":"build-finished","success":true}
"#;
        let artifacts = read_messages(messages.as_bytes()).unwrap();
        assert_eq!(artifacts.executables.len(), 2);
        assert_eq!(
            artifacts.executables["fns"],
            [("fns".to_string(), PathBuf::from("/w/target/release/fns"))]
        );
        let two: Vec<_> = artifacts.executables["two"]
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert_eq!(two, ["one", "other"]);
    }

    #[test]
    fn release_settings_the_project_makes_are_left_alone() {
        let names =
            |env: Vec<(String, String)>| env.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        let all = release_profile_env(&[], |_| false);
        let pairs: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            pairs,
            [
                "CARGO_PROFILE_RELEASE_STRIP=symbols",
                "CARGO_PROFILE_RELEASE_LTO=true",
                "CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1",
                "CARGO_PROFILE_RELEASE_OPT_LEVEL=s",
            ]
        );
        let cargo_toml = "[workspace]\nmembers = [\"a\"]\n\n[profile.release]\n# tuned\nlto = \"thin\"\n\n[profile.release.package.foo]\nstrip = false\n[profile.dev]\ncodegen-units = 4\n";
        assert_eq!(
            names(release_profile_env(&[cargo_toml], |_| false)),
            [
                "CARGO_PROFILE_RELEASE_STRIP",
                "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
                "CARGO_PROFILE_RELEASE_OPT_LEVEL",
            ]
        );
        let config = "[profile]\nrelease.strip = \"none\"\n";
        let dotted = "profile.release.'codegen-units' = 16\nprofile.release.opt-level = 3\n";
        assert!(release_profile_env(&[cargo_toml, config, dotted], |_| false).is_empty());
        assert_eq!(
            names(release_profile_env(&[], |name| name.ends_with("_LTO"))),
            [
                "CARGO_PROFILE_RELEASE_STRIP",
                "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
                "CARGO_PROFILE_RELEASE_OPT_LEVEL",
            ]
        );
    }
}
