//! The clustername file as Skynet reads it: a Lua chunk run in an empty
//! environment, whose globals are the config. This reads the subset of Lua
//! such files are written in, and says so of anything else:
//!
//! * statements: `name = value` (a global: a node, or an `__option`) and
//!   `local name = value`, separated by newlines, `;` or nothing;
//! * values: strings (`"..."` or `'...'`, with the usual escapes),
//!   integers, `true`, `false`, `nil`, a name assigned before, `( ... )`,
//!   and `..` concatenation of strings and integers;
//! * comments: `-- line` and `--[[ block ]]`.
//!
//! Anything else (function calls, tables, arithmetic, `if`, long strings)
//! is refused with an error naming the line and the construct. Skynet's
//! environment is empty too, so `os.getenv` and friends fail there as well.

use std::collections::HashMap;

/// A global the chunk assigned, in order, with the line it was set on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Global {
    pub(super) name: String,
    pub(super) value: Value,
    pub(super) line: usize,
}

/// A value of the subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Nil,
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(s) => write!(f, "the string {s:?}"),
            Value::Int(n) => write!(f, "the number {n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Nil => f.write_str("nil"),
        }
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Nil => "nil",
        }
    }
}

/// Why the chunk cannot be read, and on which line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ChunkError {
    pub(super) line: usize,
    pub(super) reason: String,
}

/// Runs `text` and returns the globals it assigned, last assignment of
/// each name winning (a name assigned twice is listed once, at its last
/// line).
pub(super) fn run(text: &str) -> Result<Vec<Global>, ChunkError> {
    let tokens = tokenize(text)?;
    let mut reader = Reader {
        tokens: &tokens,
        at: 0,
        locals: HashMap::new(),
        globals: Vec::new(),
    };
    while reader.peek().is_some() {
        reader.statement()?;
    }
    Ok(reader.globals)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    /// `=`, `..`, `;`, `(`, `)`.
    Punct(&'static str),
    /// Something outside the subset, already described.
    Unsupported(String),
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "for", "function", "goto", "if", "in", "not",
    "or", "repeat", "return", "then", "until", "while",
];

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ChunkError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let fail = |line, reason: String| ChunkError { line, reason };
    while let Some(&b) = bytes.get(i) {
        let start_line = line;
        match b {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                if text[i + 2..].starts_with("[[") {
                    let end = text[i + 4..]
                        .find("]]")
                        .ok_or_else(|| fail(line, "a `--[[` comment is not closed".into()))?;
                    line += text[i..i + 4 + end].matches('\n').count();
                    i += 4 + end + 2;
                } else {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                }
            }
            b'"' | b'\'' => {
                let (value, used) = string(&text[i..]).map_err(|reason| fail(line, reason))?;
                tokens.push((Tok::Str(value), start_line));
                i += used;
            }
            b'0'..=b'9' => {
                let end = text[i..]
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                    .map_or(bytes.len(), |n| i + n);
                let literal = &text[i..end];
                let token = literal.parse().map(Tok::Int).unwrap_or_else(|_| {
                    Tok::Unsupported(format!("the number `{literal}` (only integers are)"))
                });
                tokens.push((token, start_line));
                i = end;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = text[i..]
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .map_or(bytes.len(), |n| i + n);
                let word = &text[i..end];
                let token = if KEYWORDS.contains(&word) {
                    Tok::Unsupported(format!("the keyword `{word}`"))
                } else {
                    Tok::Name(word.to_owned())
                };
                tokens.push((token, start_line));
                i = end;
            }
            _ => {
                let punct = ["..", "=", ";", "(", ")"]
                    .into_iter()
                    .find(|p| text[i..].starts_with(p));
                let (token, used) = match punct {
                    Some(p) => (Tok::Punct(p), p.len()),
                    None => {
                        let c = text[i..].chars().next().unwrap_or('?');
                        let what = match c {
                            '{' | '}' => "a table".to_owned(),
                            '[' => "a long string or an index".to_owned(),
                            '+' | '-' | '*' | '/' | '%' | '^' => "arithmetic".to_owned(),
                            '.' | ':' => "a field or method".to_owned(),
                            ',' => "a list of names or values".to_owned(),
                            _ => format!("`{c}`"),
                        };
                        (Tok::Unsupported(what), c.len_utf8())
                    }
                };
                tokens.push((token, start_line));
                i += used;
            }
        }
    }
    Ok(tokens)
}

