//! What every runner's `main` does around its runs: `--help`, its
//! settings, this binary's path, and the failures at the end.

use std::path::PathBuf;

/// `None` after printing `usage` for `--help`; else the settings `parse`
/// reads from `args` (an error followed by `usage`) and this binary, which
/// the runner starts again for each child.
pub(crate) fn start<S>(
    args: &[String],
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<S, String>,
) -> Result<Option<(S, PathBuf)>, String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        return Ok(None);
    }
    let settings = parse(args).map_err(|e| format!("{e}\n{usage}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    Ok(Some((settings, exe)))
}

/// Notes in `failures` that `what` had `errors` failed calls, and the
/// first one's error, if it had any.
pub(crate) fn note_errors(
    failures: &mut Vec<String>,
    what: &str,
    errors: u64,
    first_error: Option<&str>,
) {
    if errors > 0 {
        failures.push(format!(
            "{what}: {errors} failed calls ({})",
            first_error.unwrap_or("?")
        ));
    }
}

/// `Ok` if no run failed; else one error listing every failure.
pub(crate) fn failed(failures: &[String]) -> Result<(), String> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} runs failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}
