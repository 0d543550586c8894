//! The conformance suite every backend runs (being written).
