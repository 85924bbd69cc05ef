//! Evaluation of a parsed call: arguments first (literals borrowed, paths through the caller's
//! resolver, nested calls recursively), then the function on their values.
//!
//! AWS documents some rules loosely; where its service is known to behave in a particular way,
//! the rule is written next to the code that follows it.

use super::parse::parse_template;
use super::{Arg, Call, Function, Piece, Template, INTRINSIC_FAILURE};
use crate::invoke::TaskError;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::Digest as _;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

type Resolve<'r> = dyn FnMut(&str) -> Result<Value, TaskError> + 'r;

/// AWS: `States.ArrayRange` "can't contain more than 1000 items".
const MAX_RANGE_ITEMS: i128 = 1000;
/// AWS: Base64Encode/Base64Decode take "a data string of up to 10,000 characters"; Hash's data
/// "must be an object string containing 10,000 characters or less".
const MAX_INPUT_CHARS: usize = 10_000;
/// AWS: MathAdd takes "integer values in the range of -2147483648 and 2147483647".
const MATH_ADD_RANGE: std::ops::RangeInclusive<i64> = (i32::MIN as i64)..=(i32::MAX as i64);

pub(super) fn eval(call: &Call, resolve: &mut Resolve<'_>) -> Result<Value, TaskError> {
    let mut values = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        values.push(match arg {
            Arg::Literal(value) => Cow::Borrowed(value),
            Arg::Path(path) => Cow::Owned(resolve(path)?),
            Arg::Call(nested) => Cow::Owned(eval(nested, resolve)?),
        });
    }
    let args = Args {
        function: call.function,
        values,
    };
    match call.function {
        Function::Format => format(args, call.template.as_ref()),
        Function::StringToJson => string_to_json(args),
        Function::JsonToString => Ok(Value::String(args.values[0].to_string())),
        Function::Array => Ok(Value::Array(
            args.values.into_iter().map(Cow::into_owned).collect(),
        )),
        Function::ArrayPartition => array_partition(args),
        Function::ArrayContains => array_contains(args),
        Function::ArrayRange => array_range(args),
        Function::ArrayGetItem => array_get_item(args),
        Function::ArrayLength => Ok(Value::from(args.array(0)?.len())),
        Function::ArrayUnique => array_unique(args),
        Function::Base64Encode => base64_encode(args),
        Function::Base64Decode => base64_decode(args),
        Function::Hash => hash(args),
        Function::JsonMerge => json_merge(args),
        Function::MathRandom => math_random(args),
        Function::MathAdd => math_add(args),
        Function::StringSplit => string_split(args),
        Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

/// A function's evaluated arguments (their count was checked by the parser), with typed
/// accessors whose errors name the function and the argument.
struct Args<'v> {
    function: Function,
    values: Vec<Cow<'v, Value>>,
}

impl<'v> Args<'v> {
    fn invalid(&self, detail: impl std::fmt::Display) -> TaskError {
        invalid(self.function, detail)
    }

    fn wrong_type(&self, index: usize, expected: &str) -> TaskError {
        self.invalid(format!(
            "the {} argument must be {expected}, got {}",
            ordinal(index),
            describe(&self.values[index])
        ))
    }

    fn string(&self, index: usize) -> Result<&str, TaskError> {
        self.values[index]
            .as_str()
            .ok_or_else(|| self.wrong_type(index, "a string"))
    }

    fn array(&self, index: usize) -> Result<&Vec<Value>, TaskError> {
        self.values[index]
            .as_array()
            .ok_or_else(|| self.wrong_type(index, "an array"))
    }

    fn object(&self, index: usize) -> Result<&Map<String, Value>, TaskError> {
        self.values[index]
            .as_object()
            .ok_or_else(|| self.wrong_type(index, "an object"))
    }

