//! flowctl-shim: register plain async Rust functions over serde types, and serve them as a
//! flowctl unit on AWS Lambda, or describe and call them from the command line.
//!
//! ```no_run
//! use flowctl_shim::{Error, Props, Registry};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Charge { id: String, amount: f64 }
//! #[derive(Serialize, JsonSchema)]
//! struct Receipt { transaction: String }
//! /// What a flow that takes payments is started with.
//! #[derive(Deserialize, JsonSchema)]
//! struct Order { id: String, amount: f64 }
//!
//! async fn charge(input: Charge) -> Result<Receipt, Error> {
//!     if input.amount > 1000.0 {
//!         return Err(Error::new("PaymentDeclined", "over the card's limit"));
//!     }
//!     Ok(Receipt { transaction: format!("txn-{}", input.id) })
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     Registry::new()
//!         .function_with(
//!             "ProcessPayment",
//!             charge,
//!             Props {
//!                 // Raised only when the gateway refused the request: nothing was charged.
//!                 retry_safe: vec!["GatewayBusy".into()],
//!                 writes: vec!["payments".into()],
//!                 ..Props::default()
//!             },
//!         )
//!         .function_with("Refund", charge, Props { idempotent: true, ..Props::default() })
//!         .named_type::<Order>() // `describe` lists it under `types` as `Order`
//!         .run()
//!         .await;
//! }
//! ```
//!
//! [`Registry::run`] looks at how the process was started: with `describe` / `invoke`
//! arguments it is a command-line tool (see [`cli`]); under Lambda (`AWS_LAMBDA_RUNTIME_API`
//! set) it serves invocations through `lambda_runtime`, dispatching payloads as the
//! [`envelope`] module describes.

pub mod cli;
mod describe;
mod error;
#[cfg(feature = "subscriber")]
mod events;
mod serve;

pub use describe::{describe_schema, Description, FunctionDescription, Props};
/// The envelope format and the error type are `flowctl-protocol`'s, shared with flowctl's
/// compiler and engine (which must not depend on `lambda_runtime`).
pub use flowctl_protocol::{envelope, name_of_type, names, Error, FUNCTIONS_ENV};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::any::Any;
use std::collections::{btree_map, BTreeMap};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type BoxFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;
type Handler = Arc<dyn Fn(Value) -> BoxFuture + Send + Sync>;

struct Function {
    name: String,
    props: Props,
    input: Value,
    output: Value,
    handler: Handler,
}

