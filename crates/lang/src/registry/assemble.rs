//! The manifest and the build's cache → one [`Registry`]: each manifest function's types
//! and properties from its binary's `describe` when the cache has it, else from the manifest;
//! the named types of both; and every contradiction between the two, located in
//! flowctl.yaml (the registry is the one source of truth for a property).

use super::{
    parse_describe, Cache, Described, DescribedFunction, FunctionInfo, Properties, Registry,
};
use crate::diagnostic::Diagnostic;
use crate::manifest::{locate, Consistency, Function, Manifest, SchemaPlace, SchemaSource};
use crate::types::{schema, Type, Types};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What [`assemble`] reads.
pub struct Inputs<'a> {
    pub manifest: &'a Manifest,
    /// The manifest's text, to locate problems in it.
    pub manifest_text: &'a str,
    /// The build's cache, when there has been a build.
    pub cache: Option<&'a Cache>,
    /// The text of each schema file the manifest names (`Manifest::schema_files`), by path as
    /// written; a file that could not be read is absent (`check_files` reports it).
    pub schema_files: &'a BTreeMap<PathBuf, String>,
}

/// The registry, and the problems of putting it together (errors in flowctl.yaml).
pub fn assemble(inputs: &Inputs<'_>) -> (Registry, Vec<Diagnostic>) {
    let manifest = inputs.manifest;
    let root = locate::tree(inputs.manifest_text);
    let mut diagnostics = Vec::new();
    let mut types = Types::default();

    // The manifest's named types first: schemas may refer to them by name.
    for (name, source) in &manifest.types {
        let place = SchemaPlace::Type(name.clone());
        match schema_value(source, inputs, &place, &root, &mut diagnostics) {
            Some(value) => {
                let ty = schema::read(&value, &mut types);
                if ty != Type::Named(name.clone()) {
                    types.define(name, ty);
                }
            }
            // Reported already (or by `check_files`): flows naming it check untyped.
            None => types.define(name, Type::Any),
        }
    }

    let described: BTreeMap<&str, Described> = match inputs.cache {
        None => BTreeMap::new(),
        Some(cache) => cache
            .packages
            .iter()
            .filter_map(|(package, entry)| {
                parse_describe(&entry.describe)
                    .ok()
                    .map(|d| (package.as_str(), d))
            })
            .collect(),
    };
    // The binaries' named types, beside the manifest's (a name both give must mean one type).
    for (package, description) in &described {
        for (name, value) in &description.types {
            let mut scratch = types.clone();
            let ty = schema::read(value, &mut scratch);
            let declared = manifest.types.contains_key(name);
            if declared {
                let same = scratch.resolve(&ty) == scratch.resolve(&Type::Named(name.clone()));
                if !same {
                    diagnostics.push(
                        Diagnostic::error("M047", format!("type `{name}` is declared twice, differently"), locate::key_span(&root, &["types", name]))
                            .text(format!("the binary of package `{package}` registers another `{name}`"))
                            .hint(format!("remove `{name}` from `types:` in flowctl.yaml (the binary's type is the source of truth), or rename one of them")),
                    );
                }
                continue;
            }
            types = scratch;
            if ty != Type::Named(name.clone()) && types.get(name).is_none() {
                types.define(name, ty);
            }
        }
    }

    let mut functions = BTreeMap::new();
    for (key, function) in &manifest.functions {
        // A function in a managed runtime is described by the manifest alone: no binary of
        // flowctl's will ever describe it.
        let from_binary = function
            .package()
            .and_then(|package| described.get(package))
            .and_then(|d| d.functions.iter().find(|f| &f.name == key));
        let info = match from_binary {
            Some(d) => {
                contradictions(key, function, d, &root, &mut diagnostics);
                // One problem per store the binary names and the manifest does not declare.
                let mut undeclared: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (list, what) in [
                    (&d.properties.reads, "reads"),
                    (&d.properties.writes, "writes"),
                    (&d.properties.consistent_reads, "consistent_reads"),
                ] {
                    for store in list.iter().filter(|s| !manifest.stores.contains_key(*s)) {
                        undeclared.entry(store).or_default().push(what);
                    }
                }
                for (store, lists) in undeclared {
                    diagnostics.push(
                        Diagnostic::error("M049", format!("function `{key}` uses store `{store}`, which flowctl.yaml does not declare"), locate::key_span(&root, &["functions", key]))
                            .text(format!("the binary of package `{}` lists it in {}", function.package().unwrap_or_default(), and_list(&lists)))
                            .hint(format!("declare it with the consistency of its reads: `stores: {{ {store}: {{ consistency: strong }} }}` (or `eventual`), or correct the name in the function's registration")),
                    );
                }
                FunctionInfo {
                    input: schema::read(&d.input, &mut types),
                    output: schema::read(&d.output, &mut types),
                    properties: d.properties.clone(),
                    declared: true,
                }
            }
            None => {
                let mut read = |source: &Option<SchemaSource>, place: SchemaPlace| {
                    source
                        .as_ref()
                        .and_then(|s| schema_value(s, inputs, &place, &root, &mut diagnostics))
                        .map_or(Type::Any, |v| schema::read(&v, &mut types))
                };
                let input = read(&function.input, SchemaPlace::Input(key.clone()));
                let output = read(&function.output, SchemaPlace::Output(key.clone()));
                FunctionInfo {
                    input,
                    output,
                    properties: Properties {
                        idempotent: function.is_idempotent(),
                        retry_safe: function.retry_safe.clone(),
                        reads: function.reads.clone(),
                        writes: function.writes.clone(),
                        consistent_reads: function.consistent_reads.clone(),
                        description: None,
                    },
                    declared: function.idempotent.is_some(),
                }
            }
        };
        functions.insert(key.clone(), info);
    }

    let packages: BTreeSet<&str> = manifest
        .functions
        .values()
        .filter_map(Function::package)
        .collect();
    let complete = packages.iter().all(|p| described.contains_key(p));
    let eventual_stores = manifest
        .stores
        .iter()
        .filter(|(_, s)| s.consistency == Consistency::Eventual)
        .map(|(k, _)| k.clone())
        .collect();
    (
        Registry {
            functions,
            types,
            eventual_stores,
            complete,
        },
        diagnostics,
    )
}