    /// A number cut to an integer. AWS documents "round it off to the nearest integer", but its
    /// service truncates towards zero in ArrayPartition, ArrayRange, ArrayGetItem and MathRandom
    /// (`States.ArrayPartition($.a, 2.6)` makes chunks of 2, `States.MathRandom(1.4, 1.6)` fails
    /// as an empty range); we do as the service does.
    fn truncated(&self, index: usize) -> Result<i64, TaskError> {
        self.integer(index, f64::trunc)
    }

    /// A number rounded half up (Java's `Math.round`), which is how AWS treats MathAdd's
    /// arguments: 1.5 → 2, -1.5 → -1, -0.5 → 0.
    fn rounded(&self, index: usize) -> Result<i64, TaskError> {
        self.integer(index, |x| (x + 0.5).floor())
    }

    fn integer(&self, index: usize, to_integer: fn(f64) -> f64) -> Result<i64, TaskError> {
        let Value::Number(number) = &*self.values[index] else {
            return Err(self.wrong_type(index, "a number"));
        };
        if let Some(integer) = number.as_i64() {
            return Ok(integer);
        }
        let float = to_integer(number.as_f64().unwrap_or(f64::NAN));
        // i64 bounds as f64: -2^63 is exact, 2^63 is one past the end.
        if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&float) {
            Ok(float as i64)
        } else {
            Err(self.invalid(format!(
                "the {} argument ({number}) is too large",
                ordinal(index)
            )))
        }
    }

    /// A string of at most `MAX_INPUT_CHARS` characters, counted as AWS (a JVM) counts them:
    /// UTF-16 code units.
    fn limited_string(&self, index: usize) -> Result<&str, TaskError> {
        let text = self.string(index)?;
        // Cheap bound first: UTF-16 units never outnumber bytes.
        if text.len() > MAX_INPUT_CHARS {
            let chars = text.encode_utf16().count();
            if chars > MAX_INPUT_CHARS {
                return Err(self.invalid(format!(
                    "the {} argument is {chars} characters long; at most {MAX_INPUT_CHARS} are allowed",
                    ordinal(index)
                )));
            }
        }
        Ok(text)
    }
}

fn invalid(function: Function, detail: impl std::fmt::Display) -> TaskError {
    TaskError::new(
        INTRINSIC_FAILURE,
        format!("Invalid arguments in {}: {detail}", function.name()),
    )
}

fn ordinal(index: usize) -> &'static str {
    ["first", "second", "third"]
        .get(index)
        .copied()
        .unwrap_or("next")
}

/// A value's kind and a short preview, for error causes.
fn describe(value: &Value) -> String {
    const PREVIEW: usize = 40;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > PREVIEW => {
            format!(
                "the string \"{}…\"",
                s.chars().take(PREVIEW).collect::<String>()
            )
        }
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(items) => format!("an array of {} item(s)", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

fn format(args: Args<'_>, literal_template: Option<&Template>) -> Result<Value, TaskError> {
    let parsed;
    let template = match literal_template {
        Some(template) => template,
        None => {
            let text = args.string(0)?;
            parsed = parse_template(text).map_err(|(_, message)| args.invalid(message))?;
            &parsed
        }
    };
    let values = &args.values[1..];
    if template.placeholders != values.len() {
        return Err(args.invalid(format!(
            "the template has {} `{{}}` placeholder(s) but {} value(s) follow it; they must be equal",
            template.placeholders,
            values.len()
        )));
    }
    let mut out = String::new();
    let mut next_value = values.iter();
    for piece in &template.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder => {
                if let Some(value) = next_value.next() {
                    render_format_value(value, &mut out);
                }
            }
        }
    }
    Ok(Value::String(out))
}