/// The functions of one binary. Build it with [`Registry::function`], then [`Registry::run`]
/// it from `main`.
#[derive(Default)]
pub struct Registry {
    functions: Vec<Function>,
    /// The named types ([`Registry::named_type`]): name → JSON Schema.
    types: BTreeMap<String, Value>,
    /// The functions this process serves, when narrowed (by [`FUNCTIONS_ENV`] or
    /// [`Registry::serving`]); `None` serves all.
    served: Option<Vec<String>>,
    /// Mistakes made while registering (a duplicate or malformed name, a property that
    /// contradicts itself); `run` reports them instead of starting.
    problems: Vec<String>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `f` under `name` (a manifest function key: `ReserveAvailability`,
    /// `payments.Charge`) with default properties.
    pub fn function<F, Fut, In, Out>(self, name: impl Into<String>, f: F) -> Registry
    where
        F: Fn(In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, Error>> + Send + 'static,
        In: DeserializeOwned + JsonSchema + 'static,
        Out: Serialize + JsonSchema + 'static,
    {
        self.function_with(name, f, Props::default())
    }

    /// Registers `f` under `name` with the given properties
    /// (`Props { idempotent: true, ..Props::default() }`).
    pub fn function_with<F, Fut, In, Out>(
        mut self,
        name: impl Into<String>,
        f: F,
        props: Props,
    ) -> Registry
    where
        F: Fn(In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, Error>> + Send + 'static,
        In: DeserializeOwned + JsonSchema + 'static,
        Out: Serialize + JsonSchema + 'static,
    {
        let name = name.into();
        if !is_function_name(&name) {
            self.problems.push(format!(
                "`{name}` cannot name a function: use a manifest function key, letters, digits \
                 and `_`, namespaced with `.` (`ReserveAvailability`, `payments.Charge`)"
            ));
            return self;
        }
        if self.find(&name).is_some() {
            self.problems
                .push(format!("the function `{name}` is registered twice"));
            return self;
        }
        self.problems.extend(props_problems(&name, &props));
        let label = name.clone();
        let handler: Handler = Arc::new(move |payload: Value| -> BoxFuture {
            let input: In = match serde_json::from_value(payload) {
                Ok(input) => input,
                Err(error) => {
                    let error = Error::new(
                        names::INVALID_INPUT,
                        format!("the input of {label} does not fit its type: {error}"),
                    );
                    return Box::pin(std::future::ready(Err(error)));
                }
            };
            let running = f(input);
            let label = label.clone();
            Box::pin(async move {
                let output = running.await?;
                serde_json::to_value(output).map_err(|error| {
                    Error::new(
                        names::INVALID_OUTPUT,
                        format!("the output of {label} cannot be written as JSON: {error}"),
                    )
                })
            })
        });
        self.functions.push(Function {
            name,
            props,
            input: describe::schema_of::<In>(),
            output: describe::schema_of::<Out>(),
            handler,
        });
        self
    }

    /// Registers `T`'s JSON Schema (draft-07) as a named type, under `T`'s schema name (the
    /// type's name for a plain struct or enum: `.named_type::<BookingRequest>()` is
    /// `BookingRequest`). `describe` lists it under `types`, and a flow may declare its
    /// input with it (`flow Booking(input: BookingRequest)`). A name registered twice is a
    /// registration mistake, as a function's is.
    pub fn named_type<T: JsonSchema>(mut self) -> Registry {
        let name = T::schema_name();
        if !is_type_name(&name) {
            self.problems.push(format!(
                "`{name}` cannot name a type: a flow names it after `input:`, so it must be an \
                 identifier (letters, digits and `_`; give the type a `#[schemars(rename = …)]`)"
            ));
            return self;
        }
        match self.types.entry(name) {
            btree_map::Entry::Occupied(entry) => self
                .problems
                .push(format!("the type `{}` is registered twice", entry.key())),
            btree_map::Entry::Vacant(entry) => {
                entry.insert(describe::schema_of::<T>());
            }
        }
        self
    }

    /// Narrows the functions this process serves (what [`FUNCTIONS_ENV`] does under Lambda):
    /// with one, payloads are that function's bare input; with several, envelopes.
    pub fn serving<I, S>(mut self, names: I) -> Registry
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut served: Vec<String> = Vec::new();
        for name in names {
            let name = name.into();
            if !served.contains(&name) {
                served.push(name);
            }
        }
        self.served = Some(served);
        self
    }

    /// The registration mistakes and the served names that are not registered; empty when
    /// the registry can run.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        if let Some(served) = &self.served {
            for name in served {
                if self.find(name).is_none() {
                    problems.push(format!(
                        "{FUNCTIONS_ENV} names `{name}`, which is not registered (registered: {})",
                        list(self.functions.iter().map(|f| f.name.as_str()))
                    ));
                }
            }
            if served.is_empty() {
                problems.push("this process serves no function".to_string());
            }
        }
        if self.functions.is_empty() {
            problems.push("no function is registered".to_string());
        }
        problems
    }

    /// The names this process serves, in order.
    pub fn served(&self) -> Vec<&str> {
        match &self.served {
            Some(names) => names
                .iter()
                .filter_map(|name| self.find(name))
                .map(|f| f.name.as_str())
                .collect(),
            None => self.functions.iter().map(|f| f.name.as_str()).collect(),
        }
    }

    /// The registry as data (what `describe` prints): every registered function, whatever
    /// this process serves, and the named types.
    pub fn describe(&self) -> Description {
        Description {
            shim: "flowctl-shim".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: envelope::PROTOCOL,
            functions: self
                .functions
                .iter()
                .map(|f| FunctionDescription {
                    name: f.name.clone(),
                    properties: f.props.clone(),
                    input: f.input.clone(),
                    output: f.output.clone(),
                })
                .collect(),
            types: self.types.clone(),
        }
    }

    /// Calls one registered function with its bare input (served or not): what `invoke`
    /// does, and what an in-process invoker can use. A panic becomes a `Panic` error.
    pub async fn call(&self, name: &str, input: Value) -> Result<Value, Error> {
        let names = self.functions.iter().map(|f| f.name.as_str());
        match self.find(name) {
            Some(function) => run_caught(function, input).await,
            None => Err(not_found(name, names)),
        }
    }

    /// Handles one Lambda payload the way the unit does: a process serving one function
    /// takes its bare input; one serving several takes a call or chain envelope.
    pub async fn handle(&self, payload: Value) -> Result<Value, Error> {
        let served: Vec<&Function> = self
            .served()
            .into_iter()
            .filter_map(|name| self.find(name))
            .collect();
        match served.as_slice() {
            [] => Err(Error::new(
                names::FUNCTION_NOT_FOUND,
                "this process serves no function",
            )),
            [only] => run_caught(only, payload).await,
            _ => match envelope::parse(payload)? {
                envelope::Request::Call { function, payload } => {
                    let function = find_served(&served, &function)?;
                    run_caught(function, payload).await
                }
                envelope::Request::Chain(chain) => run_chain(&served, chain).await,
            },
        }
    }

