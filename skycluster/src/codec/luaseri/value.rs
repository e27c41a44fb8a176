//! Dynamic Lua values: [`Value`] and [`Table`].
//!
//! A [`Table`] keeps the shape it had on the wire (an array part and a
//! key/value part, in order), so a decoded table packs back to the same
//! bytes. Equality, on the other hand, follows Lua: two tables are equal when
//! they hold the same keys with the same values, whatever part or order they
//! arrived in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::error::{Error, ErrorKind};

/// One Lua value, as `skynet.pack` carries it.
///
/// # Equality
///
/// `==` compares values as Lua data, with two differences from Lua's `==`
/// that make round trips testable: a NaN equals a NaN, and tables compare by
/// content (see [`Table`]). An `Integer` never equals a `Real`, so `1` and
/// `1.0` stay distinguishable, except as table keys, where Lua turns a float
/// key with an integral value into the integer key.
///
/// # Lua literals
///
/// `Display` prints Lua source that reads back, in Lua and through
/// [`FromStr`](std::str::FromStr), as the same value: `{1, 2.0, name =
/// "orc", [true] = false}`. Integers print without a point and floats
/// always with one or an exponent, so `1` and `1.0` stay apart; infinities
/// print as `math.huge` / `-math.huge`, NaN as `0/0`, `i64::MIN` as
/// `math.mininteger`. Strings are double-quoted, with bytes that are not
/// printable UTF-8 escaped as `\ddd`. `{:#}` puts one field per line. A
/// light userdata, which has no Lua literal, is `lightuserdata(0x...)`.
///
/// The parser also takes decimal, hex and float numerals, unary minus and
/// `/` between numbers (`-1/0`), single-quoted and long-bracket strings
/// with all of Lua's escapes, `--` comments, and `;` separators. Like Lua,
/// it turns a decimal integer too large for `i64` into a float and wraps
/// hex integers. [`Value::parse_list`] reads several comma-separated values.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{Table, Value};
///
/// let mut t = Table::from(vec![Value::from(1), Value::from(2)]);
/// t.insert("x", "y");
/// let v = Value::from(t);
/// assert_eq!(v.to_string(), r#"{1, 2, x = "y"}"#);
/// assert_eq!(v, "{1, 2, x = 'y'}".parse::<Value>()?);
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `nil`.
    #[default]
    Nil,
    /// `true` or `false`.
    Boolean(bool),
    /// A Lua integer (a subtype of number since Lua 5.3).
    Integer(i64),
    /// A Lua float. Packed as a real even when its value is integral.
    Real(f64),
    /// A Lua string: raw bytes, not necessarily UTF-8.
    String(Vec<u8>),
    /// A Lua table.
    Table(Table),
    /// A light userdata: a raw C pointer, meaningful only inside the process
    /// that packed it. Skynet packs it as type 3 with the pointer's 8 bytes.
    LightUserdata(u64),
}

/// A Lua table as it travels: an array part and a key/value part.
///
/// `array[i]` is the value at key `i + 1`; a `Nil` there is a hole (the key
/// is absent). `hash` holds the other pairs in wire order; when a key appears
/// twice, or in both parts, the last one wins, as with Lua's `rawset` while
/// unpacking. A pair whose value is `Nil` removes its key.
///
/// Equality compares the resulting key/value sets, so `{1, 2}` packed as an
/// array equals the same table sent as pairs `[1] = 1, [2] = 2`.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{Table, Value};
///
/// let array = Table::from(vec![Value::from(10), Value::from(20)]);
/// let mut pairs = Table::new();
/// pairs.insert(2, 20);
/// pairs.insert(1, 10);
/// assert_eq!(array, pairs);
/// assert_eq!(pairs.get(&Value::Real(2.0)), Some(&Value::Integer(20)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Values at keys `1..=array.len()`; `Nil` marks a hole.
    pub array: Vec<Value>,
    /// Every other key/value pair, in wire order.
    pub hash: Vec<(Value, Value)>,
}