/// How AWS writes a value into a `States.Format` template: strings as they are (no quotes),
/// numbers, booleans and null as JSON (`null`). The ASL specification forbids arrays and
/// objects here, but AWS accepts them and writes them the way Java prints its collections:
/// `{"Arg1": 1, "Arg2": ["x"]}` becomes `{Arg1=1, Arg2=[x]}` (recorded from the service).
fn render_format_value(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_format_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                render_format_value(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn string_to_json(args: Args<'_>) -> Result<Value, TaskError> {
    let text = args.string(0)?;
    serde_json::from_str(text).map_err(|e| args.invalid(format!("the string is not JSON: {e}")))
}

fn array_partition(args: Args<'_>) -> Result<Value, TaskError> {
    let items = args.array(0)?;
    let size = args.truncated(1)?;
    if size <= 0 {
        return Err(args.invalid(format!(
            "the chunk size must be a positive integer, got {size}"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    // AWS: "The length of the last array chunk may be less than the length of the previous
    // array chunks".
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}

fn array_contains(args: Args<'_>) -> Result<Value, TaskError> {
    let items = args.array(0)?;
    let wanted = &*args.values[1];
    Ok(Value::Bool(
        items.iter().any(|item| json_equal(item, wanted)),
    ))
}

fn array_range(args: Args<'_>) -> Result<Value, TaskError> {
    let start = args.truncated(0)? as i128;
    let end = args.truncated(1)? as i128;
    let step = args.truncated(2)? as i128;
    if step == 0 {
        return Err(args.invalid("the step (third argument) must not be 0"));
    }
    // Both ends are included; a step that leads away from the end gives an empty array.
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS {
        return Err(args.invalid(format!(
            "the range would have {count} items; at most {MAX_RANGE_ITEMS} are allowed"
        )));
    }
    // Every item lies between start and end, both i64.
    Ok(Value::Array(
        (0..count)
            .map(|i| Value::from((start + i * step) as i64))
            .collect(),
    ))
}

fn array_get_item(args: Args<'_>) -> Result<Value, TaskError> {
    let items = args.array(0)?;
    let index = args.truncated(1)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| {
            args.invalid(format!(
                "index {index} is out of bounds for an array of {} item(s)",
                items.len()
            ))
        })
}

/// Keeps the first occurrence of each value, in order.
fn array_unique(args: Args<'_>) -> Result<Value, TaskError> {
    let items = args.array(0)?;
    let mut seen = HashSet::with_capacity(items.len());
    let unique = items
        .iter()
        .filter(|item| seen.insert(canonical_key(item)))
        .cloned()
        .collect();
    Ok(Value::Array(unique))
}

fn base64_encode(args: Args<'_>) -> Result<Value, TaskError> {
    let text = args.limited_string(0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(text),
    ))
}

/// AWS decodes "based on MIME Base64 decoding scheme" (Java's MIME decoder): characters
/// outside the Base64 alphabet are skipped, decoding stops at the first `=`, and padding may be
/// missing (the service decodes `'abc'`, `' YWJjZA== '` and `'ab==cd'`). Bytes that are not
/// UTF-8 become U+FFFD.
fn base64_decode(args: Args<'_>) -> Result<Value, TaskError> {
    let text = args.limited_string(0)?;
    let significant: Vec<u8> = text
        .bytes()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = LENIENT
        .decode(&significant)
        .map_err(|e| args.invalid(format!("the input is not Base64: {e}")))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Lowercase hex of the digest of the string's UTF-8 bytes. The algorithm name must be written
/// exactly as AWS lists it (`sha-256` and `SHA256` fail there too).
fn hash(args: Args<'_>) -> Result<Value, TaskError> {
    let data = args.limited_string(0)?.as_bytes();
    let algorithm = args.string(1)?;
    hex_digest(data, algorithm)
        .map(Value::String)
        .ok_or_else(|| {
            args.invalid(format!(
                "unsupported hash algorithm \"{algorithm}\"; use {HASH_ALGORITHMS}"
            ))
        })
}

/// The algorithms `States.Hash` and JSONata's `$hash` take, as AWS spells them.
pub(crate) const HASH_ALGORITHMS: &str = "MD5, SHA-1, SHA-256, SHA-384 or SHA-512";

/// Lowercase hex of `data`'s digest by `algorithm` (one of [`HASH_ALGORITHMS`]).
pub(crate) fn hex_digest(data: &[u8], algorithm: &str) -> Option<String> {
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    Some(hex)
}

/// Shallow merge: the second object's keys replace the first's (in the first's position);
/// nested objects are not merged. AWS supports only this mode, so the third argument must be
/// `false`.
fn json_merge(args: Args<'_>) -> Result<Value, TaskError> {
    let first = args.object(0)?;
    let second = args.object(1)?;
    match &*args.values[2] {
        Value::Bool(false) => {}
        Value::Bool(true) => {
            return Err(
                args.invalid("deep merging is not supported; the third argument must be false")
            )
        }
        _ => return Err(args.wrong_type(2, "the boolean false")),
    }
    let mut merged = first.clone();
    merged.extend(
        second
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    Ok(Value::Object(merged))
}

/// A random integer from start (inclusive) to end (exclusive), as AWS documents; the same seed
/// gives the same number (though not the number AWS's generator would give). AWS fails when the
/// range is empty (`States.MathRandom(1, 1)`).
fn math_random(args: Args<'_>) -> Result<Value, TaskError> {
    let start = args.truncated(0)?;
    let end = args.truncated(1)?;
    if start >= end {
        return Err(args.invalid(format!(
            "the start ({start}) must be less than the end ({end}), which is excluded"
        )));
    }
    let number = match args.values.get(2) {
        Some(_) => {
            let seed = args.truncated(2)?;
            fastrand::Rng::with_seed(seed as u64).i64(start..end)
        }
        None => fastrand::i64(start..end),
    };
    Ok(Value::from(number))
}

fn math_add(args: Args<'_>) -> Result<Value, TaskError> {
    let mut sum = 0i64;
    for index in 0..2 {
        let value = args.rounded(index)?;
        if !MATH_ADD_RANGE.contains(&value) {
            return Err(args.invalid(format!(
                "the {} argument ({value}) must be between {} and {}",
                ordinal(index),
                MATH_ADD_RANGE.start(),
                MATH_ADD_RANGE.end()
            )));
        }
        sum += value;
    }
    Ok(Value::from(sum))
}

/// Splits on every character of the delimiter string and drops empty pieces, as AWS does
/// (its documented example splits `"This.is+a,test=string"` on `".+,="`): `"a,,b"` split on
/// `","` is `["a", "b"]`.
fn string_split(args: Args<'_>) -> Result<Value, TaskError> {
    let text = args.string(0)?;
    let delimiters: Vec<char> = args.string(1)?.chars().collect();
    let pieces = text
        .split(|c: char| delimiters.contains(&c))
        .filter(|piece| !piece.is_empty())
        .map(|piece| Value::String(piece.to_string()))
        .collect();
    Ok(Value::Array(pieces))
}

/// JSON equality: object keys in any order, numbers by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

/// A text that is the same for values `json_equal` holds equal: keys sorted, integral numbers
/// written as integers.
fn canonical_key(value: &Value) -> String {
    fn write_canonical(value: &Value, out: &mut String) {
        match value {
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => {
                    let _ = write!(out, "{i}");
                }
                (None, Some(u), _) => {
                    let _ = write!(out, "{u}");
                }
                // Integral floats in full digits, as integers print (`-0.0` is `0`).
                (None, None, Some(f)) if f.fract() == 0.0 => {
                    let _ = write!(out, "{:.0}", f + 0.0);
                }
                _ => {
                    let _ = write!(out, "{n}");
                }
            },
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (key, item) in entries {
                    let _ = write!(out, "{}:", Value::String(key.clone()));
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push('}');
            }
            scalar => {
                let _ = write!(out, "{scalar}");
            }
        }
    }
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}
