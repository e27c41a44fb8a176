//! [`Values`]: any number of Lua values, as a function's `...` receives
//! them and as `return a, b, c` gives them.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use super::value::Value;

/// The newtype-struct name under which [`Values`] serializes, so that
/// lua-seri's serializer and deserializer can tell it from a table.
pub(crate) const VALUES_TOKEN: &str = "$skycluster::luaseri::Values";

/// Any number of Lua values: a Lua function's `...`, or what its
/// `return a, b, c` gives back.
///
/// A packed message is a sequence of values with no count in front
/// (`skynet.pack(1, nil, nil)` is three values), and `Values` is that
/// sequence as one Rust value. At the top level of a message it is every
/// value left, nils included, however many there are; anywhere inside a
/// table it is an ordinary array table, like a `Vec<Value>`.
///
/// So, as the **last parameter** of a `#[service(codec = lua)]` method, it
/// takes every argument after the fixed ones, the way `function(cmd, ...)`
/// does; and as a **return type**, it answers with that many values (`()`
/// is none, a tuple is a fixed number, `Values` is any number). A tuple
/// whose last element is `Values` returns fixed values and then the rest.
/// `#[service]` refuses a `Values` parameter anywhere but last: it would
/// leave nothing for the parameters after it.
///
/// It is for lua-seri: other formats see a list of [`Value`]s, which bincode
/// cannot read back (a `Value` needs a self-describing format).
///
/// # Examples
///
/// A service that takes and returns any number of values:
///
/// ```
/// use skycluster::codec::luaseri::Values;
///
/// #[skycluster::service(codec = lua)]
/// pub trait Echo {
///     /// `function(...) return ... end`
///     async fn echo(&self, args: Values) -> Values;
///     /// `function(room, ...) return select("#", ...) end`
///     async fn count(&self, room: u32, rest: Values) -> usize;
/// }
/// ```
///
/// On the wire, every value after the fixed ones, and nothing else:
///
/// ```
/// use skycluster::codec::luaseri::{self, Value, Values};
///
/// // skynet.pack("x", 1, nil, nil)
/// let packed = luaseri::pack(&[Value::from("x"), Value::Integer(1), Value::Nil, Value::Nil])?;
/// let (first, rest): (String, Values) = luaseri::from_slice_multi(&packed)?;
/// assert_eq!(first, "x");
/// assert_eq!(rest, Values::from(vec![Value::Integer(1), Value::Nil, Value::Nil]));
/// assert_eq!(luaseri::to_vec_multi(&(first, rest))?, packed);
/// // No values at all: an empty `Values`.
/// let (rest,): (Values,) = luaseri::from_slice_multi(&[])?;
/// assert!(rest.is_empty());
/// # Ok::<(), luaseri::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values(pub Vec<Value>);

impl Values {
    /// No values: what `return` with nothing after it gives.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::Values;
    ///
    /// assert!(Values::new().is_empty());
    /// ```
    pub fn new() -> Values {
        Values(Vec::new())
    }

    /// The `n`th value (from 0), or nil past the end, as Lua's `select(n +
    /// 1, ...)` reads it.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Value, Values};
    ///
    /// let args = Values::from(vec![Value::from("x")]);
    /// assert_eq!(args.arg(0), &Value::from("x"));
    /// assert_eq!(args.arg(5), &Value::Nil);
    /// ```
    pub fn arg(&self, n: usize) -> &Value {
        const NIL: &Value = &Value::Nil;
        self.0.get(n).unwrap_or(NIL)
    }

    /// The values, as a vector of their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::codec::luaseri::{Value, Values};
    ///
    /// let values: Values = [1, 2].into_iter().map(Value::from).collect();
    /// assert_eq!(values.into_vec(), vec![Value::from(1), Value::from(2)]);
    /// ```
    pub fn into_vec(self) -> Vec<Value> {
        self.0
    }
}

impl Deref for Values {
    type Target = Vec<Value>;

    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl DerefMut for Values {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

impl From<Vec<Value>> for Values {
    fn from(values: Vec<Value>) -> Values {
        Values(values)
    }
}

impl From<Values> for Vec<Value> {
    fn from(values: Values) -> Vec<Value> {
        values.0
    }
}

impl FromIterator<Value> for Values {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Values {
        Values(iter.into_iter().collect())
    }
}

impl IntoIterator for Values {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Values {
    /// The values as Lua literals, separated by `, `: `1, nil, "x"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, value) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(value, f)?;
        }
        Ok(())
    }
}

/// A newtype around a tuple of the values: lua-seri writes that tuple as
/// top-level values when it is at the top level (as for a call's
/// arguments), and as an array table inside a table.
impl Serialize for Values {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(VALUES_TOKEN, &Elements(&self.0))
    }
}

