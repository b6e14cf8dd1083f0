//! Fuzz target bodies, shared by cargo-fuzz and the corpus replay test (filled in with the parsers).
