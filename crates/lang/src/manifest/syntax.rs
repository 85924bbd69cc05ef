//! serde_yaml's syntax errors → diagnostics with a span and plain words.

use crate::diagnostic::{Diagnostic, Span};

/// One M001 diagnostic for a text serde_yaml could not read.
pub(crate) fn yaml_error(text: &str, err: &serde_yaml::Error) -> Diagnostic {
    let raw = err.to_string();
    let at = err
        .location()
        .map(|loc| offset(text, loc.line(), loc.column(), Some(loc.index())));
    let (message, context) = split_message(&raw);

    if raw.contains("more than one document") {
        let span = second_document(text).unwrap_or_else(|| super::document_start(text));
        return Diagnostic::error("M001", "the manifest holds more than one YAML document", span)
            .text("a second document starts here")
            .hint("keep one document in flowctl.yaml: remove this `---` line and merge or delete what follows");
    }

    let start = at.unwrap_or_else(|| super::document_start(text).start as usize);
    let span = token_span(text, start);
    let (title, text_msg, hint): (String, String, String) = if text[start..].starts_with('\t') {
        (
            "tab character in indentation".into(),
            "YAML does not allow tabs for indentation".into(),
            "indent with spaces instead of tabs".into(),
        )
    } else if message.starts_with("recursion limit exceeded") {
        (
            "the manifest is nested too deeply".into(),
            "too many levels of nested lists or mappings".into(),
            "a manifest needs at most four levels: flatten this value".into(),
        )
    } else if message.starts_with("repetition limit exceeded") {
        (
            "too many alias expansions".into(),
            "aliases (`*name`) expand to too much data".into(),
            "write the values out instead of repeating aliases".into(),
        )
    } else if let Some(alias) = message.strip_prefix("unknown anchor") {
        (
            "alias to an unknown anchor".into(),
            format!("no anchor{alias} was defined before this alias"),
            "define the anchor (`&name`) before using it as `*name`, or write the value out".into(),
        )
    } else if message.contains("found undefined alias") {
        (
            "alias to an unknown anchor".into(),
            "no anchor with this name was defined before".into(),
            "define the anchor (`&name`) before using it as `*name`, or write the value out".into(),
        )
    } else if message.contains("mapping values are not allowed in this context") {
        (
            "unexpected `:`".into(),
            "a `key: value` cannot start here".into(),
            "check the indentation of this line (it must line up with its sibling keys); if the value contains `: `, put it in quotes".into(),
        )
    } else if message.contains("did not find expected key") {
        (
            "bad indentation".into(),
            "this line does not line up with the keys of its mapping".into(),
            "indent each key exactly like its siblings (with spaces)".into(),
        )
    } else if message.contains("did not find expected ',' or ']'") {
        (
            "unclosed `[`".into(),
            "the list is not closed before this point".into(),
            "close the list with `]`, separating items with `,`".into(),
        )
    } else if message.contains("did not find expected ',' or '}'") {
        (
            "unclosed `{`".into(),
            "the mapping is not closed before this point".into(),
            "close the mapping with `}`, separating entries with `,`".into(),
        )
    } else if message.contains("while scanning a quoted scalar")
        || context
            .as_deref()
            .is_some_and(|c| c.contains("quoted scalar"))
    {
        (
            "unterminated quoted string".into(),
            "the text ends before the closing quote".into(),
            "add the closing quote".into(),
        )
    } else if message.contains("did not find expected '-' indicator") {
        (
            "bad indentation in a list".into(),
            "this line does not line up with the items of its list".into(),
            "start each item with `- ` at the same indentation".into(),
        )
    } else if message.contains("block sequence entries are not allowed in this context") {
        (
            "unexpected list item".into(),
            "a `- item` cannot start here".into(),
            "put the list on the lines after the key, indented, or write it inline as `[a, b]`"
                .into(),
        )
    } else if message.contains("found character that cannot start any token") {
        let c = text[start..]
            .chars()
            .next()
            .map_or(String::new(), |c| format!(" `{c}`"));
        (
            format!("unexpected character{c}"),
            "YAML cannot start a value with this character".into(),
            "put the value in quotes".into(),
        )
    } else {
        (
            "invalid YAML".into(),
            message.clone(),
            "fix the YAML syntax here (the whole file must be valid YAML before flowctl can check it)".into(),
        )
    };
    let mut diagnostic = Diagnostic::error("M001", title, span)
        .text(text_msg)
        .hint(hint);
    if let Some((what, line, column)) = context.as_deref().and_then(parse_context) {
        let at = offset(text, line, column, None);
        if at != start {
            diagnostic = diagnostic.label(token_span(text, at), format!("the {what} starts here"));
        }
    }
    diagnostic
}

/// serde_yaml's text → (problem without its position, "while parsing …" context).
fn split_message(raw: &str) -> (String, Option<String>) {
    let (problem, context) = match raw.split_once(", while ") {
        Some((p, c)) => (p, Some(c.to_string())),
        None => (raw, None),
    };
    let problem = strip_position(problem);
    // serde_yaml prefixes a path ("functions.A: …") to some messages.
    (problem.trim().to_string(), context)
}

fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}

/// "parsing a flow sequence at line 1 column 10" → ("flow sequence", 1, 10).
fn parse_context(context: &str) -> Option<(String, usize, usize)> {
    let (what, position) = context.rsplit_once(" at line ")?;
    let (line, column) = position.split_once(" column ")?;
    let line = line.trim().parse().ok()?;
    let column = column
        .trim()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    let what = what
        .trim_start_matches("parsing ")
        .trim_start_matches("scanning ")
        .trim_start_matches("a ")
        .trim_start_matches("an ");
    let what = match what {
        "flow sequence" => "list",
        "flow mapping" => "mapping",
        "block mapping" => "mapping",
        "block collection" => "list",
        "quoted scalar" => "quoted string",
        other => other,
    };
    Some((what.to_string(), line, column))
}

/// Byte offset of a 1-based line and column (in characters), preferring libyaml's own byte
/// index when it agrees with the text; always on a char boundary and within the text.
fn offset(text: &str, line: usize, column: usize, index: Option<usize>) -> usize {
    if let Some(index) = index {
        if index <= text.len()
            && text.is_char_boundary(index)
            && crate::diagnostic::line_col(text, index) == (line, column)
        {
            return index;
        }
    }
    let mut line_start = 0;
    for _ in 1..line.max(1) {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[line_start..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    line_text[..line_end]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_start + line_end, |(i, _)| line_start + i)
}

/// A span from `start` to the end of the token there (at least one character unless at the end).
fn token_span(text: &str, start: usize) -> Span {
    let rest = &text[start..];
    let len = match rest.chars().next() {
        None => 0,
        Some(c) if c.is_whitespace() => c.len_utf8(),
        Some(_) => rest
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || ",:[]{}".contains(c))
            .map_or(rest.len(), |(i, _)| i)
            .max(rest.chars().next().map_or(0, char::len_utf8)),
    };
    Span::new(start, start + len)
}

/// The `---` line that starts a second document.
fn second_document(text: &str) -> Option<Span> {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if seen_content {
                return Some(Span::new(offset, offset + 3));
            }
        } else if !trimmed.trim_start().is_empty() && !trimmed.trim_start().starts_with('#') {
            seen_content = true;
        }
        offset += line.len();
    }
    None
}
