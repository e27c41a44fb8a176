//! Procedural macros for skycluster. Use them through the `skycluster` crate.
