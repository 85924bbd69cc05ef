//! What each built function binary registers, asked through the shim's `describe` command
//! and kept in the registry cache (`registry.json` beside `build.json`, see
//! [`flowctl_lang::registry::Cache`]): the checker reads it for the functions' types and
//! properties, and the build checks against it that every manifest function is registered by
//! its package — a build error naming both, not a `FunctionNotFound` at the first invocation.
//!
//! Only a binary for this machine can be asked; a package binary whose SHA-256 is the one
//! cached is not asked again. [`merge`] decides the new cache from the old one and the
//! build's answers, without I/O.

use flowctl_lang::registry::{parse_describe, Cache, CachedPackage, CACHE_FILE, CACHE_VERSION};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a binary may take to describe itself.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `<binary> describe` answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A flowctl-shim `describe` document (one [`parse_describe`] accepts).
    Described(Value),
    /// The shim refused to describe a registry with registration mistakes (a name
    /// registered twice, …): its messages, one per mistake. Under Lambda the binary would
    /// refuse to start for the same reasons.
    Refused(Vec<String>),
    /// Not a flowctl-shim binary (another Lambda runtime), or no answer in time: nothing can
    /// be checked or cached.
    Unknown,
}

/// Runs `binary describe` (without Lambda's environment) and reads its answer.
pub fn describe(binary: &Path) -> Answer {
    let Ok(mut child) = Command::new(binary)
        .arg("describe")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove(flowctl_protocol::FUNCTIONS_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return Answer::Unknown;
    };
    // Read both pipes while the child runs: a large document would fill a pipe and block it.
    let readers = [
        child.stdout.take().map(|mut out| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = out.read_to_end(&mut bytes);
                bytes
            })
        }),
        child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = err.read_to_end(&mut bytes);
                bytes
            })
        }),
    ];
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < DESCRIBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let [stdout, stderr] =
        readers.map(|reader| reader.and_then(|r| r.join().ok()).unwrap_or_default());
    match status {
        Some(status) => read_answer(status.code(), &stdout, &stderr),
        None => Answer::Unknown,
    }
}

/// A `describe` run's answer from its exit code and output: a document on stdout with exit 0,
/// or the shim's registration mistakes (`flowctl-shim: …` lines on stderr) with exit 1.
pub fn read_answer(code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> Answer {
    match code {
        Some(0) => match serde_json::from_slice::<Value>(stdout) {
            Ok(doc) if parse_describe(&doc).is_ok() => Answer::Described(doc),
            _ => Answer::Unknown,
        },
        Some(1) => {
            let text = String::from_utf8_lossy(stderr);
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let mistakes: Vec<String> = lines
                .iter()
                .filter_map(|l| l.strip_prefix("flowctl-shim: "))
                .map(str::to_string)
                .collect();
            if mistakes.is_empty() || mistakes.len() != lines.len() {
                Answer::Unknown
            } else {
                Answer::Refused(mistakes)
            }
        }
        _ => Answer::Unknown,
    }
}

/// The function names a `describe` document lists, in order (`None` when it is not one).
pub fn registered(doc: &Value) -> Option<Vec<String>> {
    let described = parse_describe(doc).ok()?;
    Some(described.functions.into_iter().map(|f| f.name).collect())
}

/// One message per manifest function of `package` that its binary does not register.
pub fn unregistered(package: &str, wanted: &[&str], registered: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|name| !registered.iter().any(|r| r == *name))
        .map(|name| {
            let near = flowctl_protocol::did_you_mean(name, registered.iter().map(String::as_str))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            format!(
                "function `{name}`{near}: flowctl.yaml builds it from package `{package}`, whose binary does not register it (it registers {}); register it there with `Registry::new().function(\"{name}\", …)`, or correct the name or `package` in flowctl.yaml",
                if registered.is_empty() { "nothing".to_string() } else { registered.join(", ") }
            )
        })
        .collect()
}