impl Table {
    /// An empty table, `{}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Table;
    ///
    /// assert!(Table::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `value` to the array part (Lua's `t[#t + 1] = value` for a
    /// table without holes).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Table, Value};
    ///
    /// let mut t = Table::new();
    /// t.push("a");
    /// assert_eq!(t.get(&Value::from(1)), Some(&Value::from("a")));
    /// ```
    pub fn push(&mut self, value: impl Into<Value>) {
        self.array.push(value.into());
    }

    /// Sets `key` to `value` in the key/value part, replacing an earlier pair
    /// with an equal key. This scans the pairs; to build a large table, push
    /// to [`hash`](Table::hash) directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Table, Value};
    ///
    /// let mut t = Table::new();
    /// t.insert("hp", 10);
    /// t.insert("hp", 12);
    /// assert_eq!(t.hash.len(), 1);
    /// assert_eq!(t.get_str("hp"), Some(&Value::Integer(12)));
    /// ```
    pub fn insert(&mut self, key: impl Into<Value>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.hash.iter_mut().find(|(k, _)| key_eq(k, &key)) {
            Some(pair) => pair.1 = value,
            None => self.hash.push((key, value)),
        }
    }

    /// The value at `key`, as Lua's `rawget` would find it after unpacking:
    /// the last pair with that key wins, and a `Nil` value means absent.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// let t: Value = "{'a', n = 3}".parse()?;
    /// let t = t.as_table().unwrap();
    /// assert_eq!(t.get(&Value::from(1)), Some(&Value::from("a")));
    /// assert_eq!(t.get(&Value::from(2)), None);
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn get(&self, key: &Value) -> Option<&Value> {
        let found = match self.hash.iter().rev().find(|(k, _)| key_eq(k, key)) {
            Some((_, v)) => Some(v),
            None => match normalize_key(key) {
                Some(Key::Int(i)) if i >= 1 => {
                    usize::try_from(i - 1).ok().and_then(|i| self.array.get(i))
                }
                _ => None,
            },
        };
        found.filter(|v| !v.is_nil())
    }

    /// The value at the string key `name` (Lua's `t.name`).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// let v: Value = r#"{name = "orc", hp = 10}"#.parse()?;
    /// assert_eq!(v.as_table().unwrap().get_str("hp"), Some(&Value::Integer(10)));
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn get_str(&self, name: &str) -> Option<&Value> {
        let found = self
            .hash
            .iter()
            .rev()
            .find(|(k, _)| matches!(k, Value::String(s) if s == name.as_bytes()))
            .map(|(_, v)| v);
        found.filter(|v| !v.is_nil())
    }

    /// Whether the table has no key at all (holes and nil-valued pairs don't count).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Table, Value};
    ///
    /// assert!(Table::from(vec![Value::Nil]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        Resolved::new(self).len() == 0
    }

    /// If the table is a Lua sequence (keys exactly `1..=n`, no holes), its
    /// values in order.
    pub(crate) fn into_sequence(self) -> Result<Vec<Value>, Table> {
        if self.hash.is_empty() && !self.array.iter().any(Value::is_nil) {
            return Ok(self.array);
        }
        // Any other key rules it out cheaply, before building an index.
        if self.hash.iter().any(|(k, _)| k.as_i64().is_none()) {
            return Err(self);
        }
        let sequence = {
            let resolved = Resolved::new(&self);
            // Every live key is an integer here, and the map holds them in order.
            let dense = resolved
                .scalars
                .keys()
                .zip(1i64..)
                .all(|(k, i)| *k == Key::Int(i));
            dense.then(|| resolved.scalars.values().map(|v| (*v).clone()).collect())
        };
        sequence.ok_or(self)
    }
}

