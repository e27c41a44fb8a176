//! `#[service]` end to end: typed calls between two nodes over TCP.
