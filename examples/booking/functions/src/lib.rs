//! The booking example's functions (being written).
