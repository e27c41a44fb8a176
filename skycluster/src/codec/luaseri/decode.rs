//! Reading lua-seri: the [`Reader`] shared by [`unpack`] and the serde
//! [`Deserializer`](super::Deserializer).
//!
//! The reader accepts everything Skynet's `lua-seri.c` accepts (nil and
//! boolean cookies it ignores, non-canonical number widths, the long form
//! for short strings, holes in either part of a table) and rejects what it
//! rejects, naming the byte offset. Unlike Skynet it caps nesting at
//! [`MAX_UNPACK_DEPTH`](super::MAX_UNPACK_DEPTH), and it never preallocates
//! more table slots in total than there are input bytes, since every value
//! takes at least one byte.

use super::encode::{
    COOKIE_ESCAPE, NUMBER_BYTE, NUMBER_DWORD, NUMBER_QWORD, NUMBER_REAL, NUMBER_WORD, NUMBER_ZERO,
    TAG_REAL, TYPE_BOOLEAN, TYPE_LONG_STRING, TYPE_NIL, TYPE_NUMBER, TYPE_SHORT_STRING, TYPE_TABLE,
    TYPE_USERDATA,
};
use super::error::{Error, ErrorKind, Result};
use super::value::{Table, Value};
use super::MAX_UNPACK_DEPTH;

/// One value's tag and payload, with a table reduced to its array count.
///
/// A word-sized discriminant: with a byte-sized one the tag is stored as a
/// byte and reloaded as part of a word, which stalls store forwarding on
/// every value read (it tripled decode time).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(u64)]
pub(crate) enum Item<'de> {
    Nil,
    Bool(bool),
    Int(i64),
    Real(f64),
    Str(&'de [u8]),
    Ptr(u64),
    /// A table header; the array count follows, then pairs up to a nil key.
    Table(usize),
}

/// How an integer number tag's payload reads, by cookie.
#[derive(Clone, Copy)]
struct IntForm {
    /// Payload bytes; more than 8 for cookies that are not integers.
    len: u8,
    /// The shift that sign-extends the payload (dwords only).
    shift: u8,
    /// The payload bits of an 8-byte little-endian load.
    mask: u64,
}

impl IntForm {
    const fn new(len: u8, shift: u8, mask: u64) -> IntForm {
        IntForm { len, shift, mask }
    }
}

const fn int_tag(cookie: u8) -> usize {
    (cookie << 3 | TYPE_NUMBER) as usize
}

/// By whole tag byte, so that one lookup checks the type and the cookie.
const INT_FORMS: [IntForm; 256] = {
    // Tags that are not integer numbers keep the impossible length.
    let mut forms = [IntForm::new(u8::MAX, 0, 0); 256];
    forms[int_tag(NUMBER_ZERO)] = IntForm::new(0, 0, 0);
    forms[int_tag(NUMBER_BYTE)] = IntForm::new(1, 0, 0xff);
    forms[int_tag(NUMBER_WORD)] = IntForm::new(2, 0, 0xffff);
    forms[int_tag(NUMBER_DWORD)] = IntForm::new(4, 32, 0xffff_ffff);
    forms[int_tag(NUMBER_QWORD)] = IntForm::new(8, 0, u64::MAX);
    forms
};

/// A cursor over lua-seri bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'de> {
    input: &'de [u8],
    pos: usize,
    /// Table slots that may still be preallocated. Each table's claimed
    /// count draws on it, so nested headers that each claim the whole rest
    /// of the input can't multiply the allocation.
    budget: usize,
    /// Pairs of the tables being read into [`Value`]s, innermost last: each
    /// table's pairs move out into a vector of exactly their number, rather
    /// than one grown (and reallocated) a pair at a time.
    pairs: Vec<(Value, Value)>,
}