/// Values at keys `next..` of a table whose array part ended before `next`,
/// taken from its key/value `pairs`, so the table can be read as a sequence.
///
/// Keys may come in any order (Lua's `next` order) and may leave holes,
/// which read as nil. To keep a tiny message from asking for a huge vector,
/// at most half of the positions (plus [`HOLE_SLACK`]) may be holes.
pub(crate) fn sequence_tail(pairs: Vec<(Value, Value)>, next: usize) -> Result<Vec<Value>, String> {
    let mut entries: Vec<(usize, Value)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let index = key
            .as_i64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i >= next);
        match index {
            Some(i) => entries.push((i, value)),
            None => return Err(format!("table is not a sequence: it has key {key}")),
        }
    }
    // Stable, so among equal keys the last pair (the one Lua keeps) stays last.
    entries.sort_by_key(|(i, _)| *i);
    let Some(&(last, _)) = entries.last() else {
        return Ok(Vec::new());
    };
    let len = last - next + 1;
    if len > entries.len().saturating_mul(2).saturating_add(HOLE_SLACK) {
        return Err(format!(
            "table is too sparse to read as a sequence: {} values up to index {last}",
            entries.len()
        ));
    }
    let mut out = vec![Value::Nil; len];
    for (i, value) in entries {
        if let Some(slot) = out.get_mut(i - next) {
            *slot = value;
        }
    }
    Ok(out)
}

/// Holes allowed beyond "half the positions" in [`sequence_tail`].
pub(crate) const HOLE_SLACK: usize = 32;

impl Value {
    /// Lua's name for this value's type, as `type(v)` returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from(1.5).type_name(), "number");
    /// assert_eq!(Value::LightUserdata(0).type_name(), "userdata");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::Integer(_) | Value::Real(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::LightUserdata(_) => "userdata",
        }
    }

    /// Whether this is `nil`.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert!(Value::from(None::<i64>).is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The boolean, if this is a boolean.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from(true).as_bool(), Some(true));
    /// assert_eq!(Value::Nil.as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// The number as an integer: an `Integer`, or a `Real` with an exact
    /// integral value in range (like Lua's `math.tointeger`).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from(7).as_i64(), Some(7));
    /// assert_eq!(Value::from(7.0).as_i64(), Some(7));
    /// assert_eq!(Value::from(7.5).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(i) => Some(i),
            Value::Real(f) => f64_to_i64(f),
            _ => None,
        }
    }

    /// The number as a float (an `Integer` is converted).
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::from("2").as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Integer(i) => Some(i as f64),
            Value::Real(f) => Some(f),
            _ => None,
        }
    }

    /// The string, if this is a string holding valid UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from("hi").as_str(), Some("hi"));
    /// assert_eq!(Value::from(vec![0xffu8]).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// The string's bytes, if this is a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// assert_eq!(Value::from(vec![0xffu8]).as_bytes(), Some(&[0xffu8][..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The table, if this is a table.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Value;
    ///
    /// let v: Value = "{1, 2}".parse()?;
    /// assert_eq!(v.as_table().map(|t| t.array.len()), Some(2));
    /// # Ok::<(), skycluster::codec::luaseri::Error>(())
    /// ```
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The table, mutably, if this is a table.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Table, Value};
    ///
    /// let mut v = Value::from(Table::new());
    /// v.as_table_mut().unwrap().push(1);
    /// assert_eq!(v.to_string(), "{1}");
    /// ```
    pub fn as_table_mut(&mut self) -> Option<&mut Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    fn mismatch(&self, expected: &'static str) -> Error {
        ErrorKind::TypeMismatch {
            expected,
            found: self.type_name(),
        }
        .into()
    }
}

/// Lua's float-to-integer conversion for exact integral values.
pub(crate) fn f64_to_i64(f: f64) -> Option<i64> {
    // -2^63 is exact; 2^63 is the first value out of range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

fn real_eq(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => real_eq(*a, *b),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::LightUserdata(a), Value::LightUserdata(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        // Same shape is the common case (a round trip) and needs no index.
        if self.array == other.array && self.hash == other.hash {
            return true;
        }
        Resolved::new(self) == Resolved::new(other)
    }
}

/// A table key after Lua's normalization, for keys that can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Bool(bool),
    Int(i64),
    Real(u64),
    Str(&'a [u8]),
    Ptr(u64),
}

fn normalize_key(v: &Value) -> Option<Key<'_>> {
    Some(match *v {
        Value::Boolean(b) => Key::Bool(b),
        Value::Integer(i) => Key::Int(i),
        Value::Real(f) => match f64_to_i64(f) {
            Some(i) => Key::Int(i),
            None => Key::Real(f.to_bits()),
        },
        Value::String(ref s) => Key::Str(s),
        Value::LightUserdata(p) => Key::Ptr(p),
        Value::Nil | Value::Table(_) => return None,
    })
}

