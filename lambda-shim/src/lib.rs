//! flowctl-shim