impl<'de> Reader<'de> {
    pub(crate) fn new(input: &'de [u8]) -> Self {
        Reader {
            input,
            pos: 0,
            budget: input.len(),
            pairs: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn is_at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// The next tag byte, not consumed.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Consumes one byte the caller has already peeked.
    #[inline]
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// How many slots a table claiming `n` values may preallocate.
    #[inline]
    pub(crate) fn capacity_for(&mut self, n: usize) -> usize {
        let c = n.min(self.budget);
        self.budget -= c;
        c
    }

    #[inline]
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'de [u8]> {
        match self.input.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(Error::truncated(self.pos, what, n as u64, self.remaining())),
        }
    }

    #[inline]
    fn take_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        // `take` returned exactly N bytes.
        <[u8; N]>::try_from(bytes).map_err(|_| Error::truncated(self.pos, what, N as u64, 0))
    }

    #[inline]
    pub(crate) fn read_tag(&mut self, what: &'static str) -> Result<u8> {
        match self.peek() {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(Error::truncated(self.pos, what, 1, 0)),
        }
    }

    // The `try_*` readers take the common forms of one type and return
    // something small enough for registers, so the serde hot paths never
    // build an `Item` in memory. On `None` nothing was consumed.

    #[inline(always)]
    pub(crate) fn try_int(&mut self) -> Option<i64> {
        let start = self.pos;
        // The tag and eight bytes after it (true but near the end of a
        // buffer): one load and a mask instead of a jump table on the width.
        let head = self.input.get(start..)?.first_chunk::<9>()?;
        let (&t, rest) = head.split_first()?;
        let form = INT_FORMS[usize::from(t)];
        if form.len > 8 {
            return None;
        }
        let bytes = <[u8; 8]>::try_from(rest).ok()?;
        let raw = u64::from_le_bytes(bytes) & form.mask;
        // A dword is signed: shift its sign bit to the top and back.
        let v = ((raw << form.shift) as i64) >> form.shift;
        self.pos = start + 1 + usize::from(form.len);
        Some(v)
    }

    #[inline(always)]
    pub(crate) fn try_real(&mut self) -> Option<f64> {
        let start = self.pos;
        let (&t, rest) = self.input.get(start..)?.split_first()?;
        if t != TAG_REAL {
            return None;
        }
        // One 8-byte load; a slice pattern binding each byte assembles them
        // one by one.
        let bytes = <[u8; 8]>::try_from(rest.get(..8)?).ok()?;
        self.pos = start + 9;
        Some(f64::from_le_bytes(bytes))
    }

    #[inline(always)]
    pub(crate) fn try_bool(&mut self) -> Option<bool> {
        let t = self.peek()?;
        if t & 7 != TYPE_BOOLEAN {
            return None;
        }
        self.pos += 1;
        Some(t >> 3 != 0)
    }

    /// A string in its short form.
    #[inline(always)]
    pub(crate) fn try_short_str(&mut self) -> Option<&'de [u8]> {
        let start = self.pos;
        let (&t, rest) = self.input.get(start..)?.split_first()?;
        if t & 7 != TYPE_SHORT_STRING {
            return None;
        }
        let len = usize::from(t >> 3);
        let s = rest.get(..len)?;
        self.pos = start + 1 + len;
        Some(s)
    }

    /// A table header whose count fits in the cookie.
    #[inline(always)]
    pub(crate) fn try_table(&mut self) -> Option<usize> {
        let t = self.peek()?;
        if t & 7 != TYPE_TABLE || t >> 3 == COOKIE_ESCAPE {
            return None;
        }
        self.pos += 1;
        Some(usize::from(t >> 3))
    }

    /// Reads one tag and its payload; for a table, only the header.
    /// `what` names the value in a truncation error.
    ///
    /// The forms Skynet writes for small values are decoded inline; the
    /// rest, and every error, go through [`Self::read_item_slow`].
    #[inline(always)]
    pub(crate) fn read_item(&mut self, what: &'static str) -> Result<Item<'de>> {
        let start = self.pos;
        if let Some((&t, rest)) = self.input.get(start..).and_then(<[u8]>::split_first) {
            let cookie = t >> 3;
            match t & 7 {
                TYPE_SHORT_STRING => {
                    let len = usize::from(cookie);
                    if let Some(s) = rest.get(..len) {
                        self.pos = start + 1 + len;
                        return Ok(Item::Str(s));
                    }
                }
                TYPE_NUMBER => match (cookie, rest) {
                    (NUMBER_ZERO, _) => {
                        self.pos = start + 1;
                        return Ok(Item::Int(0));
                    }
                    (NUMBER_BYTE, [b, ..]) => {
                        self.pos = start + 2;
                        return Ok(Item::Int(i64::from(*b)));
                    }
                    (NUMBER_WORD, [b0, b1, ..]) => {
                        self.pos = start + 3;
                        return Ok(Item::Int(i64::from(u16::from_le_bytes([*b0, *b1]))));
                    }
                    (NUMBER_DWORD, [b0, b1, b2, b3, ..]) => {
                        self.pos = start + 5;
                        return Ok(Item::Int(i64::from(i32::from_le_bytes([
                            *b0, *b1, *b2, *b3,
                        ]))));
                    }
                    _ => {}
                },
                TYPE_TABLE if cookie < COOKIE_ESCAPE => {
                    self.pos = start + 1;
                    return Ok(Item::Table(usize::from(cookie)));
                }
                TYPE_NIL => {
                    self.pos = start + 1;
                    return Ok(Item::Nil);
                }
                TYPE_BOOLEAN => {
                    self.pos = start + 1;
                    return Ok(Item::Bool(cookie != 0));
                }
                _ => {}
            }
        }
        self.read_item_slow(what)
    }

    #[inline(never)]
    fn read_item_slow(&mut self, what: &'static str) -> Result<Item<'de>> {
        let start = self.pos;
        let t = self.read_tag(what)?;
        let cookie = t >> 3;
        Ok(match t & 7 {
            // Skynet ignores the cookie of nil and treats any non-zero boolean cookie as true.
            TYPE_NIL => Item::Nil,
            TYPE_BOOLEAN => Item::Bool(cookie != 0),
            TYPE_NUMBER => {
                if cookie == NUMBER_REAL {
                    Item::Real(f64::from_bits(u64::from_le_bytes(self.take_array("real")?)))
                } else {
                    Item::Int(self.read_integer(start, cookie)?)
                }
            }
            TYPE_USERDATA => Item::Ptr(u64::from_le_bytes(self.take_array("light userdata")?)),
            TYPE_SHORT_STRING => Item::Str(self.take(usize::from(cookie), "string")?),
            TYPE_LONG_STRING => {
                let len = match cookie {
                    2 => usize::from(u16::from_le_bytes(self.take_array("string length")?)),
                    4 => {
                        let len = u32::from_le_bytes(self.take_array("string length")?);
                        usize::try_from(len).map_err(|_| {
                            Error::truncated(self.pos, "string", u64::from(len), self.remaining())
                        })?
                    }
                    _ => {
                        return Err(ErrorKind::InvalidStringCookie {
                            offset: start,
                            cookie,
                        }
                        .into())
                    }
                };
                Item::Str(self.take(len, "string")?)
            }
            TYPE_TABLE => Item::Table(self.read_table_count(cookie)?),
            _ => {
                return Err(ErrorKind::InvalidTag {
                    offset: start,
                    tag: t,
                }
                .into())
            }
        })
    }

    /// The payload of an integer number tag at `start` with `cookie`.
    #[inline]
    fn read_integer(&mut self, start: usize, cookie: u8) -> Result<i64> {
        Ok(match cookie {
            NUMBER_ZERO => 0,
            NUMBER_BYTE => i64::from(self.take_array::<1>("byte")?[0]),
            NUMBER_WORD => i64::from(u16::from_le_bytes(self.take_array("word")?)),
            NUMBER_DWORD => i64::from(i32::from_le_bytes(self.take_array("dword")?)),
            NUMBER_QWORD => i64::from_le_bytes(self.take_array("qword")?),
            _ => {
                return Err(ErrorKind::InvalidNumberCookie {
                    offset: start,
                    cookie,
                }
                .into())
            }
        })
    }

    fn read_table_count(&mut self, cookie: u8) -> Result<usize> {
        if cookie != COOKIE_ESCAPE {
            return Ok(usize::from(cookie));
        }
        let start = self.pos;
        let t = self.read_tag("table array count")?;
        if t & 7 != TYPE_NUMBER || t >> 3 == NUMBER_REAL {
            return Err(ErrorKind::InvalidTableCount {
                offset: start,
                tag: t,
            }
            .into());
        }
        let count = self.read_integer(start, t >> 3)?;
        let n = usize::try_from(count).map_err(|_| ErrorKind::NegativeTableCount {
            offset: start,
            count,
        })?;
        // Each element takes at least one byte, so a larger count can only
        // end in truncation; say so now rather than after reading them all.
        if n > self.remaining() {
            return Err(Error::truncated(
                self.pos,
                "table array",
                n as u64,
                self.remaining(),
            ));
        }
        Ok(n)
    }

    /// Reads a whole value. `depth` is the number of tables around it.
    pub(crate) fn read_value(&mut self, depth: usize, what: &'static str) -> Result<Value> {
        let start = self.pos;
        Ok(match self.read_item(what)? {
            Item::Nil => Value::Nil,
            Item::Bool(b) => Value::Boolean(b),
            Item::Int(i) => Value::Integer(i),
            Item::Real(f) => Value::Real(f),
            Item::Str(s) => Value::String(s.to_vec()),
            Item::Ptr(p) => Value::LightUserdata(p),
            Item::Table(n) => Value::Table(self.read_table_body(start, n, depth)?),
        })
    }

    /// Reads the array part and pairs of a table whose header (at `start`,
    /// claiming `n` array values) was just read.
    pub(crate) fn read_table_body(
        &mut self,
        start: usize,
        n: usize,
        depth: usize,
    ) -> Result<Table> {
        check_depth(start, depth)?;
        let mut array = Vec::with_capacity(self.capacity_for(n));
        for _ in 0..n {
            array.push(self.read_value(depth + 1, "table array value")?);
        }
        let hash = self.read_pairs(depth)?;
        Ok(Table { array, hash })
    }

    /// Reads the key/value part of a table at `depth`, through its terminator.
    pub(crate) fn read_pairs(&mut self, depth: usize) -> Result<Vec<(Value, Value)>> {
        let base = self.pairs.len();
        loop {
            let key_start = self.pos;
            let key = self.read_value(depth + 1, "table key")?;
            match key {
                Value::Nil => return Ok(self.pairs.drain(base..).collect()),
                Value::Real(f) if f.is_nan() => {
                    return Err(ErrorKind::NanKey { offset: key_start }.into())
                }
                _ => {}
            }
            let value = self.read_value(depth + 1, "table value")?;
            self.pairs.push((key, value));
        }
    }

    /// Whether the next value is a real NaN, which Skynet refuses as a table key.
    #[inline]
    pub(crate) fn next_is_nan(&self) -> bool {
        match self.input.get(self.pos..).and_then(|rest| rest.get(..9)) {
            Some([TAG_REAL, bits @ ..]) => <[u8; 8]>::try_from(bits)
                .map(|b| f64::from_le_bytes(b).is_nan())
                .unwrap_or(false),
            _ => false,
        }
    }

    /// Checks a value without building it.
    pub(crate) fn skip_value(&mut self, depth: usize, what: &'static str) -> Result<()> {
        let start = self.pos;
        if let Item::Table(n) = self.read_item(what)? {
            self.skip_table_body(start, n, depth)?;
        }
        Ok(())
    }

    pub(crate) fn skip_table_body(&mut self, start: usize, n: usize, depth: usize) -> Result<()> {
        check_depth(start, depth)?;
        for _ in 0..n {
            self.skip_value(depth + 1, "table array value")?;
        }
        self.skip_pairs(depth)
    }

    /// Skips the key/value part of a table at `depth`, through its terminator.
    pub(crate) fn skip_pairs(&mut self, depth: usize) -> Result<()> {
        loop {
            let key_start = self.pos;
            match self.read_item("table key")? {
                Item::Nil => return Ok(()),
                Item::Real(f) if f.is_nan() => {
                    return Err(ErrorKind::NanKey { offset: key_start }.into())
                }
                Item::Table(n) => self.skip_table_body(key_start, n, depth + 1)?,
                _ => {}
            }
            self.skip_value(depth + 1, "table value")?;
        }
    }
}

/// A table whose header sits at `start` inside `depth` other tables.
#[inline]
pub(crate) fn check_depth(start: usize, depth: usize) -> Result<()> {
    if depth >= MAX_UNPACK_DEPTH {
        return Err(ErrorKind::TooDeepToUnpack {
            offset: start,
            limit: MAX_UNPACK_DEPTH,
        }
        .into());
    }
    Ok(())
}

/// Unpacks every value in `input`, as `skynet.unpack` does: values are read
/// until the buffer is used up, nils included, and an empty buffer holds no
/// values.
///
/// # Errors
///
/// Whatever Skynet rejects (a type-7 tag, a bad number or long-string
/// cookie, a non-integer table count, a NaN table key, a value cut short),
/// and tables nested deeper than [`MAX_UNPACK_DEPTH`](super::MAX_UNPACK_DEPTH).
/// Each error names the byte offset.
///
/// # Examples
///
/// ```
/// use skycluster::codec::luaseri::{unpack, Value};
///
/// let values = unpack(&[0x0a, 0x01, 0x00])?;
/// assert_eq!(values, [Value::Integer(1), Value::Nil]);
///
/// let err = unpack(&[0x22, 0x00, 0x00, 0x01]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "unexpected end of input at byte 1: dword needs 4 byte(s), 3 left"
/// );
/// # Ok::<(), skycluster::codec::luaseri::Error>(())
/// ```
pub fn unpack(input: &[u8]) -> Result<Vec<Value>> {
    let mut reader = Reader::new(input);
    let mut values = Vec::new();
    while !reader.is_at_end() {
        values.push(reader.read_value(0, "value")?);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::super::encode::write_integer;
    use super::*;

    fn one(bytes: &[u8]) -> Result<Value> {
        let mut values = unpack(bytes)?;
        assert_eq!(values.len(), 1, "{bytes:02x?}");
        Ok(values.remove(0))
    }

    #[test]
    fn non_canonical_forms_are_accepted() {
        assert_eq!(one(&[0x32, 1, 0, 0, 0, 0, 0, 0, 0]), Ok(Value::Integer(1)));
        assert_eq!(one(&[0x12, 0xff, 0xff]), Ok(Value::Integer(65535)));
        assert_eq!(one(&[0x15, 3, 0, b'a', b'b', b'c']), Ok(Value::from("abc")));
        assert_eq!(
            one(&[0xfe, 0x0a, 0x02, 0x02, 0x02, 0x00]),
            Ok(Value::from(vec![Value::Integer(0), Value::Integer(0)]))
        );
        assert_eq!(one(&[0x11]), Ok(Value::Boolean(true)));
        assert_eq!(one(&[0xf8]), Ok(Value::Nil));
        assert_eq!(
            one(&[0x0b, 1, 2, 3, 4, 5, 6, 7, 8]),
            Ok(Value::LightUserdata(0x0807060504030201))
        );
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(
            unpack(&[0x02, 0x1d, 0, 0, 0]),
            Err(ErrorKind::InvalidStringCookie {
                offset: 1,
                cookie: 3
            }
            .into())
        );
        assert_eq!(
            unpack(&[0x4a, 0, 0]),
            Err(ErrorKind::InvalidNumberCookie {
                offset: 0,
                cookie: 9
            }
            .into())
        );
        assert_eq!(
            unpack(&[0xfe, 0x42, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
            Err(ErrorKind::InvalidTableCount {
                offset: 1,
                tag: 0x42
            }
            .into())
        );
        assert_eq!(
            unpack(&[0xfe, 0x22, 0xff, 0xff, 0xff, 0xff]),
            Err(ErrorKind::NegativeTableCount {
                offset: 1,
                count: -1
            }
            .into())
        );
        assert_eq!(
            unpack(&[0x06, 0x42, 0, 0, 0, 0, 0, 0, 0xf8, 0xff, 0x02, 0x00]),
            Err(ErrorKind::NanKey { offset: 1 }.into())
        );
        assert!(matches!(
            unpack(&[0x1e, 0x02]).map_err(Error::into_kind),
            Err(ErrorKind::Truncated {
                offset: 2,
                what: "table array value",
                ..
            })
        ));
        assert!(matches!(
            unpack(&[0xfe, 0x32, 0, 0, 0, 0, 0, 0, 0, 0x10]).map_err(Error::into_kind),
            Err(ErrorKind::Truncated {
                what: "table array",
                ..
            })
        ));
    }

    #[test]
    fn depth_is_capped_without_overflowing_the_stack() {
        let mut deep = vec![0x0e; MAX_UNPACK_DEPTH];
        deep.push(0x00);
        deep.extend(std::iter::repeat_n(0x00, MAX_UNPACK_DEPTH));
        assert!(unpack(&deep).is_ok());
        let mut reader = Reader::new(&deep);
        assert!(reader.skip_value(0, "value").is_ok());

        let too_deep = vec![0x0e; 1_000_000];
        assert_eq!(
            unpack(&too_deep),
            Err(ErrorKind::TooDeepToUnpack {
                offset: MAX_UNPACK_DEPTH,
                limit: MAX_UNPACK_DEPTH
            }
            .into())
        );
        let mut reader = Reader::new(&too_deep);
        assert!(reader.skip_value(0, "value").is_err());
    }

    #[test]
    fn fast_number_reads_agree_with_read_item() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for v in [
            0i64,
            1,
            255,
            256,
            65535,
            65536,
            -1,
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ] {
            let mut buf = Vec::new();
            write_integer(&mut buf, v);
            cases.push(buf);
        }
        // Non-canonical widths, a dword's sign, a real, and tags that are
        // not integers.
        cases.push(vec![0x32, 1, 0, 0, 0, 0, 0, 0, 0]);
        cases.push(vec![0x22, 0xfe, 0xff, 0xff, 0xff]);
        cases.push(vec![0x22, 0xfe, 0xff, 0xff, 0x7f]);
        cases.push(vec![0x42, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
        cases.push(vec![0x1a, 0]);
        cases.push(vec![0x4a, 0]);
        cases.push(vec![0x0c, b'x']);
        for case in cases {
            // Right at the end of the input, and with bytes after it.
            for pad in [0, 1, 8] {
                let mut bytes = case.clone();
                bytes.extend(std::iter::repeat_n(0, pad));
                let expected = Reader::new(&bytes).read_item("value").ok();
                let mut fast = Reader::new(&bytes);
                match fast.try_int() {
                    Some(i) => assert_eq!(expected, Some(Item::Int(i)), "{bytes:02x?}"),
                    None => assert_eq!(fast.pos(), 0, "{bytes:02x?}"),
                }
                if fast.pos() > 0 {
                    assert_eq!(fast.pos(), case.len(), "{bytes:02x?}");
                }
                let mut fast = Reader::new(&bytes);
                match fast.try_real() {
                    Some(f) => {
                        assert!(
                            matches!(expected, Some(Item::Real(g)) if g.to_bits() == f.to_bits())
                        );
                        assert_eq!(fast.pos(), 9);
                    }
                    None => assert_eq!(fast.pos(), 0, "{bytes:02x?}"),
                }
            }
        }
    }

    #[test]
    fn nested_claims_share_one_preallocation_budget() {
        // Every header claims 255 values; together they may only reserve
        // as many slots as there are bytes.
        let mut reader = Reader::new(&[0u8; 100]);
        let total: usize = (0..10).map(|_| reader.capacity_for(255)).sum();
        assert_eq!(total, 100);
    }
}