fn key_eq(a: &Value, b: &Value) -> bool {
    match (normalize_key(a), normalize_key(b)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => a == b,
        _ => false,
    }
}

/// A table's live key/value pairs, the way Lua would hold them after unpacking.
#[derive(Debug)]
struct Resolved<'a> {
    scalars: BTreeMap<Key<'a>, &'a Value>,
    /// Table keys can't be ordered; there are few of them in practice.
    tables: Vec<(&'a Value, &'a Value)>,
}

impl<'a> Resolved<'a> {
    fn new(t: &'a Table) -> Self {
        let mut scalars = BTreeMap::new();
        let mut tables: Vec<(&'a Value, &'a Value)> = Vec::new();
        for (i, v) in t.array.iter().enumerate() {
            let i = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
            scalars.insert(Key::Int(i), v);
        }
        for (k, v) in &t.hash {
            match normalize_key(k) {
                Some(key) => {
                    scalars.insert(key, v);
                }
                None => match tables.iter_mut().find(|(tk, _)| *tk == k) {
                    Some(pair) => pair.1 = v,
                    None => tables.push((k, v)),
                },
            }
        }
        scalars.retain(|_, v| !v.is_nil());
        tables.retain(|(_, v)| !v.is_nil());
        Resolved { scalars, tables }
    }

    fn len(&self) -> usize {
        self.scalars.len() + self.tables.len()
    }
}

impl PartialEq for Resolved<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.scalars.len() == other.scalars.len()
            && self.tables.len() == other.tables.len()
            && self
                .scalars
                .iter()
                .zip(other.scalars.iter())
                .all(|((ka, va), (kb, vb))| ka.cmp(kb) == Ordering::Equal && va == vb)
            && self
                .tables
                .iter()
                .all(|(k, v)| other.tables.iter().any(|(ok, ov)| ok == k && ov == v))
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Integer(i64::from(v))
            }
        }
    )*};
}
from_integer!(i8, i16, i32, i64, u8, u16, u32);

impl TryFrom<u64> for Value {
    type Error = Error;

    /// Fails above `i64::MAX`, which no Lua integer can hold.
    fn try_from(v: u64) -> Result<Self, Error> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| Error::out_of_range(v))
    }
}

impl TryFrom<usize> for Value {
    type Error = Error;

    /// Fails above `i64::MAX`, which no Lua integer can hold.
    fn try_from(v: usize) -> Result<Self, Error> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| Error::out_of_range(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Real(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into_bytes())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::String(v.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::String(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Table(Table::from(v))
    }
}

impl From<Table> for Value {
    fn from(v: Table) -> Self {
        Value::Table(v)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Nil
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Nil, Into::into)
    }
}

impl From<Vec<Value>> for Table {
    fn from(array: Vec<Value>) -> Self {
        Table {
            array,
            hash: Vec::new(),
        }
    }
}

impl TryFrom<Value> for bool {
    type Error = Error;

    fn try_from(v: Value) -> Result<Self, Error> {
        v.as_bool().ok_or_else(|| v.mismatch("boolean"))
    }
}

impl TryFrom<Value> for i64 {
    type Error = Error;

    /// Accepts an integer, or a float with an exact integral value.
    fn try_from(v: Value) -> Result<Self, Error> {
        v.as_i64().ok_or_else(|| v.mismatch("integer"))
    }
}

impl TryFrom<Value> for f64 {
    type Error = Error;

    /// Accepts any number.
    fn try_from(v: Value) -> Result<Self, Error> {
        v.as_f64().ok_or_else(|| v.mismatch("number"))
    }
}

impl TryFrom<Value> for String {
    type Error = Error;

    /// Accepts a string holding valid UTF-8.
    fn try_from(v: Value) -> Result<Self, Error> {
        match v {
            Value::String(s) => String::from_utf8(s).map_err(|_| {
                ErrorKind::TypeMismatch {
                    expected: "utf-8 string",
                    found: "string",
                }
                .into()
            }),
            other => Err(other.mismatch("string")),
        }
    }
}

impl TryFrom<Value> for Vec<u8> {
    type Error = Error;

