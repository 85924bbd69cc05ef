//! Table-driven tests: one line per case, expectations from the AWS "Intrinsic functions" page
//! (its own examples first) and from behaviour recorded against the service.

use super::*;
use serde_json::json;

/// Resolves `$…` against `input` and `$$…` against `context`, as the engine would; a path
/// with no match fails the way Step Functions reports it.
fn resolver<'a>(
    input: &'a Value,
    context: &'a Value,
) -> impl FnMut(&str) -> Result<Value, TaskError> + 'a {
    move |path: &str| {
        let (root, query) = match path.strip_prefix('$') {
            Some(rest) if rest.starts_with('$') => (context, rest.to_string()),
            _ => (input, path.to_string()),
        };
        let not_found = || {
            TaskError::new(
                "States.Runtime",
                format!("The JSONPath '{path}' could not be found in the input"),
            )
        };
        let parsed = serde_json_path::JsonPath::parse(&query).map_err(|_| not_found())?;
        parsed
            .query(root)
            .exactly_one()
            .cloned()
            .map_err(|_| not_found())
    }
}

fn run(expr: &str, input: &str) -> Result<Value, TaskError> {
    let call = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let input: Value =
        serde_json::from_str(input).unwrap_or_else(|e| panic!("{expr}: bad test input: {e}"));
    let context = json!({"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:M:run-1", "Name": "run-1", "Input": input}});
    let mut resolve = resolver(&input, &context);
    call.eval(&mut resolve)
}

/// `expected` is the JSON result, or `!` and a fragment of the `States.Runtime` cause.
fn check(cases: &[(&str, &str, &str)]) {
    for &(expr, input, expected) in cases {
        let result = run(expr, input);
        match expected.strip_prefix('!') {
            Some(fragment) => {
                let err = result.expect_err(&format!("{expr} should fail"));
                assert_eq!(err.error, INTRINSIC_FAILURE, "{expr}: {err:?}");
                assert!(
                    err.cause.contains(fragment),
                    "{expr}: cause {:?} lacks {fragment:?}",
                    err.cause
                );
            }
            None => {
                let expected: Value = serde_json::from_str(expected)
                    .unwrap_or_else(|e| panic!("{expr}: bad expectation: {e}"));
                assert_eq!(result, Ok(expected), "{expr}");
            }
        }
    }
}

