//! `flowctl build` end to end, on small projects made in temporary directories: a real
//! function package on flowctl-shim built in release (its target directory is the
//! workspace's, so the release dependencies are built once for every run), packaged into
//! zips that must be byte-identical from one build to the next, whose `CodeSha256` must be
//! what moto (and so Lambda) computes for the uploaded zip; the registry cache of what the
//! binary describes; a no-op rebuild that writes nothing; and the ways a build says no (a cargo error, an ambiguous package, a missing
//! cross toolchain, no cargo workspace at all).

use flowctl_tests::moto::Moto;
use flowctl_tests::{flowctl_bin, python, repo_root, target_dir};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime};

/// Runs `flowctl args…` on the project in `dir`, with cargo's target directory the
/// workspace's (so release dependencies are shared) unless `target` says otherwise.
fn flowctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(flowctl_bin())
        .args(["-m", dir.to_str().unwrap(), "--color", "never"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_BUILD_TARGET")
        .current_dir(dir)
        .output()
        .expect("flowctl runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Writes `files` (relative path → contents) under `dir`.
fn write_files(dir: &Path, files: &[(&str, String)]) {
    for (path, contents) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

/// A cargo workspace of one package `package` with `main` as its binary, and the
/// workspace's Cargo.lock (so nothing new is resolved: the versions are the ones CI built).
fn cargo_project(dir: &Path, package: &str, dependencies: &str, main: &str) {
    let manifest = format!(
        "[workspace]\n\n[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dependencies}"
    );
    write_files(
        dir,
        &[("Cargo.toml", manifest), ("src/main.rs", main.to_string())],
    );
    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

const ECHO_MAIN: &str = r#"//! Two functions on flowctl-shim: Echo returns its input, Shout upper-cases a string.
use flowctl_shim::{Error, Registry};

async fn echo(value: serde_json::Value) -> Result<serde_json::Value, Error> {
    Ok(value)
}

async fn shout(text: String) -> Result<String, Error> {
    Ok(text.to_uppercase())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    Registry::new()
        .function("Echo", echo)
        .function("Shout", shout)
        .run()
        .await;
}
"#;

fn echo_project(dir: &Path, project: &str, package: &str) {
    let shim = repo_root().join("lambda-shim");
    cargo_project(
        dir,
        package,
        &format!(
            "flowctl-shim = {{ path = {:?} }}\nserde_json = \"1\"\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n",
            shim.to_str().unwrap()
        ),
        ECHO_MAIN,
    );
    write_files(
        dir,
        &[
            (
                "flowctl.yaml",
                format!(
                    "project: {project}\nfunctions:\n  Echo:\n    package: {package}\n    memory: 256\n    timeout: 5\n    env: {{ GREETING: hello }}\n  Shout:\n    package: {package}\nflows:\n  Main:\n    source: flows/main.flow\n"
                ),
            ),
            (
                "flows/main.flow",
                "flow Main(input) {\n  said = Echo(input)\n  loud = Shout(said.text)\n  return({\"said\": said, \"loud\": loud})\n}\n".to_string(),
            ),
        ],
    );
}

/// Every file under `dir` with its modification time.
fn mtimes(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
                out.insert(path, modified);
            }
        }
    }
    out
}

/// Python's view of a zip and of its SHA-256 (an implementation that is not flowctl's):
/// {"code_sha256", "entries": [{"name", "mode", "date_time", "size", "sha256"}]}.
fn python_reads_zip(zip: &Path) -> Value {
    let script = r#"
import base64, hashlib, json, sys, zipfile
data = open(sys.argv[1], "rb").read()
out = {"code_sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(), "entries": []}
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for info in z.infolist():
        out["entries"].append({
            "name": info.filename,
            "mode": info.external_attr >> 16,
            "create_system": info.create_system,
            "date_time": list(info.date_time),
            "size": info.file_size,
            "sha256": hashlib.sha256(z.read(info)).hexdigest(),
        })
print(json.dumps(out))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(zip)
        .output()
        .expect("the test Python runs");
    assert!(
        out.status.success(),
        "python could not read {}: {}",
        zip.display(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sha256_hex_by_python(path: &Path) -> String {
    let out = Command::new(python())
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .unwrap();
    text(&out.stdout).trim().to_string()
}

fn read_record(out_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out_dir.join("build.json")).unwrap()).unwrap()
}

#[test]
fn functions_are_packaged_reproducibly_and_moto_agrees_on_code_sha256() {
    let project = "buildtest-echo";
    let package = "flowctl-buildtest-echo";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    echo_project(dir, project, package);
    let out_dir = target_dir().join("flowctl").join(project);
    let _ = std::fs::remove_dir_all(&out_dir);

    // First build: cargo compiles, every unit is packaged.
    let started = Instant::now();
    let first = flowctl(dir, &["build"]);
    eprintln!("first build: {:?}", started.elapsed());
    assert!(first.status.success(), "{}", show(&first));
    let stderr = text(&first.stderr);
    assert!(
        stderr.contains("Finished `release` profile"),
        "cargo's own output is shown:\n{stderr}"
    );
    assert!(stderr.contains("packaged Echo ("), "{stderr}");
    assert!(stderr.contains("packaged Shout ("), "{stderr}");

    let record = read_record(&out_dir);
    assert_eq!(record["project"], project);
    assert_eq!(record["architecture"], "x86_64");
    let units = record["units"].as_array().unwrap();
    let names: Vec<&str> = units.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Echo", "Shout"]);
    let echo = &units[0];
    assert_eq!(echo["functions"], json!(["Echo"]));
    assert_eq!(echo["package"], package);
    assert_eq!(echo["bootstrap"], "units/Echo/bootstrap");
    assert_eq!(echo["zip"], "units/Echo/Echo.zip");
    assert_eq!(
        echo["env"],
        json!({ "GREETING": "hello", "FLOWCTL_FUNCTIONS": "Echo" })
    );
    assert_eq!(
        (echo["memory"].as_u64(), echo["timeout"].as_u64()),
        (Some(256), Some(5))
    );
    assert_eq!(units[1]["env"], json!({ "FLOWCTL_FUNCTIONS": "Shout" }));
    assert_eq!(
        (units[1]["memory"].as_u64(), units[1]["timeout"].as_u64()),
        (Some(128), Some(3))
    );
    let glibc = echo["glibc_max"].as_str().expect("a glibc binary");
    let minor: u32 = glibc
        .trim_start_matches("GLIBC_2.")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(minor <= 34, "{glibc} passed the check");

    // The registry cache: what the package's binary describes, keyed by its SHA-256.
    let cache: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("registry.json")).unwrap()).unwrap();
    assert_eq!(cache["version"], 1, "{cache}");
    let described = &cache["packages"][package];
    assert_eq!(
        described["sha256"],
        sha256_hex_by_python(&out_dir.join("units/Echo/bootstrap"))
    );
    let registered: Vec<&str> = described["describe"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(registered, ["Echo", "Shout"]);

    let flows = record["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["name"], "Main");
    assert_eq!(flows[0]["asl"], "flows/Main.asl.json");
    assert_eq!(
        flows[0]["sha256"],
        sha256_hex_by_python(&out_dir.join("flows/Main.asl.json"))
    );

    let mut zips = BTreeMap::new();
    for unit in units {
        let name = unit["name"].as_str().unwrap();
        let bootstrap = out_dir.join(unit["bootstrap"].as_str().unwrap());
        let zip = out_dir.join(unit["zip"].as_str().unwrap());
        let mode = std::fs::metadata(&bootstrap).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{} is executable", bootstrap.display());
        let zip_bytes = std::fs::read(&zip).unwrap();
        assert_eq!(unit["size"].as_u64(), Some(zip_bytes.len() as u64));

        let seen = python_reads_zip(&zip);
        assert_eq!(
            seen["code_sha256"], unit["code_sha256"],
            "CodeSha256 is base64(sha256(zip))"
        );
        let entries = seen["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{seen}");
        assert_eq!(entries[0]["name"], "bootstrap");
        assert_eq!(entries[0]["mode"], 0o100_755);
        assert_eq!(
            entries[0]["create_system"], 3,
            "made on Unix, so Lambda reads the mode"
        );
        assert_eq!(entries[0]["date_time"], json!([1980, 1, 1, 0, 0, 0]));
        assert_eq!(entries[0]["sha256"], sha256_hex_by_python(&bootstrap));
        zips.insert(name.to_string(), zip_bytes);

        // The packaged binary is the shim's, serving the unit's function.
        if name == "Echo" {
            let invoked = Command::new(&bootstrap)
                .args(["invoke", "Echo", r#"{"text":"hi"}"#])
                .env("FLOWCTL_FUNCTIONS", name)
                .output()
                .unwrap();
            assert!(invoked.status.success(), "{}", show(&invoked));
            let result: Value = serde_json::from_slice(&invoked.stdout).unwrap();
            assert_eq!(result, json!({ "text": "hi" }));
        }
    }

    // A no-op build writes nothing.
    let before = mtimes(&out_dir);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let started = Instant::now();
    let again = flowctl(dir, &["build"]);
    eprintln!(
        "no-op build: {:?} (flowctl's own time, including cargo's freshness check)",
        started.elapsed()
    );
    assert!(again.status.success(), "{}", show(&again));
    assert!(
        text(&again.stderr).contains("unchanged Echo ("),
        "{}",
        show(&again)
    );
    assert_eq!(mtimes(&out_dir), before, "a no-op build rewrote files");

    // Packaged again from scratch: byte-identical zips.
    std::fs::remove_dir_all(out_dir.join("units")).unwrap();
    let fresh = flowctl(dir, &["build"]);
    assert!(fresh.status.success(), "{}", show(&fresh));
    for (name, bytes) in &zips {
        let again = std::fs::read(out_dir.join(format!("units/{name}/{name}.zip"))).unwrap();
        assert!(
            again == *bytes,
            "the zip of {name} changed between two builds"
        );
    }

    // Recompiled from the same source (cargo relinks): the same binary, so the same zips,
    // and nothing is rewritten.
    let main = dir.join("src/main.rs");
    std::fs::write(&main, format!("{ECHO_MAIN}\n")).unwrap();
    let before = mtimes(&out_dir);
    let relinked = flowctl(dir, &["build"]);
    assert!(relinked.status.success(), "{}", show(&relinked));
    let stderr = text(&relinked.stderr);
    assert!(
        stderr.contains(&format!("Compiling {package}")),
        "cargo rebuilt:\n{stderr}"
    );
    assert_eq!(
        mtimes(&out_dir),
        before,
        "a rebuild to the same bytes rewrote files:\n{stderr}"
    );

    // --output json prints the record (plus where it is).
    let json_out = flowctl(dir, &["build", "--output", "json"]);
    assert!(json_out.status.success(), "{}", show(&json_out));
    let printed: Value = serde_json::from_slice(&json_out.stdout).expect("JSON on stdout");
    assert_eq!(printed["ok"], true);
    assert_eq!(
        PathBuf::from(printed["build_json"].as_str().unwrap()),
        out_dir.join("build.json")
    );
    for key in ["project", "architecture", "flowctl", "units", "flows"] {
        assert_eq!(printed[key], record[key], "{key}");
    }

    // A function gone from the manifest takes its unit directory with it.
    let manifest = std::fs::read_to_string(dir.join("flowctl.yaml")).unwrap();
    let without_shout = manifest.replace(&format!("  Shout:\n    package: {package}\n"), "");
    assert_ne!(manifest, without_shout);
    std::fs::write(dir.join("flowctl.yaml"), &without_shout).unwrap();
    std::fs::write(
        dir.join("flows/main.flow"),
        "flow Main(input) {\n  said = Echo(input)\n  return(said)\n}\n",
    )
    .unwrap();
    let pruned = flowctl(dir, &["build"]);
    assert!(pruned.status.success(), "{}", show(&pruned));
    assert!(!out_dir.join("units/Shout").exists());
    assert!(out_dir.join("units/Echo/Echo.zip").exists());
    let names: Vec<Value> = read_record(&out_dir)["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, [json!("Echo")]);

    // A function the manifest builds from the package, but which its binary does not
    // register, is an error naming both (not a FunctionNotFound at the first invocation).
    let whisper = std::fs::read_to_string(dir.join("flowctl.yaml"))
        .unwrap()
        .replace(
            "flows:\n",
            &format!("  Whisper:\n    package: {package}\nflows:\n"),
        );
    std::fs::write(dir.join("flowctl.yaml"), &whisper).unwrap();
    let unregistered = flowctl(dir, &["build"]);
    assert_eq!(
        unregistered.status.code(),
        Some(1),
        "{}",
        show(&unregistered)
    );
    let stderr = text(&unregistered.stderr);
    assert!(
        stderr.contains(&format!("function `Whisper`: flowctl.yaml builds it from package `{package}`, whose binary does not register it (it registers Echo, Shout)")),
        "{stderr}"
    );
    std::fs::write(dir.join("flowctl.yaml"), without_shout).unwrap();

    // moto computes the same CodeSha256 for the uploaded zip, as Lambda does.
    let moto = Moto::shared();
    let zip = out_dir.join(echo["zip"].as_str().unwrap());
    let answer = moto.driver(
        "function",
        &json!({ "region": "eu-west-1", "name": format!("{project}-Echo"), "zip": zip }),
    );
    for call in ["create", "get"] {
        assert_eq!(
            answer[call]["CodeSha256"], echo["code_sha256"],
            "{call}: {answer}"
        );
        assert_eq!(answer[call]["CodeSize"], echo["size"], "{call}: {answer}");
    }
}

/// A package with no dependencies: quick to build even in release.
fn plain_project(dir: &Path, project: &str, package: &str, main: &str) {
    cargo_project(dir, package, "", main);
    write_files(
        dir,
        &[(
            "flowctl.yaml",
            format!("project: {project}\nfunctions:\n  Only:\n    package: {package}\n"),
        )],
    );
}

#[test]
fn a_failing_cargo_build_exits_1_and_shows_cargos_error() {
    let tmp = tempfile::tempdir().unwrap();
    plain_project(
        tmp.path(),
        "buildtest-broken",
        "flowctl-buildtest-broken",
        "fn main() {\n    let x = ;\n}\n",
    );
    let out = flowctl(tmp.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: expected expression"),
        "rustc's message:\n{stderr}"
    );
    assert!(
        stderr.contains("src/main.rs:2"),
        "with its place:\n{stderr}"
    );
    assert!(stderr.contains("cargo build failed"), "{stderr}");

    let json_out = flowctl(tmp.path(), &["build", "--output", "json"]);
    assert_eq!(json_out.status.code(), Some(1), "{}", show(&json_out));
    let printed: Value = serde_json::from_slice(&json_out.stdout).expect("JSON on stdout");
    assert_eq!(printed["ok"], false);
    assert!(
        printed["error"]
            .as_str()
            .unwrap()
            .contains("cargo build failed"),
        "{printed}"
    );
}

#[test]
fn a_package_with_two_binaries_is_ambiguous() {
    let tmp = tempfile::tempdir().unwrap();
    plain_project(
        tmp.path(),
        "buildtest-two",
        "flowctl-buildtest-two",
        "fn main() {}\n",
    );
    write_files(
        tmp.path(),
        &[("src/bin/other.rs", "fn main() {}\n".to_string())],
    );
    let out = flowctl(tmp.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unit `Only`: package `flowctl-buildtest-two` has 2 binary targets (`flowctl-buildtest-two`, `other`)")
            || stderr.contains("unit `Only`: package `flowctl-buildtest-two` has 2 binary targets (`other`, `flowctl-buildtest-two`)"),
        "{stderr}"
    );
    assert!(stderr.contains("ambiguous"), "{stderr}");
}

/// `arc4random` is in glibc from 2.36 on: a binary calling it cannot start on Lambda's 2.34.
#[test]
fn a_binary_needing_a_newer_glibc_than_lambdas_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    plain_project(
        tmp.path(),
        "buildtest-glibc",
        "flowctl-buildtest-glibc",
        "extern \"C\" {\n    fn arc4random() -> u32;\n}\n\nfn main() {\n    println!(\"{}\", unsafe { arc4random() });\n}\n",
    );
    let host = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .unwrap();
    let host = text(&host.stdout);
    let minor: u32 = host
        .trim()
        .trim_start_matches("glibc 2.")
        .parse()
        .unwrap_or_else(|_| panic!("cannot read this machine's glibc version from {host:?}"));
    let out = flowctl(tmp.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    if minor < 36 {
        // This machine's glibc has no arc4random: the link itself fails.
        assert!(stderr.contains("cargo build failed"), "{stderr}");
        return;
    }
    for part in [
        "unit `Only`",
        "package `flowctl-buildtest-glibc`",
        "needs GLIBC_2.36 (for `arc4random`)",
        "provided.al2023 runtime has glibc 2.34",
        "cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.34",
        "x86_64-unknown-linux-musl",
    ] {
        assert!(stderr.contains(part), "{part:?} missing from:\n{stderr}");
    }
    let units = target_dir().join("flowctl/buildtest-glibc/units/Only");
    assert!(!units.join("Only.zip").exists(), "nothing is packaged");
}

#[test]
fn arm64_needs_its_target_and_linker_or_says_how_to_install_them() {
    let tmp = tempfile::tempdir().unwrap();
    plain_project(
        tmp.path(),
        "buildtest-arm",
        "flowctl-buildtest-arm",
        "fn main() {}\n",
    );
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = PathBuf::from(text(&sysroot.stdout).trim());
    let installed = sysroot
        .join("lib/rustlib/aarch64-unknown-linux-gnu/lib")
        .is_dir();
    let gcc = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("aarch64-linux-gnu-gcc").is_file()))
        .unwrap_or(false);
    let out = Command::new(flowctl_bin())
        .args([
            "-m",
            tmp.path().to_str().unwrap(),
            "--color",
            "never",
            "build",
            "--arch",
            "arm64",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    if cfg!(target_arch = "aarch64") || (installed && gcc) {
        // This machine can build for arm64: the bootstrap is an aarch64 executable.
        assert!(out.status.success(), "{}", show(&out));
        let bootstrap = target_dir().join("flowctl/buildtest-arm/units/Only/bootstrap");
        let info = flowctl::build::elf::inspect(&std::fs::read(bootstrap).unwrap()).unwrap();
        assert_eq!(info.machine, flowctl::build::elf::Machine::Aarch64);
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing toolchain is exit 2:\n{}",
        show(&out)
    );
    if !installed {
        assert!(
            stderr.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{stderr}"
        );
    }
    if !gcc {
        assert!(
            stderr.contains("apt-get install gcc-aarch64-linux-gnu"),
            "{stderr}"
        );
        assert!(
            stderr.contains("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc"),
            "{stderr}"
        );
    }
    assert!(
        !stderr.contains("Compiling"),
        "nothing was built:\n{stderr}"
    );
}

#[test]
fn a_project_outside_any_cargo_workspace_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    write_files(
        tmp.path(),
        &[(
            "flowctl.yaml",
            "project: buildtest-nocargo\nfunctions:\n  Only:\n    package: some-fns\n".to_string(),
        )],
    );
    if flowctl::build::cargo_root(tmp.path()).is_some() {
        panic!(
            "the temporary directory {} is inside a cargo project",
            tmp.path().display()
        );
    }
    let out = flowctl(tmp.path(), &["build"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("no Cargo.toml in"),
        "{}",
        show(&out)
    );
    // --asl-only needs no cargo.
    let asl = flowctl(tmp.path(), &["build", "--asl-only"]);
    assert!(asl.status.success(), "{}", show(&asl));
}
