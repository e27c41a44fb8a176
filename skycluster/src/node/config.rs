//! The clustername file: which node listens where.
//!
//! Skynet users write it as Lua assignments, and skycluster reads the same
//! file:
//!
//! ```lua
//! -- clustername.lua
//! __nowaiting = false
//! game1 = "127.0.0.1:7001"
//! battle1 = "127.0.0.1:7002"
//! db = false        -- disabled: calls fail at once
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where a node is, as the config says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeAddr {
    /// `"host:port"`.
    At(String),
    /// `false`: the node is disabled; calls to it fail at once.
    Disabled,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeAddr::At(addr) => f.write_str(addr),
            NodeAddr::Disabled => f.write_str("false"),
        }
    }
}

/// The cluster's membership: node names, their addresses, and options.
///
/// Read from a clustername file with [`Config::load`] or built in code.
///
/// # Examples
///
/// ```
/// use skycluster::{Config, NodeAddr};
///
/// let config = Config::parse(
///     "game1 = \"127.0.0.1:7001\"\n-- the database is down for maintenance\ndb = false\n",
///     "clustername.lua",
/// )?;
/// assert_eq!(config.get("game1"), Some(&NodeAddr::At("127.0.0.1:7001".into())));
/// assert_eq!(config.get("db"), Some(&NodeAddr::Disabled));
/// assert!(!config.nowaiting());
///
/// let in_code = Config::new().with_node("battle1", "127.0.0.1:7002").with_nowaiting(true);
/// assert!(in_code.nowaiting());
/// # Ok::<(), skycluster::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    nodes: BTreeMap<String, NodeAddr>,
    nowaiting: Option<bool>,
    path: Option<PathBuf>,
}

/// One entry of a config: what `cluster.reload{...}` merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `name = "host:port"` or `name = false`.
    Node(String, NodeAddr),
    /// `__nowaiting = true|false`.
    NoWaiting(bool),
}

impl Config {
    /// An empty config: no nodes, `__nowaiting` off.
    pub fn new() -> Config {
        Config::default()
    }

    /// Reads a clustername file. [`Cluster::reload`](crate::Cluster::reload)
    /// reads the same file again.
    ///
    /// # Errors
    ///
    /// [`Error::ConfigRead`] when the file cannot be read, and
    /// [`Error::ConfigSyntax`], naming the file and line, for anything but
    /// assignments, comments and blank lines.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses clustername text; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// [`Error::ConfigSyntax`] naming `origin` and the line.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut config = Config::new();
        for entry in parse_entries(text, origin)? {
            config.apply(entry);
        }
        Ok(config)
    }

    /// Adds or replaces a node's address (`"host:port"`).
    pub fn with_node(mut self, name: impl Into<String>, addr: impl Into<String>) -> Config {
        self.nodes.insert(name.into(), NodeAddr::At(addr.into()));
        self
    }

    /// Marks a node disabled (`name = false`).
    pub fn with_disabled(mut self, name: impl Into<String>) -> Config {
        self.nodes.insert(name.into(), NodeAddr::Disabled);
        self
    }

    /// Sets `__nowaiting`: whether a call to a node missing from the config
    /// fails at once (`true`) or waits for a reload to supply it (`false`,
    /// Skynet's default).
    pub fn with_nowaiting(mut self, nowaiting: bool) -> Config {
        self.nowaiting = Some(nowaiting);
        self
    }

    /// A node's address, if the config has the node.
    pub fn get(&self, node: &str) -> Option<&NodeAddr> {
        self.nodes.get(node)
    }

    /// Every node, by name.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &NodeAddr)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether calls to missing nodes fail at once.
    pub fn nowaiting(&self) -> bool {
        self.nowaiting.unwrap_or(false)
    }

    /// The file this config was loaded from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Merges one entry, as `cluster.reload{...}` does: nothing is removed.
    pub(crate) fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Node(name, addr) => {
                self.nodes.insert(name, addr);
            }
            Entry::NoWaiting(on) => self.nowaiting = Some(on),
        }
    }

    /// The entries of this config, for merging into another.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self
            .nodes
            .iter()
            .map(|(k, v)| Entry::Node(k.clone(), v.clone()))
            .collect();
        if let Some(on) = self.nowaiting {
            entries.push(Entry::NoWaiting(on));
        }
        entries
    }
}