    fn try_from(v: Value) -> Result<Self, Error> {
        match v {
            Value::String(s) => Ok(s),
            other => Err(other.mismatch("string")),
        }
    }
}

impl TryFrom<Value> for Table {
    type Error = Error;

    fn try_from(v: Value) -> Result<Self, Error> {
        match v {
            Value::Table(t) => Ok(t),
            other => Err(other.mismatch("table")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Value {
        Value::Integer(i)
    }

    #[test]
    fn tables_compare_as_maps() {
        let array = Table::from(vec![int(1), int(2)]);
        let pairs = Table {
            array: vec![],
            hash: vec![(int(2), int(2)), (int(1), int(1))],
        };
        assert_eq!(array, pairs);
        let holes = Table {
            array: vec![int(1), Value::Nil, int(3)],
            hash: vec![],
        };
        let holes_as_pairs = Table {
            array: vec![int(1)],
            hash: vec![(int(3), int(3))],
        };
        assert_eq!(holes, holes_as_pairs);
        assert_ne!(holes, array);
    }

    #[test]
    fn later_pairs_override_earlier_ones_and_nil_removes() {
        let t = Table {
            array: vec![int(1)],
            hash: vec![
                (int(1), Value::Nil),
                (Value::from("a"), int(1)),
                (Value::from("a"), int(2)),
            ],
        };
        assert_eq!(t.get(&int(1)), None);
        assert_eq!(t.get_str("a"), Some(&int(2)));
        let mut expected = Table::new();
        expected.insert("a", 2);
        assert_eq!(t, expected);
    }

    #[test]
    fn float_keys_with_integral_values_are_integer_keys() {
        let a = Table {
            array: vec![],
            hash: vec![(Value::Real(2.0), int(5)), (Value::Real(-0.0), int(6))],
        };
        let b = Table {
            array: vec![],
            hash: vec![(int(2), int(5)), (int(0), int(6))],
        };
        assert_eq!(a, b);
        // As values, an integer and a float differ.
        assert_ne!(int(1), Value::Real(1.0));
    }

    #[test]
    fn nan_equals_nan_and_zero_signs_are_equal() {
        assert_eq!(Value::Real(f64::NAN), Value::Real(-f64::NAN));
        assert_eq!(Value::Real(0.0), Value::Real(-0.0));
    }

    #[test]
    fn table_keys_compare_by_content() {
        let k = Value::from(vec![int(1)]);
        let a = Table {
            array: vec![],
            hash: vec![(k.clone(), int(1)), (Value::from("x"), int(2))],
        };
        let b = Table {
            array: vec![],
            hash: vec![(Value::from("x"), int(2)), (k, int(1))],
        };
        assert_eq!(a, b);
    }

    #[test]
    fn sequences_are_recognized_whatever_the_shape() {
        let t = Table {
            array: vec![],
            hash: vec![(int(2), int(20)), (int(1), int(10))],
        };
        assert_eq!(t.into_sequence().ok(), Some(vec![int(10), int(20)]));
        let t = Table {
            array: vec![int(1)],
            hash: vec![(int(3), int(3))],
        };
        assert!(t.into_sequence().is_err());
        assert_eq!(Table::new().into_sequence().ok(), Some(vec![]));
    }

    #[test]
    fn conversions() {
        assert_eq!(Value::try_from(u64::MAX).ok(), None);
        assert_eq!(Value::try_from(5u64).ok(), Some(int(5)));
        assert_eq!(i64::try_from(Value::Real(3.0)).ok(), Some(3));
        assert!(i64::try_from(Value::Real(1e19)).is_err());
        assert_eq!(f64_to_i64(-9_223_372_036_854_775_808.0), Some(i64::MIN));
        assert!(matches!(
            String::try_from(int(1)).map_err(Error::into_kind),
            Err(ErrorKind::TypeMismatch {
                expected: "string",
                found: "number"
            })
        ));
        assert_eq!(Value::from(Some("x")), Value::from("x"));
    }
}
