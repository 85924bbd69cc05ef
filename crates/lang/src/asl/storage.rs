//! The storage scheme (see the `asl` module docs): where each flow variable lives in the state
//! payload, as JSONPath. Codegen and fusion both write paths into the same storage, so both
//! take them from here.

use crate::flow::ir::{self, Origin, Seg};

/// The JSONPath of a selector: where its variable lives, then its fields and indexes.
pub(super) fn path(p: &ir::Path) -> String {
    let mut out = format!("$.vars{}", field(&p.var));
    if p.origin == Origin::Result {
        out.push_str(".value");
    }
    for seg in &p.segs {
        match seg {
            Seg::Field(f) => out.push_str(&field(f)),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// `.name` for plain identifiers, `['any key']` otherwise.
pub(super) fn field(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!(".{name}")
    } else {
        format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}
