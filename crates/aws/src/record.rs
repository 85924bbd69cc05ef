//! The build record, `<target>/flowctl/<project>/build.json`: what `flowctl build` made
//! (units with their packages or runtimes and `CodeSha256`, flows with their documents), for
//! deploy and for CI. Paths in it are relative to the directory holding it and use `/`, so
//! the directory can be moved or archived whole.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The record's file name, in the project's build directory.
pub const FILE: &str = "build.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// The manifest's `project`.
    pub project: String,
    /// The Lambda architecture the units are built for: `x86_64` or `arm64`.
    pub architecture: String,
    /// The flowctl version that wrote the record (a newer one re-packages the units).
    pub flowctl: String,
    pub units: Vec<UnitRecord>,
    pub flows: Vec<FlowRecord>,
}

/// One Lambda unit: what it runs and how to deploy it.
///
/// A unit built with cargo has a `package` and a `bootstrap`, and runs in `provided.al2023`;
/// a function in another language has a `source` (its zip is that directory) and its managed
/// `runtime` and `handler`. A record written before managed runtimes existed has neither
/// `runtime` nor `handler`, and reads as a cargo unit's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The unit's name; the Lambda function is `<project>-<name>`.
    pub name: String,
    /// The manifest keys of the functions it serves.
    pub functions: Vec<String>,
    /// The cargo package its `bootstrap` was built from; absent for a managed runtime's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Lambda's `Runtime`: `provided.al2023` for a cargo unit, else the manifest's `runtime`.
    #[serde(default = "provided_runtime")]
    pub runtime: String,
    /// Lambda's `Handler`: `bootstrap` for the `provided` runtime, else the manifest's
    /// `handler` (`app.handler`).
    #[serde(default = "provided_handler")]
    pub handler: String,
    /// A managed runtime's source directory, as the manifest writes it (relative to the
    /// directory of flowctl.yaml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The executable cargo built, `units/<name>/bootstrap`; absent for a managed runtime's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<String>,
    /// The deployment package, `units/<name>/<name>.zip`.
    pub zip: String,
    /// The zip's SHA-256 in base64: what Lambda reports as `CodeSha256`.
    pub code_sha256: String,
    /// The zip's size in bytes.
    pub size: u64,
    /// The newest glibc symbol version the bootstrap needs (`GLIBC_2.34`); null when it
    /// needs none (a static binary).
    pub glibc_max: Option<String>,
    /// The Lambda environment: the functions' variables and `FLOWCTL_FUNCTIONS`.
    pub env: IndexMap<String, String>,
    /// Memory in MB.
    pub memory: u32,
    /// Timeout in seconds.
    pub timeout: u32,
}

impl UnitRecord {
    /// What it is made from, for progress lines: its cargo package, else its runtime.
    pub fn origin(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.runtime)
    }
}

/// The runtime of a cargo unit (and of every unit in a record older than managed runtimes).
pub const PROVIDED_RUNTIME: &str = "provided.al2023";

fn provided_runtime() -> String {
    PROVIDED_RUNTIME.to_string()
}

fn provided_handler() -> String {
    flowctl_lang::manifest::runtime::PROVIDED_HANDLER.to_string()
}

/// One flow's state machine document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The flow's name; the state machine is `<project>-<name>`.
    pub name: String,
    /// `standard` or `express`.
    pub kind: String,
    /// The document, `flows/<name>.asl.json`, with `${unit:NAME}` placeholders.
    pub asl: String,
    /// The document's SHA-256 in hex.
    pub sha256: String,
}

impl BuildRecord {
    /// The record as written: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The record in `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<BuildRecord> {
        let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn unit(&self, name: &str) -> Option<&UnitRecord> {
        self.units.iter().find(|u| u.name == name)
    }

    /// A path of the record resolved against the directory holding it.
    pub fn resolve(dir: &Path, relative: &str) -> PathBuf {
        relative
            .split('/')
            .fold(dir.to_path_buf(), |p, part| p.join(part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_with_the_documented_keys() {
        let record = BuildRecord {
            project: "shop".into(),
            architecture: "x86_64".into(),
            flowctl: "0.1.0".into(),
            units: vec![UnitRecord {
                name: "payments-Charge".into(),
                functions: vec!["payments.Charge".into()],
                package: Some("pay-fns".into()),
                runtime: PROVIDED_RUNTIME.into(),
                handler: "bootstrap".into(),
                source: None,
                bootstrap: Some("units/payments-Charge/bootstrap".into()),
                zip: "units/payments-Charge/payments-Charge.zip".into(),
                code_sha256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
                size: 22,
                glibc_max: Some("GLIBC_2.34".into()),
                env: [(
                    "FLOWCTL_FUNCTIONS".to_string(),
                    "payments.Charge".to_string(),
                )]
                .into_iter()
                .collect(),
                memory: 128,
                timeout: 3,
            }],
            flows: vec![FlowRecord {
                name: "Checkout".into(),
                kind: "standard".into(),
                asl: "flows/Checkout.asl.json".into(),
                sha256: "00".into(),
            }],
        };
        let json: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["project", "architecture", "flowctl", "units", "flows"]
        );
        let unit_keys: Vec<_> = json["units"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            unit_keys,
            [
                "name",
                "functions",
                "package",
                "runtime",
                "handler",
                "bootstrap",
                "zip",
                "code_sha256",
                "size",
                "glibc_max",
                "env",
                "memory",
                "timeout"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), record.to_json()).unwrap();
        assert_eq!(BuildRecord::read(dir.path()), Some(record.clone()));
        assert_eq!(
            BuildRecord::resolve(dir.path(), &record.units[0].zip),
            dir.path()
                .join("units")
                .join("payments-Charge")
                .join("payments-Charge.zip")
        );
        assert!(record.unit("payments-Charge").is_some());
        assert!(record.unit("Charge").is_none());
    }

    #[test]
    fn a_record_older_than_managed_runtimes_reads_as_cargo_units() {
        let old = r#"{"name": "A", "functions": ["A"], "package": "fns",
            "bootstrap": "units/A/bootstrap", "zip": "units/A/A.zip", "code_sha256": "x",
            "size": 1, "glibc_max": null, "env": {}, "memory": 128, "timeout": 3}"#;
        let unit: UnitRecord = serde_json::from_str(old).unwrap();
        assert_eq!(
            (
                unit.package.as_deref(),
                unit.runtime.as_str(),
                unit.handler.as_str()
            ),
            (Some("fns"), "provided.al2023", "bootstrap")
        );
    }

    #[test]
    fn a_managed_unit_records_its_runtime_handler_and_source_and_no_package() {
        let unit = UnitRecord {
            name: "Score".into(),
            functions: vec!["Score".into()],
            package: None,
            runtime: "python3.12".into(),
            handler: "app.handler".into(),
            source: Some("fns/score".into()),
            bootstrap: None,
            zip: "units/Score/Score.zip".into(),
            code_sha256: "x".into(),
            size: 1,
            glibc_max: None,
            env: IndexMap::new(),
            memory: 128,
            timeout: 3,
        };
        let json = serde_json::to_value(&unit).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "name",
                "functions",
                "runtime",
                "handler",
                "source",
                "zip",
                "code_sha256",
                "size",
                "glibc_max",
                "env",
                "memory",
                "timeout"
            ]
        );
        assert_eq!(serde_json::from_value::<UnitRecord>(json).unwrap(), unit);
    }
}