struct Elements<'a>(&'a [Value]);

impl Serialize for Elements<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

/// lua-seri's deserializer hands the values left at the top level over as
/// a sequence; inside a table, `Values` reads an array table. Nil (no
/// argument left at all) is no values.
impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Values, D::Error> {
        deserializer.deserialize_newtype_struct(VALUES_TOKEN, ValuesVisitor)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any number of Lua values")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Values, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        // The hint comes from the input: cap it, as serde's own `Vec` does.
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Values(values))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Values, E> {
        Ok(Values::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Values, E> {
        Ok(Values::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::luaseri::{
        from_slice, from_slice_multi, from_value, pack, to_vec, to_vec_multi, unpack, Table,
    };

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    fn values(v: &[Value]) -> Values {
        Values(v.to_vec())
    }

    #[test]
    fn at_the_top_level_it_takes_every_value_left_nils_included() {
        let all = [
            s("a"),
            Value::Nil,
            Value::Integer(2),
            Value::Nil,
            Value::Nil,
        ];
        let packed = pack(&all).unwrap();
        let (rest,): (Values,) = from_slice_multi(&packed).unwrap();
        assert_eq!(rest, values(&all));
        let (a, rest): (String, Values) = from_slice_multi(&packed).unwrap();
        assert_eq!((a.as_str(), rest), ("a", values(&all[1..])));
        let (a, b, c, rest): (String, Option<u8>, u8, Values) = from_slice_multi(&packed).unwrap();
        assert_eq!((a.as_str(), b, c), ("a", None, 2));
        assert_eq!(rest, values(&[Value::Nil, Value::Nil]));
        // Bare, not in a tuple: every value too.
        let bare: Values = from_slice_multi(&packed).unwrap();
        assert_eq!(bare, values(&all));
        let bare: Values = from_slice(&packed).unwrap();
        assert_eq!(bare, values(&all));
    }

    #[test]
    fn nothing_left_is_no_values() {
        let packed = pack(&[s("a")]).unwrap();
        let (_, rest): (String, Values) = from_slice_multi(&packed).unwrap();
        assert!(rest.is_empty());
        // Past the end of a fixed parameter that was itself missing.
        let (_, _, rest): (String, Option<u8>, Values) = from_slice_multi(&packed).unwrap();
        assert!(rest.is_empty());
        let (rest,): (Values,) = from_slice_multi(&[]).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn it_writes_as_many_top_level_values_as_it_holds() {
        let all = [Value::Integer(1), Value::Nil, s("x"), Value::Nil];
        assert_eq!(to_vec_multi(&values(&all)).unwrap(), pack(&all).unwrap());
        assert_eq!(to_vec(&values(&all)).unwrap(), pack(&all).unwrap());
        let args = (s("cmd"), values(&all));
        let packed = to_vec_multi(&args).unwrap();
        assert_eq!(unpack(&packed).unwrap().len(), 5);
        assert_eq!(to_vec_multi(&(Values::new(),)).unwrap(), b"");
    }

    #[test]
    fn inside_a_table_it_is_an_array() {
        let nested = vec![values(&[Value::Integer(1), s("x")]), Values::new()];
        let packed = to_vec(&nested).unwrap();
        let table = Table::from(vec![Value::Integer(1), s("x")]);
        assert_eq!(
            unpack(&packed).unwrap(),
            [Value::from(vec![
                Value::Table(table),
                Value::Table(Table::new())
            ])]
        );
        let back: Vec<Values> = from_slice(&packed).unwrap();
        assert_eq!(back, nested);
        let from: Values = from_value(Value::from(vec![Value::Integer(3)])).unwrap();
        assert_eq!(from, values(&[Value::Integer(3)]));
    }

    #[test]
    fn it_reads_lua_style() {
        let args: Values = [Value::from(1), Value::Nil].into_iter().collect();
        assert_eq!(args.arg(0), &Value::Integer(1));
        assert_eq!(args.arg(1), &Value::Nil);
        assert_eq!(args.arg(2), &Value::Nil);
        assert_eq!(args.len(), 2);
        assert_eq!(args.to_string(), "1, nil");
        assert_eq!(Values::new().to_string(), "");
    }
}