/// The registry cache of the build directory `out_dir` (`<out_dir>/registry.json`), or
/// `None` when there is none, it is malformed or of another version.
pub fn read_cache(out_dir: &Path) -> Option<Cache> {
    let text = std::fs::read_to_string(out_dir.join(CACHE_FILE)).ok()?;
    Cache::from_json(&text)
}

/// Writes `cache` to `<out_dir>/registry.json` unless it already says exactly that; returns
/// whether it wrote.
pub fn write_cache(out_dir: &Path, cache: &Cache) -> std::io::Result<bool> {
    std::fs::create_dir_all(out_dir)?;
    super::write_if_changed(
        &out_dir.join(CACHE_FILE),
        cache.to_json().as_bytes(),
        super::zip::REGULAR,
    )
}

/// The cached `describe` document of `package` if its binary is still the one described
/// (same SHA-256, hex) and the document is one.
pub fn cached<'c>(cache: Option<&'c Cache>, package: &str, sha256: &str) -> Option<&'c Value> {
    let entry = cache?.packages.get(package)?;
    (entry.sha256 == sha256 && parse_describe(&entry.describe).is_ok()).then_some(&entry.describe)
}

/// A package binary the build made for this machine: its SHA-256 (hex) and, when it was asked
/// now, its `describe` document.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub sha256: String,
    pub fresh: Option<Value>,
}

