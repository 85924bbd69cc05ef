//! A small registry the shim's tests run as a real process: through its command line
//! (`describe`, `invoke`) and under a stand-in Lambda Runtime API.

use flowctl_shim::{Error, Props, Registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct Pair {
    a: i64,
    b: i64,
}

#[derive(Serialize, JsonSchema)]
struct Sum {
    sum: i64,
}

async fn add(pair: Pair) -> Result<Sum, Error> {
    Ok(Sum {
        sum: pair.a + pair.b,
    })
}

/// Fails with the error it is given: `{"name": "PaymentDeclined", "message": "…"}`.
#[derive(Deserialize, JsonSchema)]
struct Failure {
    name: String,
    message: String,
}

async fn fail(failure: Failure) -> Result<(), Error> {
    Err(Error::new(failure.name, failure.message))
}

async fn explode(message: String) -> Result<(), Error> {
    panic!("{message}")
}

async fn parse(text: String) -> Result<i64, Error> {
    Ok(text.trim().parse::<i64>()?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    Registry::new()
        .function_with(
            "Add",
            add,
            Props {
                idempotent: true,
                description: Some("Adds two integers".into()),
                ..Props::default()
            },
        )
        .function("Fail", fail)
        .function("Explode", explode)
        .function("Parse", parse)
        .named_type::<Pair>()
        .run()
        .await;
}