/// The JSON Schema a manifest entry gives: inline, or read from its file (reporting a file
/// that is not JSON).
fn schema_value(
    source: &SchemaSource,
    inputs: &Inputs<'_>,
    place: &SchemaPlace,
    root: &locate::LNode,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    match source {
        SchemaSource::Inline(value) => Some(value.clone()),
        SchemaSource::File(path) => {
            let text = inputs.schema_files.get(path)?;
            match serde_json::from_str(text) {
                Ok(value) => Some(value),
                Err(error) => {
                    diagnostics.push(
                        Diagnostic::error(
                            "M048",
                            format!("the schema of {} is not JSON", place.describe()),
                            locate::value_span(root, &place.path()),
                        )
                        .text(format!("`{}`: {error}", path.display()))
                        .hint("a schema file holds one JSON Schema document in JSON"),
                    );
                    None
                }
            }
        }
    }
}

/// Each property both the manifest and the binary declare must agree; the manifest may not
/// declare types the binary describes.
fn contradictions(
    key: &str,
    function: &Function,
    described: &DescribedFunction,
    root: &locate::LNode,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let package = function.package().unwrap_or_default();
    let props = &described.properties;
    let mut disagree = |field: &str, manifest: String, binary: String| {
        diagnostics.push(
            Diagnostic::error("M046", format!("`{field}` of function `{key}` contradicts its binary"), locate::value_span(root, &["functions", key, field]))
                .text(format!("flowctl.yaml says {manifest}; the binary of package `{package}` says {binary}"))
                .hint(format!("the binary's registration is the source of truth: remove `{field}` here, or change the registration of `{key}`")),
        );
    };
    if let Some(idempotent) = function.idempotent {
        if idempotent != props.idempotent {
            disagree(
                "idempotent",
                idempotent.to_string(),
                props.idempotent.to_string(),
            );
        }
    }
    for (field, manifest, binary) in [
        ("retry_safe", &function.retry_safe, &props.retry_safe),
        ("reads", &function.reads, &props.reads),
        ("writes", &function.writes, &props.writes),
        (
            "consistent_reads",
            &function.consistent_reads,
            &props.consistent_reads,
        ),
    ] {
        let (m, b): (BTreeSet<&String>, BTreeSet<&String>) =
            (manifest.iter().collect(), binary.iter().collect());
        if !manifest.is_empty() && m != b {
            disagree(field, format!("{manifest:?}"), format!("{binary:?}"));
        }
    }
    for (field, declared) in [("input", &function.input), ("output", &function.output)] {
        if declared.is_some() {
            diagnostics.push(
                Diagnostic::error("M046", format!("the {field} type of function `{key}` is declared twice"), locate::key_span(root, &["functions", key, field]))
                    .text(format!("the binary of package `{package}` describes it"))
                    .hint(format!("remove `{field}` here: the binary's type is the source of truth (`{field}` is for functions no flowctl-shim binary describes)")),
            );
        }
    }
}

/// `` `a` ``, `` `a` and `b` ``, `` `a`, `b` and `c` ``.
fn and_list(items: &[&str]) -> String {
    let ticked: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match ticked.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