/// The cache after a build from the cache before it and what the build made (package →
/// [`Built`]): a fresh answer is taken; a binary not asked keeps its entry while its hash is
/// unchanged; a package whose binary nothing describes, or that was not built (no longer in
/// the manifest, or built for another machine), has no entry.
pub fn merge(old: Option<&Cache>, built: BTreeMap<String, Built>) -> Cache {
    let packages = built
        .into_iter()
        .filter_map(|(package, Built { sha256, fresh })| {
            let describe = match fresh {
                Some(doc) => doc,
                None => cached(old, &package, &sha256)?.clone(),
            };
            Some((package, CachedPackage { sha256, describe }))
        })
        .collect();
    Cache {
        version: CACHE_VERSION,
        packages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(names: &[&str]) -> Value {
        let functions: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        json!({"shim": "flowctl-shim", "version": "0.1.0", "protocol": 2, "functions": functions})
    }

    #[test]
    fn reads_the_names_of_a_shim_description() {
        let answer = read_answer(Some(0), doc(&["A", "B"]).to_string().as_bytes(), b"");
        let Answer::Described(document) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(
            registered(&document),
            Some(vec!["A".to_string(), "B".to_string()])
        );
        let not_the_shim = br#"{"functions": [{"name": "A"}]}"#;
        assert_eq!(read_answer(Some(0), not_the_shim, b""), Answer::Unknown);
        assert_eq!(read_answer(Some(0), b"usage: ...", b""), Answer::Unknown);
        assert_eq!(registered(&json!({"functions": []})), None);
    }

    #[test]
    fn the_shims_registration_mistakes_are_its_answer() {
        let stderr = b"flowctl-shim: the function `A` is registered twice\nflowctl-shim: the type `T` is registered twice\n";
        assert_eq!(
            read_answer(Some(1), b"", stderr),
            Answer::Refused(vec![
                "the function `A` is registered twice".to_string(),
                "the type `T` is registered twice".to_string()
            ])
        );
        // Anything else failing is not the shim speaking.
        assert_eq!(
            read_answer(Some(1), b"", b"thread 'main' panicked\n"),
            Answer::Unknown
        );
        assert_eq!(read_answer(Some(1), b"", b""), Answer::Unknown);
        assert_eq!(read_answer(Some(2), b"", stderr), Answer::Unknown);
        assert_eq!(read_answer(None, b"", stderr), Answer::Unknown);
    }

    #[test]
    fn names_the_function_the_package_and_a_near_miss() {
        let problems = unregistered(
            "pay",
            &["Charge", "Refund"],
            &["Charge".into(), "Refnud".into()],
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("function `Refund` (did you mean `Refnud`?): flowctl.yaml builds it from package `pay`"), "{}", problems[0]);
    }

    #[test]
    fn a_binary_that_is_not_the_shim_is_not_checked() {
        assert_eq!(describe(Path::new("/bin/true")), Answer::Unknown);
        assert_eq!(describe(Path::new("/bin/false")), Answer::Unknown);
        assert_eq!(describe(Path::new("/no/such/binary")), Answer::Unknown);
    }

    fn built(sha256: &str, fresh: Option<Value>) -> Built {
        Built {
            sha256: sha256.to_string(),
            fresh,
        }
    }

    fn cache(entries: &[(&str, &str, Value)]) -> Cache {
        Cache {
            version: CACHE_VERSION,
            packages: entries
                .iter()
                .map(|(package, sha256, describe)| {
                    (
                        package.to_string(),
                        CachedPackage {
                            sha256: sha256.to_string(),
                            describe: describe.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_merge_keeps_unchanged_binaries_takes_fresh_answers_and_drops_the_rest() {
        let old = cache(&[
            ("kept", "aa", doc(&["Kept"])),
            ("rebuilt", "bb", doc(&["Old"])),
            ("changed", "cc", doc(&["Stale"])),
            ("gone", "dd", doc(&["Gone"])),
            ("broken", "ee", json!({"not": "a description"})),
        ]);
        let new = merge(
            Some(&old),
            BTreeMap::from([
                ("kept".to_string(), built("aa", None)),
                ("rebuilt".to_string(), built("b2", Some(doc(&["New"])))),
                // Rebuilt, and not (or no longer) described: its old entry is stale.
                ("changed".to_string(), built("c2", None)),
                ("broken".to_string(), built("ee", None)),
                ("added".to_string(), built("ff", Some(doc(&["Added"])))),
            ]),
        );
        assert_eq!(
            new,
            cache(&[
                ("added", "ff", doc(&["Added"])),
                ("kept", "aa", doc(&["Kept"])),
                ("rebuilt", "b2", doc(&["New"])),
            ])
        );
        // Without an old cache only the fresh answers count; with nothing built, nothing.
        let fresh = merge(
            None,
            BTreeMap::from([
                ("kept".to_string(), built("aa", None)),
                ("added".to_string(), built("ff", Some(doc(&["Added"])))),
            ]),
        );
        assert_eq!(fresh, cache(&[("added", "ff", doc(&["Added"]))]));
        assert_eq!(merge(Some(&old), BTreeMap::new()), cache(&[]));
    }

    #[test]
    fn only_an_unchanged_binary_finds_its_cached_answer() {
        let old = cache(&[("p", "aa", doc(&["A"])), ("q", "bb", json!(null))]);
        assert_eq!(cached(Some(&old), "p", "aa"), Some(&doc(&["A"])));
        assert_eq!(cached(Some(&old), "p", "ab"), None);
        assert_eq!(cached(Some(&old), "q", "bb"), None, "not a description");
        assert_eq!(cached(Some(&old), "r", "aa"), None);
        assert_eq!(cached(None, "p", "aa"), None);
    }

    #[test]
    fn the_cache_file_is_written_only_when_it_changes_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("flowctl/p");
        assert_eq!(read_cache(&out_dir), None);
        let one = cache(&[("p", "aa", doc(&["A"]))]);
        assert!(write_cache(&out_dir, &one).unwrap());
        assert!(!write_cache(&out_dir, &one).unwrap(), "same bytes");
        assert_eq!(read_cache(&out_dir), Some(one));
        std::fs::write(
            out_dir.join(CACHE_FILE),
            r#"{"version": 0, "packages": {}}"#,
        )
        .unwrap();
        assert_eq!(read_cache(&out_dir), None, "another version");
        std::fs::write(out_dir.join(CACHE_FILE), "{").unwrap();
        assert_eq!(read_cache(&out_dir), None, "malformed");
    }
}
