//! The project's functions, served by flowctl-shim. Run as a Lambda (or by `flowctl invoke`,
//! through flowctl's local Lambda Runtime API) it serves the functions its unit hosts; run by
//! hand it is a small command-line tool: `describe` prints every function's input and output
//! JSON Schemas, `invoke BookFlight '{"trip": "t-1", "from": "LHR", "to": "Lisbon"}'` calls
//! one function.

mod trip;

use flowctl_shim::{Props, Registry};

/// Every function of the project, under the names the manifest (`flowctl.yaml`) gives them,
/// with the same `idempotent` flags.
fn registry() -> Registry {
    let props = |idempotent: bool, description: &str| Props {
        idempotent,
        description: Some(description.to_string()),
        ..Props::default()
    };
    Registry::new()
        .function_with(
            "BookFlight",
            trip::book_flight,
            props(true, "Holds a seat on a flight"),
        )
        .function_with(
            "CancelFlight",
            trip::cancel_flight,
            props(true, "Gives a held seat back"),
        )
        .function_with(
            "BookHotel",
            trip::book_hotel,
            props(true, "Holds a hotel room for some nights"),
        )
        .function_with(
            "CancelHotel",
            trip::cancel_hotel,
            props(true, "Gives a held room back"),
        )
        .function_with(
            "ChargeCard",
            trip::charge_card,
            Props {
                // The gateway's timeout comes before the charge is accepted (see
                // `charge_card`): retrying it cannot take the money twice.
                retry_safe: vec!["PaymentGatewayTimeout".to_string()],
                ..props(false, "Takes the trip's price from the card")
            },
        )
        .function_with(
            "SendConfirmation",
            trip::send_confirmation,
            props(true, "Tells one traveller what was booked"),
        )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    registry().run().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowctl_shim::Error;
    use serde_json::{json, Value};

    async fn call(name: &str, input: Value) -> Result<Value, Error> {
        registry().call(name, input).await
    }

    #[tokio::test]
    async fn a_trip_is_booked_step_by_step() {
        let flight = call(
            "BookFlight",
            json!({"trip": "t-1", "from": "LHR", "to": "Lisbon"}),
        )
        .await
        .unwrap();
        assert_eq!(flight["reference"], "FL-t-1");
        let hotel = call(
            "BookHotel",
            json!({"trip": "t-1", "city": "Lisbon", "nights": 3}),
        )
        .await
        .unwrap();
        assert_eq!(hotel["reference"], "HT-t-1");
        let payment = call("ChargeCard", json!({"trip": "t-1", "amount": 450.5}))
            .await
            .unwrap();
        assert_eq!(payment["transaction"], "TX-t-1-45050");
        let cancelled = call("CancelHotel", hotel).await.unwrap();
        assert_eq!(cancelled, json!({"reference": "HT-t-1", "cancelled": true}));
    }

    #[tokio::test]
    async fn failures_have_names_a_flow_can_match() {
        let error = |name: &'static str, input: Value| async move {
            call(name, input).await.unwrap_err().name().to_string()
        };
        let flight = json!({"trip": "t-2", "from": "LHR", "to": "Atlantis"});
        assert_eq!(error("BookFlight", flight).await, "NoSeats");
        let flight = json!({"trip": "busy-3", "from": "LHR", "to": "Lisbon"});
        assert_eq!(error("BookFlight", flight).await, "ServiceUnavailable");
        let hotel = json!({"trip": "t-4", "city": "Lisbon", "nights": 30});
        assert_eq!(error("BookHotel", hotel).await, "NoRooms");
        let payment = json!({"trip": "t-5", "amount": 9000});
        assert_eq!(error("ChargeCard", payment).await, "PaymentDeclined");
        let payment = json!({"trip": "flaky-6", "amount": 90});
        assert_eq!(error("ChargeCard", payment).await, "PaymentGatewayTimeout");
    }

    /// The functions registered here are exactly the manifest's.
    #[test]
    fn the_registry_serves_the_manifest_functions() {
        let registry = registry();
        assert_eq!(registry.problems(), Vec::<String>::new());
        let registered: Vec<String> = registry
            .describe()
            .functions
            .into_iter()
            .map(|f| f.name)
            .collect();
        let manifest = include_str!("../../flowctl.yaml");
        let declared: Vec<String> = manifest
            .split("\nfunctions:\n")
            .nth(1)
            .and_then(|rest| rest.split("\nflows:").next())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.strip_prefix("  ")?.strip_suffix(':'))
            .filter(|key| !key.starts_with(' '))
            .map(String::from)
            .collect();
        assert_eq!(registered, declared);
    }
}
