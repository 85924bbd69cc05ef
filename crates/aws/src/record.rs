//! The build record, `<target>/flowctl/<project>/build.json`: what `flowctl build` made
//! (units with their packages and `CodeSha256`, flows with their documents), for deploy and
//! for CI. Paths in it are relative to the directory holding it and use `/`, so the
//! directory can be moved or archived whole.

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

/// One Lambda unit: its package and how to deploy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The unit's name; the Lambda function is `<project>-<name>`.
    pub name: String,
    /// The manifest keys of the functions it serves.
    pub functions: Vec<String>,
    /// The cargo package its `bootstrap` was built from.
    pub package: String,
    /// The executable, `units/<name>/bootstrap`.
    pub bootstrap: String,
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
                package: "pay-fns".into(),
                bootstrap: "units/payments-Charge/bootstrap".into(),
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
}
