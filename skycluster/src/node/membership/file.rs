//! The clustername file as a membership's output: a membership written in
//! the form Skynet reads, so that Lua nodes can `cluster.reload` from
//! what etcd says.

use std::io::Write;
use std::path::Path;

use crate::node::config::Config;
use crate::{Error, Result};

impl Config {
    /// This config as clustername text, the form Skynet runs and
    /// [`Config::parse`] reads: `__nowaiting` if set, then one
    /// `name = "host:port"` (or `name = false`) line per node, sorted.
    ///
    /// A node whose name is not a Lua identifier cannot be a global in a
    /// clustername file: it is left out, with a comment saying so.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::Config;
    ///
    /// let config = Config::new()
    ///     .with_node("game1", "127.0.0.1:7001")
    ///     .with_disabled("db")
    ///     .with_nowaiting(true);
    /// let text = config.to_clustername();
    /// assert_eq!(
    ///     text,
    ///     "__nowaiting = true\ndb = false\ngame1 = \"127.0.0.1:7001\"\n"
    /// );
    /// assert_eq!(Config::parse(&text, "exported")?, config);
    /// # Ok::<(), skycluster::Error>(())
    /// ```
    pub fn to_clustername(&self) -> String {
        let mut text = String::new();
        if self.nowaiting() {
            text.push_str("__nowaiting = true\n");
        }
        for (name, addr) in self.nodes() {
            if !is_lua_name(name) {
                text.push_str(&format!(
                    "-- skipped {name:?}: not a Lua identifier, so not a clustername global\n"
                ));
                continue;
            }
            match addr {
                crate::NodeAddr::At(addr) => match lua_string(addr) {
                    Some(literal) => text.push_str(&format!("{name} = {literal}\n")),
                    None => text.push_str(&format!(
                        "-- skipped {name}: its address {addr:?} is not printable ASCII\n"
                    )),
                },
                crate::NodeAddr::Disabled => text.push_str(&format!("{name} = false\n")),
            }
        }
        text
    }

    /// Writes [`Config::to_clustername`] to `path`, whole or not at all: a
    /// node reloading from it never reads half a file (written beside it,
    /// then renamed over it).
    ///
    /// # Errors
    ///
    /// [`Error::ConfigRead`] naming the file when it cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::Config;
    ///
    /// let path = std::env::temp_dir().join(format!("clustername-doc-{}.lua", std::process::id()));
    /// Config::new().with_node("game1", "127.0.0.1:7001").write_clustername(&path)?;
    /// let back = Config::load(&path)?;
    /// assert_eq!(back.nodes().count(), 1);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), skycluster::Error>(())
    /// ```
    pub fn write_clustername(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let error = |source| Error::ConfigRead {
            path: path.display().to_string(),
            source,
        };
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = Path::new(&tmp_name);
        let written = std::fs::File::create(tmp).and_then(|mut f| {
            f.write_all(self.to_clustername().as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(tmp, path)) {
            let _ = std::fs::remove_file(tmp);
            return Err(error(e));
        }
        Ok(())
    }
}

/// A Lua identifier that is not a keyword: what a global may be named.
fn is_lua_name(name: &str) -> bool {
    const KEYWORDS: [&str; 22] = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
        "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ];
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// A Lua string literal, quoted, with `\` and `"` escaped; `None` for a
/// string with bytes outside printable ASCII (no address has them).
fn lua_string(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => return None,
        }
    }
    out.push('"');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_lua_globals_are_left_out() {
        let config = Config::new()
            .with_node("game-1", "127.0.0.1:1")
            .with_node("end", "127.0.0.1:2")
            .with_node("ok_1", "127.0.0.1:3");
        let text = config.to_clustername();
        let back = Config::parse(&text, "t").expect("readable");
        assert_eq!(back.nodes().map(|(n, _)| n).collect::<Vec<_>>(), ["ok_1"]);
        assert!(text.contains("skipped \"game-1\""), "{text}");
    }
}