#[test]
fn format() {
    check(&[
        // The AWS page's examples.
        ("States.Format('Hello, my name is {}.', $.name)", r#"{"name": "Arnav"}"#, r#""Hello, my name is Arnav.""#),
        ("States.Format($.template, $.name)", r#"{"name": "Arnav", "template": "Hello, my name is {}."}"#, r#""Hello, my name is Arnav.""#),
        // The ASL specification's example: numbers render as JSON.
        ("States.Format('Your name is {}, we are in the year {}', $.name, 2020)", r#"{"name": "Foo"}"#, r#""Your name is Foo, we are in the year 2020""#),
        ("States.Format('no placeholders')", "{}", r#""no placeholders""#),
        ("States.Format('{}|{}|{}|{}|{}', $.n, $.b, -1, 3.5, 'x')", r#"{"n": null, "b": false}"#, r#""null|false|-1|3.5|x""#),
        ("States.Format('  {}  ', $.a)", r#"{"a": "x"}"#, r#""  x  ""#),
        ("States.Format('{}{}', 'a', 'b')", "{}", r#""ab""#),
        // Escapes: \' \{ \} \\ are the characters themselves, never placeholders.
        (r"States.Format('Name: \'{}\', Surname: \{{}\}', $.a, $.b)", r#"{"a": "Ada", "b": "L"}"#, r#""Name: 'Ada', Surname: {L}""#),
        (r"States.Format('\{\} and \\{}', 'x')", "{}", r#""{} and \\x""#),
        // Arrays and objects: AWS writes them as Java prints collections (recorded).
        ("States.Format('fst={} and snd={}.', $.o, $.o)", r#"{"o": {"Arg1": 1, "Arg2": []}}"#, r#""fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.""#),
        ("States.Format('{}', $.a)", r#"{"a": ["x", 1, null, {"k": "v"}]}"#, r#""[x, 1, null, {k=v}]""#),
        ("States.Format('arn:{}:{}', $.svc, States.JsonToString($.obj))", r#"{"svc": "lambda", "obj": {"k": 1}}"#, r#""arn:lambda:{\"k\":1}""#),
        // A template read from the input follows the same rules.
        ("States.Format($.t, 1)", r#"{"t": "\\{{}\\}"}"#, r#""{1}""#),
        ("States.Format($.t, 'x')", r#"{"t": "C:\\dir {}"}"#, r#""C:\\dir x""#),
        ("States.Format($.t, 'x')", r#"{"t": "{} {}"}"#, "!the template has 2 `{}` placeholder(s) but 1 value(s)"),
        ("States.Format($.t)", r#"{"t": "Hello {"}"#, "!`{` without `}`"),
        ("States.Format($.t)", r#"{"t": "}"}"#, "!`}` without `{`"),
        ("States.Format($.t, 'x')", r#"{"t": 123}"#, "!Invalid arguments in States.Format: the first argument must be a string, got the number 123"),
    ]);
}

#[test]
fn json_conversions() {
    check(&[
        (
            "States.StringToJson($.escapedJsonString)",
            r#"{"escapedJsonString": "{\"foo\": \"bar\"}"}"#,
            r#"{"foo": "bar"}"#,
        ),
        (
            "States.StringToJson($.someString)",
            r#"{"someString": "{\"number\": 20}"}"#,
            r#"{"number": 20}"#,
        ),
        ("States.StringToJson('[1, 2]')", "{}", "[1, 2]"),
        ("States.StringToJson('\"x\"')", "{}", r#""x""#),
        (
            "States.StringToJson($.s)",
            r#"{"s": "{oops"}"#,
            "!Invalid arguments in States.StringToJson: the string is not JSON",
        ),
        (
            "States.StringToJson($.s)",
            r#"{"s": ""}"#,
            "!the string is not JSON",
        ),
        (
            "States.StringToJson($.s)",
            r#"{"s": {"a": 1}}"#,
            "!the first argument must be a string, got an object",
        ),
        // The specification's example: compact JSON, keys in their order.
        (
            "States.JsonToString($.someJson)",
            r#"{"someJson": {"name": "Foo", "year": 2020}}"#,
            r#""{\"name\":\"Foo\",\"year\":2020}""#,
        ),
        (
            "States.JsonToString($.unescapedJson)",
            r#"{"unescapedJson": {"foo": "bar"}}"#,
            r#""{\"foo\":\"bar\"}""#,
        ),
        (
            "States.JsonToString($.a)",
            r#"{"a": "text"}"#,
            r#""\"text\"""#,
        ),
        (
            "States.JsonToString($.a)",
            r#"{"a": [null, "", 0, true, [0, 1, false]]}"#,
            r#""[null,\"\",0,true,[0,1,false]]""#,
        ),
        (
            "States.JsonToString(States.StringToJson($.s))",
            r#"{"s": "{\"b\": 1, \"a\": 2}"}"#,
            r#""{\"b\":1,\"a\":2}""#,
        ),
    ]);
}

#[test]
fn json_merge() {
    check(&[
        // The AWS page's example: json2's `a` replaces json1's; nested objects are not merged.
        (
            "States.JsonMerge($.json1, $.json2, false)",
            r#"{"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}"#,
            r#"{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}"#,
        ),
        (
            "States.JsonMerge($.x, $.y, $.deep)",
            r#"{"x": {}, "y": {"k": null}, "deep": false}"#,
            r#"{"k": null}"#,
        ),
        (
            "States.JsonMerge($.x, $.x, true)",
            r#"{"x": {}}"#,
            "!Invalid arguments in States.JsonMerge: deep merging is not supported",
        ),
        (
            "States.JsonMerge($.x, $.x, 'false')",
            r#"{"x": {}}"#,
            "!the third argument must be the boolean false",
        ),
        (
            "States.JsonMerge($.x, $.a, false)",
            r#"{"x": {}, "a": [1]}"#,
            "!the second argument must be an object, got an array of 1 item(s)",
        ),
        (
            "States.JsonMerge('x', $.x, false)",
            r#"{"x": {}}"#,
            "!the first argument must be an object",
        ),
    ]);
}

#[test]
fn arrays() {
    check(&[
        // States.Array: the AWS page's and the specification's examples.
        ("States.Array($.Id)", r#"{"Id": 123456}"#, "[123456]"),
        ("States.Array('Foo', 2020, $.someJson, null)", r#"{"someJson": {"random": "abcdefg"}}"#, r#"["Foo", 2020, {"random": "abcdefg"}, null]"#),
        ("States.Array()", "{}", "[]"),
        ("States.Array(false, '', 0, -1.5e2, true)", "{}", r#"[false, "", 0, -150.0, true]"#),
        ("States.Array(1, States.Array(2, 3))", "{}", "[1, [2, 3]]"),
        ("States.Array( $.a , $.b )", r#"{"a": 1, "b": 2}"#, "[1, 2]"),
        ("States.Array($, $$.Execution.Name)", r#"{"x": 1}"#, r#"[{"x": 1}, "run-1"]"#),
        // States.ArrayPartition: the last chunk may be smaller.
        ("States.ArrayPartition($.inputArray,4)", r#"{"inputArray": [1,2,3,4,5,6,7,8,9]}"#, "[[1,2,3,4],[5,6,7,8],[9]]"),
        ("States.ArrayPartition($.a, 10)", r#"{"a": [1, 2, 3]}"#, "[[1, 2, 3]]"),
        ("States.ArrayPartition($.a, 3)", r#"{"a": []}"#, "[]"),
        ("States.ArrayPartition($.a, 2.6)", r#"{"a": [1, 2, 3, 4, 5]}"#, "[[1, 2], [3, 4], [5]]"),
        ("States.ArrayPartition($.a, 2147483647)", r#"{"a": [1]}"#, "[[1]]"),
        ("States.ArrayPartition($.a, 0)", r#"{"a": [1]}"#, "!Invalid arguments in States.ArrayPartition: the chunk size must be a positive integer, got 0"),
        ("States.ArrayPartition($.a, 0.49)", r#"{"a": [1]}"#, "!positive integer, got 0"),
        ("States.ArrayPartition($.a, -1)", r#"{"a": [1]}"#, "!positive integer, got -1"),
        ("States.ArrayPartition($.a, '2')", r#"{"a": [1]}"#, "!the second argument must be a number, got the string \"2\""),
        ("States.ArrayPartition('not-array', 2)", "{}", "!the first argument must be an array, got the string \"not-array\""),
        // States.ArrayContains: deep equality.
        ("States.ArrayContains($.inputArray, $.lookingFor)", r#"{"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5}"#, "true"),
        ("States.ArrayContains($.a, 5)", r#"{"a": [1, 2, 3]}"#, "false"),
        ("States.ArrayContains($.a, null)", r#"{"a": [1, null]}"#, "true"),
        ("States.ArrayContains($.a, $.t)", r#"{"a": [{"a": 1, "b": [2]}], "t": {"b": [2], "a": 1}}"#, "true"),
        ("States.ArrayContains($.a, $.t)", r#"{"a": [{"a": 1}], "t": {"a": 1, "extra": null}}"#, "false"),
        ("States.ArrayContains($.a, 1)", r#"{"a": [1.0]}"#, "true"),
        ("States.ArrayContains($.a, false)", r#"{"a": [0, "false"]}"#, "false"),
        ("States.ArrayContains(States.Array(1, 2, 3), 2)", "{}", "true"),
        ("States.ArrayContains('x', 'x')", "{}", "!Invalid arguments in States.ArrayContains: the first argument must be an array"),
        // States.ArrayRange: both ends included, at most 1000 items.
        ("States.ArrayRange(1, 9, 2)", "{}", "[1,3,5,7,9]"),
        ("States.ArrayRange(1, 5, 1)", "{}", "[1,2,3,4,5]"),
        ("States.ArrayRange(-2, 2, 2)", "{}", "[-2,0,2]"),
        ("States.ArrayRange(5, 1, -2)", "{}", "[5,3,1]"),
        ("States.ArrayRange(3, 3, -1)", "{}", "[3]"),
        ("States.ArrayRange(5, 1, 1)", "{}", "[]"),
        ("States.ArrayRange(1, 5, -1)", "{}", "[]"),
        ("States.ArrayRange(1.4, 5.6, 2.2)", "{}", "[1,3,5]"),
        ("States.ArrayRange(5.4, -0.6, -2.4)", "{}", "[5,3,1]"),
        ("States.ArrayRange(1, 10, 0)", "{}", "!Invalid arguments in States.ArrayRange: the step (third argument) must not be 0"),
        ("States.ArrayRange(1, 10, 0.49)", "{}", "!must not be 0"),
        ("States.ArrayRange(1, 1001, 1)", "{}", "!the range would have 1001 items; at most 1000 are allowed"),
        ("States.ArrayRange(1001, 1, -1)", "{}", "!the range would have 1001 items"),
        ("States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)", "{}", "!at most 1000 are allowed"),
        ("States.ArrayRange('a', 5, 1)", "{}", "!the first argument must be a number"),
        ("States.ArrayRange(1, 1e300, 1)", "{}", "!the second argument (1e+300) is too large"),
        ("States.ArrayRange(States.MathAdd($.base, 1), States.MathAdd($.base, 5), 2)", r#"{"base": 0}"#, "[1,3,5]"),
        ("States.ArrayRange($$.Execution.Input.start, $$.Execution.Input.end, 2)", r#"{"start": 2, "end": 6}"#, "[2,4,6]"),
        // States.ArrayGetItem.
        ("States.ArrayGetItem($.inputArray, $.index)", r#"{"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5}"#, "6"),
        ("States.ArrayGetItem($.a, 0)", r#"{"a": [null]}"#, "null"),
        ("States.ArrayGetItem($.a, 1.2)", r#"{"a": [10, 20, 30]}"#, "20"),
        ("States.ArrayGetItem(States.Array('x', 'y', 'z'), 1)", "{}", r#""y""#),
        ("States.ArrayGetItem($.a, 3)", r#"{"a": [10, 20, 30]}"#, "!Invalid arguments in States.ArrayGetItem: index 3 is out of bounds for an array of 3 item(s)"),
        ("States.ArrayGetItem($.a, -1)", r#"{"a": [10]}"#, "!index -1 is out of bounds"),
        ("States.ArrayGetItem($.a, 0)", r#"{"a": []}"#, "!index 0 is out of bounds for an array of 0 item(s)"),
        ("States.ArrayGetItem($.a, '1')", r#"{"a": [10]}"#, "!the second argument must be a number"),
        // States.ArrayLength.
        ("States.ArrayLength($.inputArray)", r#"{"inputArray": [1,2,3,4,5,6,7,8,9]}"#, "9"),
        ("States.ArrayLength(States.Array())", "{}", "0"),
        ("States.ArrayLength($.a)", r#"{"a": [[1], [2]]}"#, "2"),
        ("States.ArrayLength($.o)", r#"{"o": {"k": 1}}"#, "!Invalid arguments in States.ArrayLength: the first argument must be an array, got an object"),
        // States.ArrayUnique: first occurrences, in order.
        ("States.ArrayUnique($.inputArray)", r#"{"inputArray": [1,2,3,3,3,3,3,3,4]}"#, "[1,2,3,4]"),
        ("States.ArrayUnique($.a)", r#"{"a": [3, 1, 3, 2, 1]}"#, "[3, 1, 2]"),
        ("States.ArrayUnique($.a)", r#"{"a": [{"a": 1, "b": 2}, "1", 1, {"b": 2, "a": 1}, 1.0, null, null]}"#, r#"[{"a": 1, "b": 2}, "1", 1, null]"#),
        ("States.ArrayUnique($.a)", r#"{"a": [[1, [2]], [1, [2]], [[2], 1]]}"#, "[[1, [2]], [[2], 1]]"),
        ("States.ArrayUnique($.a)", r#"{"a": [1e19, 10000000000000000000, -0.0, 0, 0.5, 0.50]}"#, "[1e19, 0.0, 0.5]"),
        ("States.ArrayUnique('x')", "{}", "!Invalid arguments in States.ArrayUnique: the first argument must be an array"),
    ]);
}

#[test]
fn encodings_and_hashes() {
    let long = "a".repeat(10_000);
    let too_long = "a".repeat(10_001);
    let long_input = json!({"s": long}).to_string();
    let too_long_input = json!({"s": too_long}).to_string();
    let wide = json!({"s": "é".repeat(6_000)}).to_string(); // 12,000 bytes but 6,000 characters
    let accented = json!({"s": "é".repeat(3_000)}).to_string();
    check(&[
        ("States.Base64Encode($.input)", r#"{"input": "Data to encode"}"#, r#""RGF0YSB0byBlbmNvZGU=""#),
        ("States.Base64Encode('')", "{}", r#""""#),
        ("States.Base64Encode($.s)", r#"{"s": "こんにちは"}"#, r#""44GT44KT44Gr44Gh44Gv""#),
        ("States.Base64Encode('🚀')", "{}", r#""8J+agA==""#),
        ("States.Base64Encode(States.Format('{}-{}', $.a, $.b))", r#"{"a": "x", "b": "y"}"#, r#""eC15""#),
        ("States.Base64Encode($.s)", &too_long_input, "!Invalid arguments in States.Base64Encode: the first argument is 10001 characters long; at most 10000 are allowed"),
        ("States.Base64Encode(123)", "{}", "!the first argument must be a string, got the number 123"),
        // The AWS page says this decodes to "Decoded data"; it decodes to what its Base64Encode example encoded.
        ("States.Base64Decode($.base64)", r#"{"base64": "RGF0YSB0byBlbmNvZGU="}"#, r#""Data to encode""#),
        ("States.Base64Decode('')", "{}", r#""""#),
        ("States.Base64Decode('44GT44KT44Gr44Gh44Gv')", "{}", r#""こんにちは""#),
        ("States.Base64Decode('YWJjAGRlZg==')", "{}", r#""abc\u0000def""#),
        // MIME decoding is lenient, as on AWS: missing padding, stray characters, text after `=`.
        ("States.Base64Decode('YWJjZA')", "{}", r#""abcd""#),
        ("States.Base64Decode(' YWJj ZA== ')", "{}", r#""abcd""#),
        ("States.Base64Decode('aGk=aGk=')", "{}", r#""hi""#),
        ("States.Base64Decode('/w==')", "{}", r#""\ufffd""#),
        ("States.Base64Decode('a')", "{}", "!Invalid arguments in States.Base64Decode: the input is not Base64"),
        ("States.Base64Decode(States.Base64Encode($.s))", &accented, &accented[5..accented.len() - 1]),
        ("States.Base64Decode($.s)", &too_long_input, "!10001 characters long"),
        // Hash: the AWS page's example (the page prints the digest with one "4" missing).
        ("States.Hash($.Data, $.Algorithm)", r#"{"Data": "input data", "Algorithm": "SHA-1"}"#, r#""aaff4a450a104cd177d28d18d74485e8cae074b7""#),
        ("States.Hash('hello', 'MD5')", "{}", r#""5d41402abc4b2a76b9719d911017c592""#),
        ("States.Hash('hello', 'SHA-1')", "{}", r#""aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d""#),
        ("States.Hash('hello', 'SHA-256')", "{}", r#""2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824""#),
        ("States.Hash('hello', 'SHA-384')", "{}", r#""59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f""#),
        ("States.Hash('hello', 'SHA-512')", "{}", r#""9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043""#),
        ("States.Hash('', 'SHA-256')", "{}", r#""e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#),
        ("States.Hash($.s, 'SHA-256')", r#"{"s": "✓"}"#, r#""1dabba21cdad44541f6b15796f8d22978fc7ea10c46aeceeeeb66c23b3ac7604""#),
        ("States.Hash($.s, 'MD5')", r#"{"s": "Data to encode"}"#, r#""ca405671828a177e26947171bbe1e352""#),
        ("States.Hash($.s, 'SHA-256')", &wide, r#""363b6288fc7457e46ac9e754c8d3da06dbb0e4742af54a46e1de4558783fdb1e""#),
        ("States.Hash($.s, 'SHA-256')", &too_long_input, "!Invalid arguments in States.Hash: the first argument is 10001 characters long"),
        ("States.Hash('data', 'sha-256')", "{}", "!unsupported hash algorithm \"sha-256\"; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"),
        ("States.Hash('data', 'SHA256')", "{}", "!unsupported hash algorithm"),
        ("States.Hash('data', 'MD-5')", "{}", "!unsupported hash algorithm"),
        ("States.Hash('hello', 123)", "{}", "!the second argument must be a string"),
        ("States.Hash($.o, 'MD5')", r#"{"o": {}}"#, "!the first argument must be a string, got an object"),
    ]);
    assert_eq!(
        run("States.Hash($.s, 'SHA-256')", &long_input).map(|v| v.as_str().map(str::len)),
        Ok(Some(64))
    );
    // 12,000 bytes but 6,000 characters: within the limit; encoded, 16,000 characters: beyond it.
    let encoded = run("States.Base64Encode($.s)", &wide).unwrap();
    assert_eq!(encoded.as_str().map(str::len), Some(16_000));
    let err = run("States.Base64Decode(States.Base64Encode($.s))", &wide).unwrap_err();
    assert!(err.cause.contains("16000 characters long"), "{err:?}");
}

#[test]
fn math() {
    check(&[
        // MathAdd: the AWS page's example, then rounding half up like the service (Java).
        ("States.MathAdd($.value1, $.step)", r#"{"value1": 111, "step": -1}"#, "110"),
        ("States.MathAdd(-9, 3)", "{}", "-6"),
        ("States.MathAdd(1.49, 1.50)", "{}", "3"),
        ("States.MathAdd(0.5, 0)", "{}", "1"),
        ("States.MathAdd(2.5, 0)", "{}", "3"),
        ("States.MathAdd(-0.5, 0)", "{}", "0"),
        ("States.MathAdd(-1.5, 0)", "{}", "-1"),
        ("States.MathAdd(-1.51, 0)", "{}", "-2"),
        ("States.MathAdd(2147483647, 2147483647)", "{}", "4294967294"),
        ("States.MathAdd(2147483648, 0)", "{}", "!Invalid arguments in States.MathAdd: the first argument (2147483648) must be between -2147483648 and 2147483647"),
        ("States.MathAdd(0, -2147483649)", "{}", "!the second argument (-2147483649) must be between"),
        ("States.MathAdd($.a, 1)", r#"{"a": "NOT A NUMBER"}"#, "!Invalid arguments in States.MathAdd: the first argument must be a number, got the string \"NOT A NUMBER\""),
        ("States.MathAdd(null, 1)", "{}", "!the first argument must be a number, got null"),
        // MathRandom: failures only; results are checked in `math_random_stays_in_range`.
        ("States.MathRandom(1, 1)", "{}", "!Invalid arguments in States.MathRandom: the start (1) must be less than the end (1), which is excluded"),
        ("States.MathRandom(10, 5)", "{}", "!the start (10) must be less than the end (5)"),
        ("States.MathRandom(1.4, 1.6)", "{}", "!the start (1) must be less than the end (1)"),
        ("States.MathRandom('a', 10)", "{}", "!the first argument must be a number"),
        ("States.MathRandom(1, 10, null)", "{}", "!the third argument must be a number, got null"),
        ("States.MathRandom(1, 10, 'seed')", "{}", "!the third argument must be a number"),
    ]);
}

#[test]
fn math_random_stays_in_range() {
    for (expr, low, high) in [
        ("States.MathRandom($.start, $.end)", 1, 999),
        ("States.MathRandom(1.6, 5.4)", 1, 5),
        ("States.MathRandom(-5, 5, 42)", -5, 5),
        (
            "States.MathRandom(2147483640, 2147483647, 1)",
            2147483640,
            2147483647,
        ),
        ("States.MathRandom(0, 2, -10)", 0, 2),
    ] {
        for _ in 0..200 {
            let value = run(expr, r#"{"start": 1, "end": 999}"#)
                .unwrap()
                .as_i64()
                .unwrap();
            assert!((low..high).contains(&value), "{expr} gave {value}");
        }
    }
    // AWS: "If you use this function with the same seed value, it returns an identical number."
    let seeded = run(
        "States.Array(States.MathRandom(1, 1000000, 42), States.MathRandom(1, 1000000, 42))",
        "{}",
    )
    .unwrap();
    assert_eq!(seeded[0], seeded[1]);
    assert_eq!(run("States.MathRandom(0, 1)", "{}"), Ok(json!(0)));
}

#[test]
fn strings_and_uuids() {
    check(&[
        (
            "States.StringSplit($.inputString, $.splitter)",
            r#"{"inputString": "1,2,3,4,5", "splitter": ","}"#,
            r#"["1","2","3","4","5"]"#,
        ),
        // Several delimiter characters split on each of them (the AWS page's second example).
        (
            "States.StringSplit($.inputString, $.splitter)",
            r#"{"inputString": "This.is+a,test=string", "splitter": ".+,="}"#,
            r#"["This","is","a","test","string"]"#,
        ),
        ("States.StringSplit('a,,b,', ',')", "{}", r#"["a","b"]"#),
        ("States.StringSplit('', ',')", "{}", "[]"),
        ("States.StringSplit('abc', '')", "{}", r#"["abc"]"#),
        ("States.StringSplit('a→b→c', '→')", "{}", r#"["a","b","c"]"#),
        (
            "States.StringSplit(States.Format('{}-{}', 1, 2), '-')",
            "{}",
            r#"["1","2"]"#,
        ),
        (
            "States.StringSplit(123, ',')",
            "{}",
            "!Invalid arguments in States.StringSplit: the first argument must be a string",
        ),
        (
            "States.StringSplit('a', 1)",
            "{}",
            "!the second argument must be a string",
        ),
    ]);
    let uuid = run("States.UUID()", "{}").unwrap();
    let text = uuid.as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(text).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(text, text.to_lowercase());
    assert_ne!(run("States.UUID()", "{}").unwrap(), uuid);
}

#[test]
fn nested_calls_and_paths() {
    // The AWS page's example of nine nested functions has three `{}` but two values, against the
    // page's own rule ("There must be as many remaining arguments … as there are occurrences of
    // {}"), so it is refused; with two placeholders it runs.
    let nine = "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))";
    let err = parse(nine).unwrap_err();
    assert!(
        err.message.contains("3 `{}` placeholder(s) but 2 value(s)"),
        "{err}"
    );
    let expr = nine.replacen("'{}.{}.{}'", "'{}.{}'", 1);
    let input = r#"{"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/my-recipe/1.0.2"}}"#;
    assert_eq!(run(&expr, input), Ok(json!("1.0")));
    let call = parse(&expr).unwrap();
    assert_eq!(call.name(), "States.Format");
    assert_eq!(call.paths(), ["$.ImageRecipe.Arn"; 2]);

    let call = parse("States.Array($, $$.Execution.Id, States.Format('{}', $.a['b c']), $varName, $.x[?(@.y == 'a, b)')])").unwrap();
    assert_eq!(
        call.paths(),
        [
            "$",
            "$$.Execution.Id",
            "$.a['b c']",
            "$varName",
            "$.x[?(@.y == 'a, b)')]"
        ]
    );
    assert_eq!(
        parse("States.Array($.abc.['def ghi'], $.a[0])")
            .unwrap()
            .paths(),
        ["$.abc.['def ghi']", "$.a[0]"]
    );
    assert_eq!(parse("States.UUID()").unwrap().paths(), Vec::<&str>::new());

    // The resolver's own errors pass through unchanged.
    let err = run("States.ArrayLength(States.Array($.missing))", "{}").unwrap_err();
    assert_eq!(
        err,
        TaskError::new(
            "States.Runtime",
            "The JSONPath '$.missing' could not be found in the input"
        )
    );

    // The resolver sees each path's exact text, once per evaluation.
    let call = parse("States.Format('{} {}', $.a, States.JsonToString($$.b))").unwrap();
    let mut asked = Vec::new();
    let result = call.eval(&mut |path: &str| {
        asked.push(path.to_string());
        Ok(json!(path))
    });
    assert_eq!(result, Ok(json!("$.a \"$$.b\"")));
    assert_eq!(asked, ["$.a", "$$.b"]);
}

#[test]
fn syntax_errors() {
    // (expression, byte offset, fragment of the message)
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected an intrinsic function call"),
        ("$.a", 0, "expected an intrinsic function call"),
        ("States.Foo()", 0, "unknown intrinsic function `States.Foo`"),
        ("States.Formatt('x')", 0, "did you mean `States.Format`?"),
        (
            "states.format('x')",
            0,
            "unknown intrinsic function `states.format`",
        ),
        ("States.Array", 12, "expected `(` after `States.Array`"),
        ("States.Array(", 13, "expected an argument, found the end"),
        ("States.Array(1", 14, "`States.Array(` is not closed"),
        ("States.Array(1,)", 15, "expected an argument"),
        ("States.Array(,1)", 13, "expected an argument"),
        ("States.Array(1 2)", 15, "expected `,` or `)`"),
        ("States.Array(1) trailing", 16, "unexpected text after"),
        ("States.Array([1,2])", 13, "expected an argument"),
        (
            "States.Array(1.)",
            15,
            "expected digits after the decimal point",
        ),
        ("States.Array(.5)", 13, "expected an argument"),
        ("States.Array(01)", 13, "cannot start with 0"),
        ("States.Array(-)", 13, "expected digits"),
        ("States.Array(1e)", 15, "expected digits in the exponent"),
        ("States.Array(1e999)", 13, "out of range"),
        ("States.Array(True)", 13, "unexpected `True`"),
        ("States.Array('abc)", 13, "unterminated string literal"),
        (r"States.Array('a\nb')", 15, "must start one of the escapes"),
        (r"States.Array('a\')", 13, "unterminated string literal"),
        (
            "States.Array($.a[0)",
            16,
            "bracket in the path is not closed",
        ),
        ("States.Array($.a])", 16, "no matching `[`"),
        ("States.Array($.a['x)", 17, "unterminated quoted name"),
        (
            "States.ArrayRange(1, 5)",
            0,
            "`States.ArrayRange` takes 3 arguments, got 2",
        ),
        (
            "States.ArrayLength()",
            0,
            "`States.ArrayLength` takes 1 argument, got 0",
        ),
        (
            "States.ArrayGetItem($.a, 1, 2)",
            0,
            "takes 2 arguments, got 3",
        ),
        (
            "States.MathRandom(1)",
            0,
            "`States.MathRandom` takes 2 to 3 arguments, got 1",
        ),
        (
            "States.UUID(1)",
            0,
            "`States.UUID` takes 0 arguments, got 1",
        ),
        (
            "States.Format()",
            0,
            "`States.Format` takes at least 1 argument, got 0",
        ),
        (
            "States.Array(States.ArrayLength())",
            13,
            "takes 1 argument, got 0",
        ),
        (
            "States.Format('{} {}', $.a)",
            14,
            "the template has 2 `{}` placeholder(s) but 1 value(s)",
        ),
        (
            "States.Format('{}', 1, 2)",
            14,
            "has 1 `{}` placeholder(s) but 2 value(s)",
        ),
        ("States.Format('Hello {', $.a)", 21, "`{` without `}`"),
        ("States.Format('Hello {{}}', $.a)", 21, "`{` without `}`"),
        ("States.Format('}')", 15, "`}` without `{`"),
        ("States.Format('é}')", 17, "`}` without `{`"),
    ];
    for &(expr, offset, fragment) in cases {
        let err = parse(expr).expect_err(expr);
        assert_eq!(err.offset, offset, "{expr}: {err}");
        assert!(err.message.contains(fragment), "{expr}: {err}");
    }
    assert_eq!(
        parse("States.Nope()").unwrap_err().to_string(),
        "unknown intrinsic function `States.Nope` (at byte 0)"
    );
}

#[test]
fn nesting_is_limited_to_ten() {
    let nest = |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
    assert_eq!(run(&nest(10), "{}"), Ok(json!([[[[[[[[[[1]]]]]]]]]])));
    let err = parse(&nest(11)).unwrap_err();
    assert_eq!(err.offset, "States.Array(".len() * 10);
    assert!(err.message.contains("nest at most 10 deep"), "{err}");
    // Deep input is refused before it can exhaust the stack.
    assert!(parse(&nest(100_000)).is_err());
}

#[test]
fn whitespace_and_unicode_are_accepted() {
    check(&[
        (
            "  States.Array ( 'é' ,\t$.a\n)  ",
            r#"{"a": "ü"}"#,
            r#"["é", "ü"]"#,
        ),
        (
            "States.Format('{} – {}', 'ä', $.a)",
            r#"{"a": "日本"}"#,
            r#""ä – 日本""#,
        ),
    ]);
}

/// Random and truncated inputs never panic, in `parse` or (for what parses) in `eval`.
#[test]
fn never_panics() {
    let valid = [
        "States.Format('Hello {} \\{x\\} \\' \\\\', $.name)",
        "States.Array($.a['b, c'], $$.Execution.Id, -1.5e3, true, null, States.UUID())",
        "States.ArrayRange(States.MathAdd($.x, 1), 9, 2)",
        "States.JsonMerge($.a, States.StringToJson('{}'), false)",
        "States.Hash(States.Base64Decode(States.Base64Encode('é')), 'SHA-256')",
        "States.StringSplit(States.ArrayGetItem(States.ArrayPartition($.a[?(@.x == ')')], 2), 0), ',')",
    ];
    let mut inputs: Vec<String> = Vec::new();
    for expr in valid {
        parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        for end in (0..=expr.len()).filter(|&i| expr.is_char_boundary(i)) {
            inputs.push(expr[..end].to_string());
            inputs.push(expr[end..].to_string());
        }
    }
    let alphabet: Vec<char> =
        "States.FormatArrayRangeMathAddHashUUID(),'\\{}$@[]?.:=\"0123456789-+eE truefalsenull é\n"
            .chars()
            .collect();
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..20_000 {
        let len = rng.usize(0..48);
        let mut text: String = (0..len)
            .map(|_| alphabet[rng.usize(..alphabet.len())])
            .collect();
        if rng.bool() {
            text.insert_str(
                0,
                [
                    "States.Array(",
                    "States.Format(",
                    "States.MathRandom(",
                    "States.JsonMerge(",
                ][rng.usize(..4)],
            );
        }
        inputs.push(text);
    }
    let values = [
        json!(null),
        json!(1),
        json!(-2.5),
        json!("a{}b"),
        json!([1, [2]]),
        json!({"k": "v"}),
        json!(true),
        json!(1e300),
    ];
    for (i, text) in inputs.iter().enumerate() {
        if let Ok(call) = parse(text) {
            let value = values[i % values.len()].clone();
            let _ = call.eval(&mut |_| Ok(value.clone()));
            let _ = call.paths();
        }
    }
}
