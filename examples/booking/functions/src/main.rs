//! The booking example's unit binary: every function of the example, served by flowctl-shim
//! (`describe`, `invoke NAME JSON`, or under Lambda the functions named by `FLOWCTL_FUNCTIONS`).

#[tokio::main(flavor = "current_thread")]
async fn main() {
    booking_functions::registry().run().await;
}
