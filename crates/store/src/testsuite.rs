//! The conformance suite every backend runs (to be written).