    /// Runs the program: `describe` / `invoke` from the command line, or under Lambda
    /// (`AWS_LAMBDA_RUNTIME_API` set) serves invocations until the runtime stops it. Exits
    /// the process with the command's status when it is not 0.
    pub async fn run(self) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let code = self.run_with(&args).await;
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        if code != 0 {
            std::process::exit(code);
        }
    }

    /// [`Registry::run`] with explicit arguments (without the program name); returns the
    /// exit status.
    pub async fn run_with(mut self, args: &[String]) -> i32 {
        if let Ok(list) = std::env::var(FUNCTIONS_ENV) {
            let names = parse_function_list(&list);
            if !names.is_empty() {
                self = self.serving(names);
            }
        }
        let is_command = args
            .first()
            .is_some_and(|a| cli::COMMANDS.contains(&a.as_str()));
        if !is_command && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return match serve::serve(self).await {
                Ok(()) => 0,
                Err(message) => {
                    eprintln!("flowctl-shim: {message}");
                    1
                }
            };
        }
        let outcome = cli::main(&self, args, &mut std::io::stdin()).await;
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
        let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
        outcome.code
    }

    fn find(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// `A, B,C` → `["A", "B", "C"]`; blanks are dropped.
pub fn parse_function_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Name` or `namespace.Name`: identifiers joined by dots, as manifest function keys are.
fn is_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// A named type's name: an identifier.
fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What is wrong with a function's properties: a blank error or store name, a name listed
/// twice, a consistent read of a store the function does not say it reads.
fn props_problems(function: &str, props: &Props) -> Vec<String> {
    let mut problems = Vec::new();
    let lists = [
        ("retry_safe", "an error", &props.retry_safe),
        ("reads", "a store", &props.reads),
        ("writes", "a store", &props.writes),
        ("consistent_reads", "a store", &props.consistent_reads),
    ];
    for (field, what, names) in lists {
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                problems.push(format!(
                    "the `{field}` of `{function}` has a blank entry: each names {what}"
                ));
            } else if names[..i].contains(name) {
                problems.push(format!(
                    "the `{field}` of `{function}` lists `{name}` twice"
                ));
            }
        }
    }
    for store in &props.consistent_reads {
        if !store.trim().is_empty() && !props.reads.contains(store) {
            problems.push(format!(
                "`{function}` reads `{store}` consistently (`consistent_reads`) but does not list \
                 it in `reads`: add it there"
            ));
        }
    }
    problems
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn not_found<'a>(name: &str, served: impl Iterator<Item = &'a str>) -> Error {
    Error::new(
        names::FUNCTION_NOT_FOUND,
        format!(
            "no function `{name}` here; this process serves {}",
            list(served)
        ),
    )
}

fn find_served<'f>(served: &[&'f Function], name: &str) -> Result<&'f Function, Error> {
    served
        .iter()
        .copied()
        .find(|f| f.name == name)
        .ok_or_else(|| not_found(name, served.iter().map(|f| f.name.as_str())))
}

/// Runs a chain on the functions this process serves.
async fn run_chain(served: &[&Function], chain: envelope::Chain) -> Result<Value, Error> {
    envelope::run_chain(
        chain,
        |name| find_served(served, name).map(|_| ()),
        |name, input| {
            let function = find_served(served, name);
            async move { run_caught(function?, input).await }
        },
    )
    .await
}

/// Calls a function; a panic while building or polling its future becomes a `Panic` error
/// (the process goes on serving, as `lambda_runtime` does after a panic).
async fn run_caught(function: &Function, input: Value) -> Result<Value, Error> {
    let started = catch_unwind(AssertUnwindSafe(|| (function.handler)(input)));
    match started {
        Ok(future) => {
            CatchUnwind {
                future,
                function: &function.name,
            }
            .await
        }
        Err(payload) => Err(panic_error(&function.name, payload.as_ref())),
    }
}

struct CatchUnwind<'a> {
    future: BoxFuture,
    function: &'a str,
}

impl Future for CatchUnwind<'_> {
    type Output = Result<Value, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            // The future is not polled again after this.
            Err(payload) => Poll::Ready(Err(panic_error(this.function, payload.as_ref()))),
        }
    }
}

/// `Panic`, with the panic's message: `lambda_runtime` would report the payload's Rust type
/// (`alloc::boxed::Box<dyn core::any::Any + core::marker::Send>`) as the `errorType`, which no
/// flow can sensibly match, and `Lambda panicked: …` as the message.
fn panic_error(function: &str, payload: &(dyn Any + Send)) -> Error {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        format!("{function} panicked: {text}")
    } else if let Some(text) = payload.downcast_ref::<String>() {
        format!("{function} panicked: {text}")
    } else {
        format!("{function} panicked")
    };
    Error::new(names::PANIC, message)
}

#[cfg(test)]
mod tests;
