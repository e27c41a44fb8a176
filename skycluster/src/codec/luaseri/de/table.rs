//! A table read as a sequence or as a map, entry by entry.

use serde::de::{self, DeserializeSeed, IntoDeserializer};

use super::Deserializer;
use crate::codec::luaseri::encode::{TAG_REAL, TYPE_SHORT_STRING};
use crate::codec::luaseri::error::{Error, ErrorKind, Result};
use crate::codec::luaseri::value::{sequence_tail, Value};
use crate::codec::luaseri::value_serde::ValueDeserializer;

/// The elements of a table read as a sequence.
pub(super) struct TableSeq<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
    pub(super) start: usize,
    /// Array-part values not yet read.
    pub(super) array_left: usize,
    pub(super) hint: usize,
    pub(super) yielded: usize,
    /// For a tuple, positions past the end read as nil up to this length.
    pub(super) pad_to: Option<usize>,
    /// Values taken from the key/value part, in key order.
    pub(super) tail: Option<std::vec::IntoIter<Value>>,
    /// Whether the terminator has been read.
    pub(super) done: bool,
}

impl<'de> TableSeq<'_, 'de> {
    /// Reads the key/value part, if any, into `tail`.
    fn load_tail(&mut self) -> Result<()> {
        self.done = true;
        if self.de.eat_terminator() {
            return Ok(());
        }
        let pairs = self.de.reader.read_pairs(self.de.depth - 1)?;
        let tail =
            sequence_tail(pairs, self.yielded + 1).map_err(|message| ErrorKind::Message {
                message: message.into_boxed_str(),
                offset: Some(self.start),
            })?;
        self.tail = Some(tail.into_iter());
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<()> {
        let extra = self.array_left > 0
            || self.tail.as_ref().is_some_and(|t| t.len() > 0)
            || (!self.done && !self.de.eat_terminator());
        if extra {
            self.de.check_not_at_end("table key")?;
            return Err(ErrorKind::Message {
                message: format!("table has more than the {} values expected", self.yielded)
                    .into_boxed_str(),
                offset: Some(self.start),
            }
            .into());
        }
        self.done = true;
        Ok(())
    }
}

impl<'de> de::SeqAccess<'de> for TableSeq<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.array_left > 0 {
            self.array_left -= 1;
            self.yielded += 1;
            return seed.deserialize(&mut *self.de).map(Some);
        }
        if !self.done {
            self.load_tail()?;
        }
        if let Some(value) = self.tail.as_mut().and_then(Iterator::next) {
            self.yielded += 1;
            return seed.deserialize(ValueDeserializer(value)).map(Some);
        }
        match self.pad_to {
            Some(len) if self.yielded < len => {
                self.yielded += 1;
                seed.deserialize(ValueDeserializer(Value::Nil)).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.hint)
    }
}

/// The pairs of a table: array-part values under their integer keys, then
/// the key/value part.
pub(super) struct TableMap<'a, 'de> {
    pub(super) de: &'a mut Deserializer<'de>,
    pub(super) array_left: usize,
    /// The key of the last array-part value handed out.
    pub(super) index: i64,
    pub(super) done: bool,
}

impl TableMap<'_, '_> {
    #[cold]
    pub(super) fn finish(mut self) -> Result<()> {
        // A visitor that stopped early leaves pairs behind; Lua would just
        // not look at them.
        let depth = self.de.depth;
        while self.array_left > 0 {
            self.array_left -= 1;
            self.de.reader.skip_value(depth, "table array value")?;
        }
        if !self.done {
            self.done = true;
            self.de.reader.skip_pairs(depth - 1)?;
        }
        Ok(())
    }
}

impl<'de> de::MapAccess<'de> for TableMap<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        while self.array_left > 0 {
            self.array_left -= 1;
            self.index += 1;
            // A nil in the array part is a hole: that key is absent.
            if self.de.eat_terminator() {
                continue;
            }
            return seed.deserialize(self.index.into_deserializer()).map(Some);
        }
        if self.done {
            return Ok(None);
        }
        // Struct keys are short strings: one test of the tag covers the
        // terminator and NaN checks. The key is read at a single call site,
        // so that the key's visitor is inlined once, into this loop.
        if !matches!(self.de.reader.peek(), Some(t) if t & 7 == TYPE_SHORT_STRING) {
            if self.de.eat_terminator() {
                self.done = true;
                return Ok(None);
            }
            if self.de.reader.peek() == Some(TAG_REAL) && self.de.reader.next_is_nan() {
                return Err(ErrorKind::NanKey {
                    offset: self.de.reader.pos(),
                }
                .into());
            }
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}
