//! `Display` for [`Value`] and [`Table`]: Lua source that reads back as the
//! same value.

use std::fmt::{self, Write as _};

use crate::codec::luaseri::value::{Table, Value};

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = if f.alternate() { Some(0) } else { None };
        write_value(f, self, indent)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = if f.alternate() { Some(0) } else { None };
        write_table(f, self, indent)
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &Value, indent: Option<usize>) -> fmt::Result {
    match v {
        Value::Nil => f.write_str("nil"),
        Value::Boolean(b) => write!(f, "{b}"),
        Value::Integer(i64::MIN) => f.write_str("math.mininteger"),
        Value::Integer(i) => write!(f, "{i}"),
        Value::Real(x) => write_real(f, *x),
        Value::String(s) => write_string(f, s),
        Value::LightUserdata(p) => write!(f, "lightuserdata(0x{p:016x})"),
        Value::Table(t) => write_table(f, t, indent),
    }
}

fn write_real(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        f.write_str("0/0")
    } else if x == f64::INFINITY {
        f.write_str("math.huge")
    } else if x == f64::NEG_INFINITY {
        f.write_str("-math.huge")
    } else {
        // Debug always shows a point or an exponent, and round-trips.
        write!(f, "{x:?}")
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                // Three digits always, so a following digit can't join the escape.
                c if c.is_ascii_control() => write!(f, "\\{:03}", u32::from(c))?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\{b:03}")?;
        }
    }
    f.write_char('"')
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

fn is_name(s: &[u8]) -> bool {
    match s {
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && !KEYWORDS.iter().any(|k| k.as_bytes() == s)
        }
        [] => false,
    }
}

fn write_table(f: &mut fmt::Formatter<'_>, t: &Table, indent: Option<usize>) -> fmt::Result {
    if t.array.is_empty() && t.hash.is_empty() {
        return f.write_str("{}");
    }
    let inner = indent.map(|i| i + 1);
    f.write_char('{')?;
    let mut first = true;
    let mut separator = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
        match inner {
            Some(level) => {
                if !first {
                    f.write_char(',')?;
                }
                f.write_char('\n')?;
                for _ in 0..level {
                    f.write_str("  ")?;
                }
            }
            None if !first => f.write_str(", ")?,
            None => {}
        }
        first = false;
        Ok(())
    };
    for v in &t.array {
        separator(f)?;
        write_value(f, v, inner)?;
    }
    for (k, v) in &t.hash {
        separator(f)?;
        match k {
            Value::String(s) if is_name(s) => {
                // `is_name` only accepts ASCII.
                f.write_str(std::str::from_utf8(s).map_err(|_| fmt::Error)?)?;
            }
            _ => {
                f.write_char('[')?;
                write_value(f, k, inner)?;
                f.write_char(']')?;
            }
        }
        f.write_str(" = ")?;
        write_value(f, v, inner)?;
    }
    if let Some(level) = indent {
        f.write_str(",\n")?;
        for _ in 0..level {
            f.write_str("  ")?;
        }
    }
    f.write_char('}')
}
