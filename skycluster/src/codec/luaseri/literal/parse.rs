//! The parser: Lua literals, as printed here or written by hand, into
//! [`Value`]s.

use std::str::FromStr;

use crate::codec::luaseri::error::{Error, ErrorKind, Result};
use crate::codec::luaseri::value::{Table, Value};
use crate::codec::luaseri::MAX_UNPACK_DEPTH;

impl FromStr for Value {
    type Err = Error;

    /// Parses one Lua literal; see [`Value`]'s "Lua literals" section.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// let v: Value = r#"{1, -2, 2.5, 0x10, "x", 'y', true, nil, a = "b", [3] = 4}"#.parse()?;
    /// assert_eq!(v.to_string(), r#"{1, -2, 2.5, 16, "x", "y", true, nil, a = "b", [3] = 4}"#);
    ///
    /// let err = "{1, 2".parse::<Value>().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid lua literal at line 1, column 6 (byte 5): expected `}`");
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        let mut p = Parser {
            text: text.as_bytes(),
            pos: 0,
        };
        let v = p.value(0)?;
        p.skip_space()?;
        if p.pos < p.text.len() {
            return Err(p.error("expected end of input"));
        }
        Ok(v)
    }
}

impl Value {
    /// Parses a comma-separated list of Lua literals, such as the arguments
    /// of a `skynet.pack` call. Empty text gives an empty list.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Syntax`], naming the line, column and byte offset.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{pack, Value};
    ///
    /// let args = Value::parse_list(r#""echo", 1, true, nil, "x""#)?;
    /// assert_eq!(args.len(), 5);
    /// assert_eq!(pack(&args)?, [0x24, b'e', b'c', b'h', b'o', 0x0a, 0x01, 0x09, 0x00, 0x0c, b'x']);
    /// assert!(Value::parse_list("  ")?.is_empty());
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn parse_list(text: &str) -> Result<Vec<Value>> {
        let mut p = Parser {
            text: text.as_bytes(),
            pos: 0,
        };
        let mut values = Vec::new();
        p.skip_space()?;
        if p.pos >= p.text.len() {
            return Ok(values);
        }
        loop {
            values.push(p.value(0)?);
            p.skip_space()?;
            match p.peek() {
                None => return Ok(values),
                Some(b',') => p.pos += 1,
                Some(_) => return Err(p.error("expected `,` or end of input")),
            }
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> Error {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> Error {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        ErrorKind::Syntax {
            message: message.into().into_boxed_str(),
            offset,
            line,
            column: offset - line_start + 1,
        }
        .into()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.get(self.pos + ahead).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.text.get(self.pos..).unwrap_or_default()
    }

    /// Skips whitespace and comments.
    fn skip_space(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) => self.pos += 1,
                Some(b'-') if self.peek_at(1) == Some(b'-') => {
                    self.pos += 2;
                    if let Some(level) = self.long_bracket_level() {
                        self.long_bracket_body(level)?;
                    } else {
                        while !matches!(self.peek(), None | Some(b'\n')) {
                            self.pos += 1;
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        self.skip_space()?;
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", char::from(byte))))
        }
    }

    /// One value. Tables recurse through here; everything else is a leaf,
    /// kept out of line so each nesting level costs little stack.
    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_space()?;
        if self.peek() == Some(b'{') {
            return self.table(depth);
        }
        self.leaf(depth)
    }

    #[inline(never)]
    fn leaf(&mut self, depth: usize) -> Result<Value> {
        let start = self.pos;
        let v = match self.peek() {
            None => return Err(self.error("expected a value")),
            Some(b'"' | b'\'') => return self.short_string().map(Value::String),
            Some(b'[') => match self.long_bracket_level() {
                Some(level) => return self.long_bracket_body(level).map(Value::String),
                None => return Err(self.error("expected a value")),
            },
            Some(_) => self.number_expr(depth)?,
        };
        match v {
            Some(v) => Ok(v),
            None => {
                self.pos = start;
                self.word_value()
            }
        }
    }

    /// `nil`, `true`, `false` and `lightuserdata(...)`.
    fn word_value(&mut self) -> Result<Value> {
        let start = self.pos;
        let word = self.name();
        match word {
            b"nil" => Ok(Value::Nil),
            b"true" => Ok(Value::Boolean(true)),
            b"false" => Ok(Value::Boolean(false)),
            b"lightuserdata" => {
                self.expect(b'(')?;
                self.skip_space()?;
                let at = self.pos;
                let p = match self.numeral()? {
                    Some(Value::Integer(p)) => p,
                    _ => return Err(self.error_at(at, "expected an integer address")),
                };
                self.expect(b')')?;
                Ok(Value::LightUserdata(p as u64))
            }
            [] => Err(self.error_at(start, "expected a value")),
            _ => Err(self.error_at(
                start,
                format!("unexpected `{}`", String::from_utf8_lossy(word)),
            )),
        }
    }

    fn name(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// A number, possibly negated or divided (`-1/0`, `0/0`); `None` when
    /// the text here is not numeric.
    fn number_expr(&mut self, depth: usize) -> Result<Option<Value>> {
        let Some(mut acc) = self.unary_number(depth)? else {
            return Ok(None);
        };
        loop {
            let save = self.pos;
            self.skip_space()?;
            if self.peek() != Some(b'/') || self.peek_at(1) == Some(b'/') {
                self.pos = save;
                return Ok(Some(acc));
            }
            self.pos += 1;
            self.skip_space()?;
            let at = self.pos;
            let Some(rhs) = self.unary_number(depth)? else {
                return Err(self.error_at(at, "expected a number after `/`"));
            };
            // Lua's `/` is always float division.
            acc = Value::Real(as_float(&acc) / as_float(&rhs));
        }
    }

    fn unary_number(&mut self, depth: usize) -> Result<Option<Value>> {
        match self.peek() {
            Some(b'-') => {
                let start = self.pos;
                self.pos += 1;
                self.skip_space()?;
                if depth > MAX_UNPACK_DEPTH {
                    return Err(self.error("too many unary minus signs"));
                }
                match self.unary_number(depth + 1)? {
                    Some(Value::Integer(i)) => Ok(Some(Value::Integer(i.wrapping_neg()))),
                    Some(Value::Real(x)) => Ok(Some(Value::Real(-x))),
                    _ => Err(self.error_at(start, "expected a number after `-`")),
                }
            }
            Some(b'(') => {
                self.pos += 1;
                if depth > MAX_UNPACK_DEPTH {
                    return Err(self.error("too many parentheses"));
                }
                self.skip_space()?;
                let at = self.pos;
                match self.number_expr(depth + 1)? {
                    Some(v) => {
                        self.expect(b')')?;
                        Ok(Some(v))
                    }
                    None => Err(self.error_at(at, "expected a number")),
                }
            }
            Some(b'm') => {
                for (word, v) in [
                    (&b"math.huge"[..], Value::Real(f64::INFINITY)),
                    (b"math.maxinteger", Value::Integer(i64::MAX)),
                    (b"math.mininteger", Value::Integer(i64::MIN)),
                ] {
                    let rest = self.rest();
                    let boundary = rest
                        .get(word.len())
                        .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
                    if rest.starts_with(word) && boundary {
                        self.pos += word.len();
                        return Ok(Some(v));
                    }
                }
                Ok(None)
            }
            _ => self.numeral(),
        }
    }

    /// A Lua numeral, following Lua's rules: hex integers wrap around,
    /// decimal integers too large for i64 become floats.
    fn numeral(&mut self) -> Result<Option<Value>> {
        let start = self.pos;
        let rest = self.rest();
        let starts_numeric = matches!(rest, [b'0'..=b'9', ..] | [b'.', b'0'..=b'9', ..]);
        if !starts_numeric {
            return Ok(None);
        }
        let hex = matches!(rest, [b'0', b'x' | b'X', ..]);
        let mut end = if hex { 2 } else { 0 };
        let mut is_float = false;
        while let Some(&b) = rest.get(end) {
            let exp = if hex { b"pP" } else { b"eE" };
            if b.is_ascii_hexdigit() && (hex || b.is_ascii_digit()) {
                end += 1;
            } else if b == b'.' {
                is_float = true;
                end += 1;
            } else if exp.contains(&b) {
                is_float = true;
                end += 1;
                if matches!(rest.get(end), Some(b'+' | b'-')) {
                    end += 1;
                }
            } else {
                break;
            }
        }
        if rest
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return Err(self.error_at(start + end, "malformed number"));
        }
        let token = std::str::from_utf8(rest.get(..end).unwrap_or_default()).unwrap_or_default();
        self.pos += end;
        let malformed = || self.error_at(start, format!("malformed number `{token}`"));
        let value = if hex {
            let digits = token.get(2..).unwrap_or_default();
            if is_float {
                Value::Real(parse_hex_float(digits).ok_or_else(malformed)?)
            } else {
                if digits.is_empty() {
                    return Err(malformed());
                }
                let mut v: u64 = 0;
                for d in digits.chars() {
                    let d = u64::from(d.to_digit(16).ok_or_else(malformed)?);
                    v = v.wrapping_mul(16).wrapping_add(d);
                }
                Value::Integer(v as i64)
            }
        } else if is_float {
            Value::Real(token.parse::<f64>().map_err(|_| malformed())?)
        } else {
            match token.parse::<i64>() {
                Ok(i) => Value::Integer(i),
                Err(_) => Value::Real(token.parse::<f64>().map_err(|_| malformed())?),
            }
        };
        Ok(Some(value))
    }

    fn short_string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        let quote = self.peek();
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at(start, "unfinished string"));
            };
            self.pos += 1;
            match b {
                b'\n' | b'\r' => return Err(self.error_at(start, "unfinished string")),
                b'\\' => self.escape(&mut out)?,
                b if Some(b) == quote => return Ok(out),
                b => out.push(b),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.error_at(at, "unfinished string"));
        };
        self.pos += 1;
        match c {
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' | b'\n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\\' | b'"' | b'\'' => out.push(c),
            b'\r' => {
                out.push(b'\n');
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            b'z' => {
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_whitespace() || b == 0x0b)
                {
                    self.pos += 1;
                }
            }
            b'x' => {
                let digits = self.rest().get(..2).unwrap_or_default();
                let v = std::str::from_utf8(digits)
                    .ok()
                    .filter(|d| d.len() == 2)
                    .and_then(|d| u8::from_str_radix(d, 16).ok())
                    .ok_or_else(|| self.error_at(at, "hexadecimal digit expected"))?;
                self.pos += 2;
                out.push(v);
            }
            b'0'..=b'9' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'9') => {
                            v = v * 10 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                let byte =
                    u8::try_from(v).map_err(|_| self.error_at(at, "decimal escape too large"))?;
                out.push(byte);
            }
            b'u' => {
                if self.peek() != Some(b'{') {
                    return Err(self.error_at(at, "missing `{` in \\u{xxxx}"));
                }
                self.pos += 1;
                let digits_start = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                    self.pos += 1;
                }
                let digits =
                    std::str::from_utf8(self.text.get(digits_start..self.pos).unwrap_or_default())
                        .unwrap_or_default();
                let c = u32::from_str_radix(digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error_at(at, "invalid unicode escape"))?;
                if self.peek() != Some(b'}') {
                    return Err(self.error_at(at, "missing `}` in \\u{xxxx}"));
                }
                self.pos += 1;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(self.error_at(at, "invalid escape sequence")),
        }
        Ok(())
    }

    /// At `[[` or `[==[`, the number of `=`; consumes the opening bracket.
    fn long_bracket_level(&mut self) -> Option<usize> {
        let rest = self.rest();
        if rest.first() != Some(&b'[') {
            return None;
        }
        let level = rest.iter().skip(1).take_while(|b| **b == b'=').count();
        if rest.get(level + 1) == Some(&b'[') {
            self.pos += level + 2;
            Some(level)
        } else {
            None
        }
    }

    fn long_bracket_body(&mut self, level: usize) -> Result<Vec<u8>> {
        let start = self.pos;
        // A newline right after the opening bracket is not part of the string.
        if self.rest().starts_with(b"\r\n") {
            self.pos += 2;
        } else if matches!(self.peek(), Some(b'\n' | b'\r')) {
            self.pos += 1;
        }
        let body_start = self.pos;
        while let Some(b) = self.peek() {
            if b == b']' {
                let rest = self.rest();
                let eqs = rest.iter().skip(1).take_while(|b| **b == b'=').count();
                if eqs == level && rest.get(level + 1) == Some(&b']') {
                    let body = self
                        .text
                        .get(body_start..self.pos)
                        .unwrap_or_default()
                        .to_vec();
                    self.pos += level + 2;
                    return Ok(body);
                }
            }
            self.pos += 1;
        }
        Err(self.error_at(start, "unfinished long string or comment"))
    }

    /// A table constructor, at its `{`.
    fn table(&mut self, depth: usize) -> Result<Value> {
        if depth >= MAX_UNPACK_DEPTH {
            return Err(self.error(format!("tables nested deeper than {MAX_UNPACK_DEPTH}")));
        }
        self.pos += 1;
        let mut t = Table::new();
        loop {
            match self.field_head()? {
                FieldHead::Close => return Ok(Value::Table(t)),
                FieldHead::Bracket => {
                    let at = self.pos;
                    let key = self.value(depth + 1)?;
                    self.after_key(at, &key)?;
                    let value = self.value(depth + 1)?;
                    t.hash.push((key, value));
                }
                FieldHead::Named(name) => {
                    let value = self.value(depth + 1)?;
                    t.hash.push((Value::String(name), value));
                }
                FieldHead::Positional => {
                    let value = self.value(depth + 1)?;
                    t.array.push(value);
                }
            }
            self.field_end()?;
        }
    }

    /// What the next table field is; consumes `}`, `[`, or `name =`.
    #[inline(never)]
    fn field_head(&mut self) -> Result<FieldHead> {
        self.skip_space()?;
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                Ok(FieldHead::Close)
            }
            None => Err(self.error("expected `}`")),
            Some(b'[') if !matches!(self.peek_at(1), Some(b'[' | b'=')) => {
                self.pos += 1;
                Ok(FieldHead::Bracket)
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let save = self.pos;
                let name = self.name();
                self.skip_space()?;
                if self.peek() == Some(b'=') && self.peek_at(1) != Some(b'=') {
                    self.pos += 1;
                    Ok(FieldHead::Named(name.to_vec()))
                } else {
                    self.pos = save;
                    Ok(FieldHead::Positional)
                }
            }
            Some(_) => Ok(FieldHead::Positional),
        }
    }

    /// After `[key`: checks the key and consumes `] =`.
    #[inline(never)]
    fn after_key(&mut self, at: usize, key: &Value) -> Result<()> {
        match key {
            Value::Nil => return Err(self.error_at(at, "table index is nil")),
            Value::Real(x) if x.is_nan() => return Err(self.error_at(at, "table index is NaN")),
            _ => {}
        }
        self.expect(b']')?;
        self.expect(b'=')
    }

    /// After a field: a separator, or the `}` that the next `field_head` takes.
    #[inline(never)]
    fn field_end(&mut self) -> Result<()> {
        self.skip_space()?;
        match self.peek() {
            Some(b',' | b';') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'}') => Ok(()),
            _ => Err(self.error("expected `}`")),
        }
    }
}

enum FieldHead {
    Close,
    Bracket,
    Named(Vec<u8>),
    Positional,
}

fn as_float(v: &Value) -> f64 {
    match *v {
        Value::Integer(i) => i as f64,
        Value::Real(x) => x,
        _ => f64::NAN,
    }
}

/// `digits` of a hex float after `0x`: `1.8p3`, `.8`, `a`.
fn parse_hex_float(digits: &str) -> Option<f64> {
    let (mantissa, exponent) = match digits.find(['p', 'P']) {
        Some(i) => (digits.get(..i)?, digits.get(i + 1..)?.parse::<i32>().ok()?),
        None => (digits, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0.0f64;
    for d in int.chars() {
        v = v * 16.0 + f64::from(d.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for d in frac.chars() {
        v += f64::from(d.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exponent))
}
