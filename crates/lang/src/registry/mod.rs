//! The function registry as the checker reads it: each function's input and output types and
//! its properties (idempotent, retry-safe errors, the stores it reads and writes), and the
//! named types flows may declare their input with.
//!
//! Where it comes from: `flowctl build` asks each package binary to `describe` itself and
//! keeps the answers in the [`Cache`] (`registry.json` beside `build.json`, one entry per
//! package, keyed by the binary's SHA-256); the manifest may declare the same facts for a
//! function no binary describes (another language, or not built yet). [`assemble`] joins the
//! two into one [`Registry`], the one source of truth for a property.

mod assemble;

pub use assemble::{assemble, Inputs};

use crate::types::{Type, Types};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The cache's file name, in the project's build directory beside `build.json`.
pub const CACHE_FILE: &str = "registry.json";

/// The version of the cache format; a cache of another version is ignored (and rewritten by
/// the next build).
pub const CACHE_VERSION: u32 = 1;

/// `registry.json`: what each package's binary described, keyed by the binary's hash so a
/// build reruns `describe` only for a binary that changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    pub version: u32,
    /// Package name → its binary's description.
    pub packages: BTreeMap<String, CachedPackage>,
}

/// One package binary's `describe` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedPackage {
    /// SHA-256 (hex) of the executable that answered.
    pub sha256: String,
    /// The `describe` document as printed (see [`parse_describe`]).
    pub describe: Value,
}

impl Cache {
    /// A cache from its JSON text; `None` for another version or a malformed file (the next
    /// build rewrites it).
    pub fn from_json(text: &str) -> Option<Cache> {
        let cache: Cache = serde_json::from_str(text).ok()?;
        (cache.version == CACHE_VERSION).then_some(cache)
    }

    /// A cache holding these packages' `describe` documents, as a build would keep them, with
    /// no binary's hash (tests, benchmarks and fuzzing give a check its registry so).
    pub fn holding(documents: impl IntoIterator<Item = (String, Value)>) -> Cache {
        Cache {
            version: CACHE_VERSION,
            packages: documents
                .into_iter()
                .map(|(package, describe)| {
                    let entry = CachedPackage {
                        sha256: String::new(),
                        describe,
                    };
                    (package, entry)
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// A `describe` document, read: `{"shim": "flowctl-shim", "version", "protocol",
/// "functions": [{"name", "properties", "input", "output"}], "types": {name: schema}}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Described {
    pub functions: Vec<DescribedFunction>,
    /// Named types the binary registers for flows to declare their input with.
    pub types: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribedFunction {
    pub name: String,
    pub properties: Properties,
    /// JSON Schema of the input.
    pub input: Value,
    /// JSON Schema of the output.
    pub output: Value,
}

/// What a function declares about its effects.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Properties {
    /// Calling it twice with the same input has the effect of calling it once.
    pub idempotent: bool,
    /// Errors it raises only when the call had no effect, so retrying on them is safe even
    /// when the function is not idempotent.
    pub retry_safe: Vec<String>,
    /// Stores (names under the manifest's `stores`) it reads.
    pub reads: Vec<String>,
    /// Stores it writes.
    pub writes: Vec<String>,
    /// Stores it reads with a strongly consistent read, whatever the store's default.
    pub consistent_reads: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A `describe` document, or why it is not one. Unknown keys are ignored, so a newer shim's
/// additions do not break an older flowctl.
pub fn parse_describe(doc: &Value) -> Result<Described, String> {
    if doc.get("shim").and_then(Value::as_str) != Some("flowctl-shim") {
        return Err("not a flowctl-shim description (no `\"shim\": \"flowctl-shim\"`)".into());
    }
    let functions = doc
        .get("functions")
        .and_then(Value::as_array)
        .ok_or("no `functions` list")?;
    let mut out = Described::default();
    for (i, f) in functions.iter().enumerate() {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("functions[{i}] has no `name`"))?;
        let properties = match f.get("properties") {
            None => Properties::default(),
            Some(p) => serde_json::from_value(p.clone())
                .map_err(|e| format!("the properties of `{name}`: {e}"))?,
        };
        out.functions.push(DescribedFunction {
            name: name.to_string(),
            properties,
            input: f.get("input").cloned().unwrap_or(Value::Bool(true)),
            output: f.get("output").cloned().unwrap_or(Value::Bool(true)),
        });
    }
    if let Some(types) = doc.get("types").and_then(Value::as_object) {
        out.types = types.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    Ok(out)
}

/// The registry as the checker uses it: every manifest function's types and properties, the
/// named types, and which stores read eventually.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Manifest function key → what is known of it.
    pub functions: BTreeMap<String, FunctionInfo>,
    pub types: Types,
    /// Stores whose reads may miss a write just made (`consistency: eventual`).
    pub eventual_stores: BTreeSet<String>,
    /// Whether every function package was described (a build's cache covers them all): only
    /// then is a type name the registry does not know an error rather than a gap.
    pub complete: bool,
}

/// One function as the checker knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionInfo {
    /// `Type::Any` when nothing declares it.
    pub input: Type,
    pub output: Type,
    pub properties: Properties,
    /// Whether `properties.idempotent` was declared (by the registry or the manifest) rather
    /// than defaulted: a retry is judged only against a declared property.
    pub declared: bool,
}

impl Registry {
    pub fn function(&self, key: &str) -> Option<&FunctionInfo> {
        self.functions.get(key)
    }
}
