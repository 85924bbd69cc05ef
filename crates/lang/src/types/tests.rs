//! Types read from schemas as schemars writes them, values validated with their pointers,
//! arguments assigned, and types written back.

use super::{assign, schema, validate, MismatchKind, Rest, Type, Types};
use serde_json::json;

/// A schemars-like schema of a struct with an `Option<u32>`, an enum behind a documented
/// field (`allOf: [{$ref}]`), a map and a list of structs.
fn reservation() -> serde_json::Value {
    json!({
        "title": "Reservation", "type": "object", "required": ["id", "status", "tags", "lines"],
        "properties": {
            "id": {"type": "string"},
            "room": {"type": ["integer", "null"], "format": "uint32"},
            "status": {"description": "…", "allOf": [{"$ref": "#/definitions/Availability"}]},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "lines": {"type": "array", "items": {"$ref": "#/definitions/Line"}},
            "at": {"type": "string", "format": "date-time"}
        },
        "additionalProperties": false,
        "definitions": {
            "Availability": {"type": "string", "enum": ["available", "unavailable"]},
            "Line": {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}}
        }
    })
}

#[test]
fn schemars_shapes_read_as_types() {
    let mut types = Types::default();
    let ty = schema::read(&reservation(), &mut types);
    assert_eq!(ty, Type::Named("Reservation".into()));
    let field = |name: &str| types.field(&ty, name).expect(name);
    assert_eq!(field("id"), (Type::string(), false));
    assert_eq!(
        field("room"),
        (Type::union([Type::Integer, Type::Null]), true)
    );
    assert_eq!(field("status").0, Type::Named("Availability".into()));
    assert_eq!(
        types.field(&field("tags").0, "any-key").expect("a map"),
        (Type::string(), true)
    );
    let line = types.items_of(&field("lines").0).expect("a list");
    assert_eq!(
        types.field(&line, "amount").expect("amount"),
        (Type::Number, false)
    );
    assert!(matches!(
        types.field(&ty, "roomm"),
        Err(super::FieldError::Unknown { .. })
    ));
    match types.resolve(&ty) {
        Type::Object(o) => assert_eq!(o.rest, Rest::Forbidden),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_definition_in_two_schemas_is_one_type() {
    let mut types = Types::default();
    let a = schema::read(&reservation(), &mut types);
    let b = schema::read(&reservation(), &mut types);
    assert_eq!(a, b);
    assert!(types.get("Availability_2").is_none());
}

#[test]
fn values_are_validated_with_their_pointers() {
    let mut types = Types::default();
    let ty = schema::read(&reservation(), &mut types);
    let value = json!({"id": 3, "status": "availble", "tags": {"a": 1}, "lines": [{"amount": "x"}], "extra": true});
    let problems: Vec<(String, String)> = validate(&value, &ty, &types)
        .into_iter()
        .map(|p| (p.pointer, p.message))
        .collect();
    let pointers: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        ["/id", "/lines/0/amount", "/status", "/tags/a", "/extra"],
        "{problems:#?}"
    );
    assert!(
        problems[2].1.contains("did you mean \"available\""),
        "{problems:#?}"
    );
    assert!(validate(
        &json!({"id": "r", "status": "available", "tags": {}, "lines": [], "room": null}),
        &ty,
        &types
    )
    .is_empty());
    let missing = validate(&json!({}), &ty, &types);
    assert_eq!(missing.len(), 4, "every required field: {missing:#?}");
}

#[test]
fn arguments_are_assigned_field_by_field() {
    let mut types = Types::default();
    let ty = schema::read(&reservation(), &mut types);
    let arg = Type::closed_object(
        [
            ("id".to_string(), Type::literal_string("r")),
            ("status".to_string(), Type::literal_string("gone")),
        ]
        .into(),
    );
    let kinds: Vec<MismatchKind> = assign(&arg, &ty, &types)
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, MismatchKind::NotInEnum { value, .. } if value == "gone")),
        "{kinds:#?}"
    );
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, MismatchKind::Missing { field, .. } if field == "tags")),
        "{kinds:#?}"
    );
    assert_eq!(assign(&ty, &ty, &types), []);
    assert_eq!(assign(&Type::Any, &ty, &types), [], "any passes");
    assert_eq!(
        assign(&Type::Number, &Type::Integer, &types).len(),
        1,
        "a number is not an integer"
    );
    assert_eq!(assign(&Type::Integer, &Type::Number, &types), []);
}

#[test]
fn a_written_schema_reads_back_as_the_same_type() {
    let mut types = Types::default();
    let ty = schema::read(&reservation(), &mut types);
    let written = schema::write(&ty, &types);
    assert_eq!(
        written["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    let mut again = Types::default();
    let back = schema::read(&written, &mut again);
    assert_eq!(again.resolve(&back), types.resolve(&ty));
}

#[test]
fn a_schema_that_refers_to_itself_is_a_named_recursive_type() {
    use super::{schema, Type, Types};
    let mut types = Types::default();
    let list = serde_json::json!({"title": "Node", "type": "object", "required": ["v"],
        "properties": {"v": {"type": "integer"}, "next": {"$ref": "#"}}});
    let ty = schema::read(&list, &mut types);
    assert_eq!(ty, Type::Named("Node".into()));
    let (next, optional) = types.field(&ty, "next").expect("a field");
    assert!(optional);
    assert_eq!(next, Type::Named("Node".into()));
    assert!(
        types.field(&next, "nxt").is_err(),
        "the recursion is typed, not any"
    );
}