fn parse_entries(text: &str, origin: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let syntax = |reason: String| Error::ConfigSyntax {
            path: origin.to_owned(),
            line: index + 1,
            reason,
        };
        let line = strip_comment(raw).trim();
        let line = line.strip_suffix(';').unwrap_or(line).trim_end();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax(format!(
                "expected `name = \"host:port\"` or `name = false`, found `{line}`"
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        if !is_identifier(key) {
            return Err(syntax(format!("`{key}` is not a node name")));
        }
        if let Some(option) = key.strip_prefix("__") {
            let on = match value {
                "true" => true,
                "false" | "nil" => false,
                other => {
                    return Err(syntax(format!(
                        "option `{key}` must be true or false, found `{other}`"
                    )))
                }
            };
            match option {
                "nowaiting" => entries.push(Entry::NoWaiting(on)),
                _ => tracing::warn!(
                    file = origin,
                    line = index + 1,
                    "ignoring unknown option `{key}`"
                ),
            }
            continue;
        }
        let addr = if value == "false" {
            NodeAddr::Disabled
        } else {
            let addr = unquote(value).ok_or_else(|| {
                syntax(format!(
                    "the address of `{key}` must be a quoted \"host:port\" or false, found `{value}`"
                ))
            })?;
            check_host_port(addr).map_err(|reason| syntax(format!("node `{key}`: {reason}")))?;
            NodeAddr::At(addr.to_owned())
        };
        entries.push(Entry::Node(key.to_owned(), addr));
    }
    Ok(entries)
}

/// Drops a `--` comment that is not inside a string.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'-' && bytes.get(i + 1) == Some(&b'-') => return &line[..i],
            None => {}
        }
    }
    line
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> Option<&str> {
    let q = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = value.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains(q) && !inner.contains('\\')).then_some(inner)
}

/// Skynet splits the address at the last `:`; the port must be a number.
fn check_host_port(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("address `{addr}` is not host:port"));
    };
    if host.is_empty() {
        return Err(format!("address `{addr}` has no host"));
    }
    port.parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("address `{addr}` has an invalid port `{port}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_skynet_clustername_file() {
        let text = "\
-- nodes of the cluster
__nowaiting = true

game1 = \"127.0.0.1:7001\"   -- the lobby
battle1='127.0.0.1:7002';
db = false
";
        let config = Config::parse(text, "clustername.lua").unwrap();
        assert!(config.nowaiting());
        assert_eq!(
            config.get("battle1"),
            Some(&NodeAddr::At("127.0.0.1:7002".into()))
        );
        assert_eq!(config.get("db"), Some(&NodeAddr::Disabled));
        assert_eq!(config.nodes().count(), 3);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = Config::parse("a = \"1.2.3.4:1\"\nb = 42\n", "c.lua").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.lua:2:"), "{text}");
        assert!(text.contains("`b`"), "{text}");
        assert!(Config::parse("x = \"nohost\"", "c").is_err());
        assert!(Config::parse("x = \"h:99999\"", "c").is_err());
        assert!(Config::parse("1x = \"h:1\"", "c").is_err());
        assert!(Config::parse("print('hi')", "c").is_err());
    }

    #[test]
    fn comment_markers_inside_strings_are_kept() {
        let config = Config::parse("a = \"h--x:1\" -- note", "c").unwrap();
        assert_eq!(config.get("a"), Some(&NodeAddr::At("h--x:1".into())));
    }
}
