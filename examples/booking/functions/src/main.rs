//! The booking example's unit binary.
fn main() {}
