//! The sources: each turns its kind of change into `Incoming` messages for the `Intake`.
