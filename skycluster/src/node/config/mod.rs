//! The clustername file: which node listens where.
//!
//! Skynet runs it as a Lua chunk whose globals are the config; skycluster
//! reads the same files, in the subset of Lua they are written in (see
//! `chunk` for exactly which, and the error for anything else):
//!
//! ```lua
//! -- clustername.lua
//! __nowaiting = false
//! local host = "127.0.0.1"
//! game1 = host .. ":7001"
//! battle1 = "127.0.0.1:7002"
//! db = false        -- disabled: calls fail at once
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

mod chunk;

use chunk::{Global, Value};

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
    /// [`Error::ConfigSyntax`], naming the file and line, for anything
    /// outside the subset of Lua clustername files are written in:
    /// `name = value` and `local name = value`, with strings, integers,
    /// `true`, `false`, `nil`, names assigned before and `..`.
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

    /// Removes a node: what a membership source that lost it does (a
    /// clustername file cannot remove one).
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn remove(&mut self, node: &str) -> Option<NodeAddr> {
        self.nodes.remove(node)
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
    let syntax = |line: usize, reason: String| Error::ConfigSyntax {
        path: origin.to_owned(),
        line,
        reason,
    };
    let globals = chunk::run(text).map_err(|e| syntax(e.line, e.reason))?;
    let mut entries = Vec::new();
    for Global { name, value, line } in globals {
        if let Some(option) = name.strip_prefix("__") {
            let on = match value {
                Value::Bool(on) => on,
                Value::Nil => false,
                other => {
                    return Err(syntax(
                        line,
                        format!("option `{name}` must be true or false, found {other}"),
                    ))
                }
            };
            match option {
                "nowaiting" => entries.push(Entry::NoWaiting(on)),
                _ => tracing::warn!(file = origin, line, "ignoring unknown option `{name}`"),
            }
            continue;
        }
        let addr = match value {
            Value::Bool(false) => NodeAddr::Disabled,
            Value::Str(addr) => {
                check_host_port(&addr).map_err(|reason| syntax(line, format!("node `{name}`: {reason}")))?;
                NodeAddr::At(addr)
            }
            // Skynet's environment simply has no such node.
            Value::Nil => continue,
            other => {
                return Err(syntax(
                    line,
                    format!(
                        "the address of `{name}` must be a \"host:port\" string or false, found {other}"
                    ),
                ))
            }
        };
        entries.push(Entry::Node(name, addr));
    }
    Ok(entries)
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
    fn locals_and_concatenation_are_read_as_skynet_runs_them() {
        let text = "local host = '127.0.0.1'\ngame1 = host .. ':7001'\nghost = nil\n";
        let config = Config::parse(text, "c.lua").unwrap();
        assert_eq!(
            config.get("game1"),
            Some(&NodeAddr::At("127.0.0.1:7001".into()))
        );
        // A local is no node, and a nil global is none either.
        assert_eq!(config.get("host"), None);
        assert_eq!(config.nodes().count(), 1);
        let err = Config::parse("a = 'h:1'\nb = os.getenv('B')\n", "c.lua").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("c.lua:2: a field or method is not supported"),
            "{text}"
        );
        let err = Config::parse("n = 7001\n", "c.lua")
            .unwrap_err()
            .to_string();
        assert!(err.contains("found the number 7001"), "{err}");
    }

    #[test]
    fn comment_markers_inside_strings_are_kept() {
        let config = Config::parse("a = \"h--x:1\" -- note", "c").unwrap();
        assert_eq!(config.get("a"), Some(&NodeAddr::At("h--x:1".into())));
    }
}
