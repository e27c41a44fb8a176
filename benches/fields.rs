//! The one-line `key=value` reports a child process prints for its
//! parent (`compare`'s `Report`, the scale runners' `Tally`).

/// ` error=WHY` for the first error, its white space made `_` so that it
/// stays one field; empty if there was none.
pub(crate) fn error_field(first_error: Option<&str>) -> String {
    first_error
        .map(|e| format!(" error={}", e.replace(char::is_whitespace, "_")))
        .unwrap_or_default()
}

/// The value of `key=` in `line`, if there.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}