/// A quoted string at the start of `text`: its value and the bytes it
/// took, quotes included.
fn string(text: &str) -> Result<(String, usize), String> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next().ok_or("expected a string")?;
    let mut value = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((value, at + c.len_utf8())),
            '\n' => break,
            '\\' => {
                let escaped = match chars.next().map(|(_, c)| c) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(c @ ('\\' | '"' | '\'')) => c,
                    Some(c) => return Err(format!("the escape `\\{c}` in a string")),
                    None => break,
                };
                value.push(escaped);
            }
            c => value.push(c),
        }
    }
    Err("a string is not closed on its line".to_owned())
}

struct Reader<'t> {
    tokens: &'t [(Tok, usize)],
    at: usize,
    locals: HashMap<String, Value>,
    globals: Vec<Global>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<&(Tok, usize)> {
        self.tokens.get(self.at)
    }

    fn line(&self) -> usize {
        self.peek()
            .or_else(|| self.tokens.last())
            .map_or(1, |(_, line)| *line)
    }

    fn fail<T>(&self, reason: impl Into<String>) -> Result<T, ChunkError> {
        Err(ChunkError {
            line: self.line(),
            reason: reason.into(),
        })
    }

    fn unsupported<T>(&self, what: &str) -> Result<T, ChunkError> {
        self.fail(format!(
            "{what} is not supported in a clustername file (only `name = value`, `local name = \
             value`, strings, integers, true, false, nil and `..`)"
        ))
    }

    fn next(&mut self) -> Option<Tok> {
        let token = self.tokens.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        token
    }

    fn statement(&mut self) -> Result<(), ChunkError> {
        let line = self.line();
        let (local, name) = match self.next() {
            Some(Tok::Punct(";")) => return Ok(()),
            Some(Tok::Name(word)) if word == "local" => match self.next() {
                Some(Tok::Name(name)) => (true, name),
                _ => {
                    self.at -= 1;
                    return self.fail("expected a name after `local`");
                }
            },
            Some(Tok::Name(name)) => (false, name),
            Some(Tok::Unsupported(what)) => {
                self.at -= 1;
                return self.unsupported(&what);
            }
            _ => {
                self.at -= 1;
                return self.fail("expected `name = value`");
            }
        };
        match self.next() {
            Some(Tok::Punct("=")) => {}
            Some(Tok::Punct("(")) | Some(Tok::Str(_)) => {
                self.at -= 1;
                return self.unsupported(&format!("calling `{name}`"));
            }
            Some(Tok::Unsupported(what)) => {
                self.at -= 1;
                return self.unsupported(&what);
            }
            _ => {
                self.at -= 1;
                return self.fail(format!("expected `=` after `{name}`"));
            }
        }
        let value = self.expression()?;
        if local {
            self.locals.insert(name, value);
        } else {
            self.globals.retain(|g| g.name != name);
            self.globals.push(Global { name, value, line });
        }
        Ok(())
    }

    /// `term { .. term }`.
    fn expression(&mut self) -> Result<Value, ChunkError> {
        let first = self.term()?;
        if self.peek().map(|(t, _)| t) != Some(&Tok::Punct("..")) {
            return Ok(first);
        }
        let mut joined = self.piece(first)?;
        while self.peek().map(|(t, _)| t) == Some(&Tok::Punct("..")) {
            self.at += 1;
            let next = self.term()?;
            joined.push_str(&self.piece(next)?);
        }
        Ok(Value::Str(joined))
    }

    /// A value as `..` takes it: strings and numbers only, as in Lua.
    fn piece(&self, value: Value) -> Result<String, ChunkError> {
        match value {
            Value::Str(s) => Ok(s),
            Value::Int(n) => Ok(n.to_string()),
            other => self.fail(format!("cannot concatenate {}", other.kind())),
        }
    }

    fn term(&mut self) -> Result<Value, ChunkError> {
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::Str(s),
            Some(Tok::Int(n)) => Value::Int(n),
            Some(Tok::Name(word)) => match word.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "nil" => Value::Nil,
                name => match self.lookup(name) {
                    Some(value) => value,
                    // `os.getenv(..)`, `f(..)`: say what the chunk tried,
                    // not that `os` or `f` is undefined.
                    None => match self.peek().map(|(t, _)| t) {
                        Some(Tok::Punct("(")) | Some(Tok::Str(_)) => {
                            return self.unsupported(&format!("calling `{name}`"))
                        }
                        Some(Tok::Unsupported(what)) => {
                            let what = what.clone();
                            return self.unsupported(&what);
                        }
                        _ => {
                            self.at -= 1;
                            return self.fail(format!("`{name}` is not defined before this line"));
                        }
                    },
                },
            },
            Some(Tok::Punct("(")) => {
                let value = self.expression()?;
                if self.next() != Some(Tok::Punct(")")) {
                    self.at -= 1;
                    return self.fail("expected `)`");
                }
                value
            }
            Some(Tok::Unsupported(what)) => {
                self.at -= 1;
                return self.unsupported(&what);
            }
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected a value");
            }
        };
        // A value followed by something only a fuller Lua would take.
        match self.peek().map(|(t, _)| t) {
            Some(Tok::Punct("(")) | Some(Tok::Str(_)) => self.unsupported("a function call"),
            Some(Tok::Unsupported(what)) if !what.starts_with("the keyword") => {
                let what = what.clone();
                self.unsupported(&what)
            }
            _ => Ok(value),
        }
    }

    /// A local, or else a global assigned before (Lua's lookup order).
    fn lookup(&self, name: &str) -> Option<Value> {
        self.locals.get(name).cloned().or_else(|| {
            self.globals
                .iter()
                .find(|g| g.name == name)
                .map(|g| g.value.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globals(text: &str) -> Vec<(String, Value)> {
        run(text)
            .unwrap_or_else(|e| panic!("line {}: {}", e.line, e.reason))
            .into_iter()
            .map(|g| (g.name, g.value))
            .collect()
    }

    fn error(text: &str) -> ChunkError {
        run(text).expect_err("refused")
    }

    #[test]
    fn locals_and_concatenation_make_addresses() {
        let text = "\
local host = '10.0.0.' .. 7   -- a subnet
local base = \"7001\"
game1 = host .. \":\" .. base; battle1 = host .. ':' .. 7002
db = false  lobby = game1
--[[ a block
comment ]] __nowaiting = true
";
        assert_eq!(
            globals(text),
            vec![
                ("game1".into(), Value::Str("10.0.0.7:7001".into())),
                ("battle1".into(), Value::Str("10.0.0.7:7002".into())),
                ("db".into(), Value::Bool(false)),
                ("lobby".into(), Value::Str("10.0.0.7:7001".into())),
                ("__nowaiting".into(), Value::Bool(true)),
            ]
        );
    }

    #[test]
    fn the_last_assignment_of_a_name_wins_and_escapes_are_read() {
        let got = globals("a = 'x'\na = \"h\\\"q:1\" b = nil");
        assert_eq!(
            got,
            vec![
                ("a".into(), Value::Str("h\"q:1".into())),
                ("b".into(), Value::Nil)
            ]
        );
    }

    #[test]
    fn what_lies_outside_the_subset_is_named_with_its_line() {
        let cases = [
            ("a = 'h:1'\nb = os.getenv('X')", 2, "a field or method"),
            ("print('hi')", 1, "calling `print`"),
            ("a = {1}", 1, "a table"),
            ("local p = 7000\na = 'h:' .. p + 1", 2, "arithmetic"),
            ("if x then end", 1, "the keyword `if`"),
            ("a = [[h:1]]", 1, "a long string"),
            ("a = 1.5", 1, "the number `1.5`"),
            ("a, b = 'h:1', 'h:2'", 1, "a list of names or values"),
            ("a = f 'x'", 1, "calling `f`"),
        ];
        for (text, line, words) in cases {
            let e = error(text);
            assert_eq!(e.line, line, "{text}: {}", e.reason);
            assert!(e.reason.contains(words), "{text}: {}", e.reason);
        }
    }

    #[test]
    fn mistakes_in_the_subset_say_what_is_wrong() {
        assert!(error("a = nowhere")
            .reason
            .contains("`nowhere` is not defined"));
        assert!(error("a = 'h:' .. true")
            .reason
            .contains("cannot concatenate a boolean"));
        assert!(error("a = 'open").reason.contains("not closed"));
        assert!(error("a = ('x'").reason.contains("expected `)`"));
        assert!(error("a").reason.contains("expected `=` after `a`"));
        assert!(error("local = 1")
            .reason
            .contains("expected a name after `local`"));
        assert!(error("a = ").reason.contains("expected a value"));
        assert!(error("--[[ open").reason.contains("not closed"));
    }
}
