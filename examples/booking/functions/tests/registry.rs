//! The unit binary's real `describe` answer, asked as `flowctl build` asks it, is a document
//! flowctl's front-end reads (`flowctl_lang::registry::parse_describe`) with the same
//! properties and named types the registry declares in Rust.

use flowctl::build::registry::{self, Answer};
use flowctl_lang::registry::{parse_describe, Properties};
use std::path::Path;

#[test]
fn the_binarys_description_reads_back_with_the_same_properties_and_types() {
    let binary = Path::new(env!("CARGO_BIN_EXE_booking-functions"));
    let Answer::Described(document) = registry::describe(binary) else {
        panic!("{} does not describe itself", binary.display())
    };
    let read = parse_describe(&document).expect("flowctl reads the shim's document");
    let declared = booking_functions::registry().describe();

    let names: Vec<&str> = read.functions.iter().map(|f| f.name.as_str()).collect();
    let declared_names: Vec<&str> = declared.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, declared_names);
    for (read, declared) in read.functions.iter().zip(&declared.functions) {
        let props = &declared.properties;
        let expected = Properties {
            idempotent: props.idempotent,
            retry_safe: props.retry_safe.clone(),
            reads: props.reads.clone(),
            writes: props.writes.clone(),
            consistent_reads: props.consistent_reads.clone(),
            description: props.description.clone(),
        };
        assert_eq!(read.properties, expected, "{}", read.name);
        assert_eq!(read.input, declared.input, "{}", read.name);
        assert_eq!(read.output, declared.output, "{}", read.name);
    }
    let payment = read
        .functions
        .iter()
        .find(|f| f.name == "ProcessPayment")
        .unwrap();
    assert_eq!(payment.properties.retry_safe, ["PaymentGatewayTimeout"]);
    assert_eq!(read.types, declared.types);
    assert!(read.types.contains_key("BookingRequest"));
    assert_eq!(
        registry::registered(&document).unwrap(),
        declared_names,
        "the build's check reads the same names"
    );
}
