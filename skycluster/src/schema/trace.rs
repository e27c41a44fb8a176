//! Reading a type's shape through its `Deserialize` impl: a serde
//! [`Deserializer`](de::Deserializer) that answers every request with a
//! sample value (0, `""`, one element) and writes down what was asked.
//!
//! One pass over a type sees one variant of each enum it meets, so passes
//! repeat, each enum taking its next unexplored variant, until a pass
//! finds nothing new. Every pass walks the whole type again, into options,
//! sequences and maps too, so an enum anywhere is explored, not only one
//! at the top. (serde-reflection, tried first, cuts an `Option` or a `Vec`
//! short once it has seen it, so a `Vec<Enum>` only ever showed the first
//! variant; and it recurses without end when an enum's first variant holds
//! the enum.)
//!
//! Recursive types end like this: inside a struct or enum that is already
//! being traced further out (a *re-entry*), options are `None` and
//! sequences and maps empty, and an enum takes a variant that is not being
//! traced further out. A type that recursion cannot end in (`struct S(Box<S>)`)
//! stops at a depth limit and is `Any`. Containers are told apart by their
//! Rust type, so `a::Id` and `b::Id`, or `Page<u8>` and `Page<String>`, are
//! two types (`Id` and `Id_2`) even in one parameter.

use std::any::{type_name, TypeId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use super::{Container, Field, Shape, Variant, VariantShape};
use crate::codec::luaseri::{Value, Values, VALUES_TOKEN};

/// Passes over one type, at most.
const MAX_PASSES: usize = 1024;

/// Structs and enums nested in one another, at most.
const MAX_DEPTH: usize = 128;

/// One traced type: its shape, and the named types that shape refers to.
/// (Public only for `#[service]`'s generated code, through `__private`.)
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    pub(crate) shape: Shape,
    pub(crate) types: BTreeMap<String, Container>,
}

impl Traced {
    /// A shape that refers to no named type.
    pub(crate) fn plain(shape: Shape) -> Traced {
        Traced {
            shape,
            types: BTreeMap::new(),
        }
    }

    /// [`Shape::Any`], for `why`.
    pub(crate) fn any(why: impl Into<String>) -> Traced {
        Traced::plain(Shape::Any { why: why.into() })
    }
}

/// The shape of `T` as a format that is (`human_readable`) or is not
/// human-readable sees it (serde lets a type pick its form by that:
/// addresses, times).
pub(crate) fn trace_shape<T: DeserializeOwned + 'static>(human_readable: bool) -> Traced {
    let id = TypeId::of::<T>();
    if id == TypeId::of::<Values>() {
        return Traced::plain(Shape::Values);
    }
    if id == TypeId::of::<Value>() {
        return Traced::any(ANY_VALUE);
    }
    // A `Deserialize` impl is user code: one that panics on the values
    // tracing feeds it makes this type `Any`, not the caller's panic.
    match catch_unwind(AssertUnwindSafe(|| trace::<T>(human_readable))) {
        Ok(Ok(traced)) => traced,
        Ok(Err(why)) => Traced::any(why),
        Err(_) => Traced::any("its Deserialize impl panicked while being traced"),
    }
}

/// What `deserialize_any` stands for.
const ANY_VALUE: &str = "any value: its Deserialize asks the data what it is (deserialize_any), \
                         as luaseri::Value does";

/// Traces `T` with zeros and empty strings for samples, and again with
/// ones and `"a"` if its `Deserialize` refused those (a `NonZeroU32`).
fn trace<T: DeserializeOwned>(human_readable: bool) -> Result<Traced, String> {
    let mut failure = String::new();
    for samples in [Samples::Zero, Samples::One] {
        let mut tracer = Tracer::new(human_readable, samples);
        match tracer.run::<T>() {
            Ok(top) => return Ok(Finish::new(&tracer.containers).run(&top)),
            Err(e) => {
                let retry = matches!(e, Fail::Refused(_));
                failure = describe(&e);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(failure)
}

/// A tracing failure, for a person: what went wrong, and what it usually
/// means.
fn describe(e: &Fail) -> String {
    let hint = match e {
        Fail::Refused(_) => {
            " (its Deserialize refused the sample values tracing feeds it, or needs a \
             self-describing format: #[serde(untagged)], #[serde(tag = ...)], \
             #[serde(flatten)])"
        }
        _ => "",
    };
    format!("its serde shape could not be traced: {e}{hint}")
}

/// Why a pass failed.
#[derive(Debug)]
enum Fail {
    /// The type's `Deserialize` said no (serde's `custom` errors).
    Refused(String),
    /// It asked for something tracing cannot give.
    Unsupported(&'static str),
    /// It nests deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Passes kept finding new variants.
    TooManyPasses,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Refused(msg) => f.write_str(msg),
            Fail::Unsupported(what) => write!(f, "{what} is not supported"),
            Fail::TooDeep => write!(
                f,
                "it nests more than {MAX_DEPTH} structs and enums deep (a recursive type \
                 with no Option, Vec, map or other enum variant to end on)"
            ),
            Fail::TooManyPasses => {
                write!(f, "its enums had variants left after {MAX_PASSES} passes")
            }
        }
    }
}

impl std::error::Error for Fail {}

impl de::Error for Fail {
    fn custom<T: fmt::Display>(msg: T) -> Fail {
        Fail::Refused(msg.to_string())
    }
}

/// The values a pass feeds the type.
#[derive(Clone, Copy, Debug)]
enum Samples {
    Zero,
    One,
}

impl Samples {
    fn int(self) -> u8 {
        match self {
            Samples::Zero => 0,
            Samples::One => 1,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Samples::Zero => "",
            Samples::One => "a",
        }
    }
}

/// A shape while tracing: `Unknown` where no pass has been yet, and named
/// containers by their index in [`Tracer::containers`].
#[derive(Clone, Debug, PartialEq)]
enum Sh {
    Unknown,
    Unit,
    Bool,
    Int { signed: bool, bits: u8 },
    Float { bits: u8 },
    Char,
    String,
    Bytes,
    Option(Box<Sh>),
    Seq(Box<Sh>),
    Tuple(Vec<Sh>),
    Map(Box<Sh>, Box<Sh>),
    Named(usize),
    Values,
    Any(&'static str),
}

/// A named container while tracing.
#[derive(Clone, Debug)]
struct Recorded {
    /// Its serde name.
    name: &'static str,
    def: Def,
}

#[derive(Clone, Debug)]
enum Def {
    Unit,
    Newtype(Sh),
    Tuple(Vec<Sh>),
    Struct(Vec<(&'static str, Sh)>),
    Enum {
        variants: &'static [&'static str],
        /// Each variant's shape, once a pass has been through it.
        shapes: Vec<Option<VDef>>,
        /// Visits once every variant was explored: they go round, so that
        /// an enum reachable through one variant only is reached again.
        turns: usize,
    },
}

#[derive(Clone, Debug)]
enum VDef {
    Unit,
    Newtype(Sh),
    Tuple(Vec<Sh>),
    Struct(Vec<(&'static str, Sh)>),
}

/// Fills in what `into` does not know yet from `new`.
fn merge(into: &mut Sh, new: Sh) {
    match (into, new) {
        (_, Sh::Unknown) => {}
        (slot @ Sh::Unknown, new) => *slot = new,
        (Sh::Option(a), Sh::Option(b)) | (Sh::Seq(a), Sh::Seq(b)) => merge(a, *b),
        (Sh::Map(ak, av), Sh::Map(bk, bv)) => {
            merge(ak, *bk);
            merge(av, *bv);
        }
        (Sh::Tuple(a), Sh::Tuple(b)) => merge_all(a, b),
        // Anything else is the same shape (one Rust type) or, for a type
        // whose impl changes its mind, the first one seen.
        _ => {}
    }
}

fn merge_all(into: &mut [Sh], new: Vec<Sh>) {
    for (a, b) in into.iter_mut().zip(new) {
        merge(a, b);
    }
}

fn merge_fields(into: &mut [(&'static str, Sh)], new: Vec<(&'static str, Sh)>) {
    for ((_, a), (_, b)) in into.iter_mut().zip(new) {
        merge(a, b);
    }
}

/// A container being traced, on the way down.
#[derive(Clone, Copy, Debug)]
struct Frame {
    container: usize,
    /// The variant taken, for an enum.
    variant: Option<usize>,
    /// The same container is being traced further out.
    reentry: bool,
}

/// What the passes over one type know.
#[derive(Debug)]
struct Tracer {
    human_readable: bool,
    samples: Samples,
    containers: Vec<Recorded>,
    /// Containers by Rust type name.
    by_type: BTreeMap<&'static str, usize>,
    stack: Vec<Frame>,
}

impl Tracer {
    fn new(human_readable: bool, samples: Samples) -> Tracer {
        Tracer {
            human_readable,
            samples,
            containers: Vec::new(),
            by_type: BTreeMap::new(),
            stack: Vec::new(),
        }
    }

    /// Passes over `T` until every variant of every enum it met has been
    /// explored.
    fn run<T: DeserializeOwned>(&mut self) -> Result<Sh, Fail> {
        let mut top = Sh::Unknown;
        for _ in 0..MAX_PASSES {
            self.stack.clear();
            let mut shape = Sh::Unknown;
            T::deserialize(De {
                tracer: self,
                out: &mut shape,
            })?;
            merge(&mut top, shape);
            if self.explored() {
                return Ok(top);
            }
        }
        Err(Fail::TooManyPasses)
    }

    /// Whether every variant of every enum met so far has been explored.
    fn explored(&self) -> bool {
        self.containers.iter().all(|c| match &c.def {
            Def::Enum { shapes, .. } => shapes.iter().all(Option::is_some),
            _ => true,
        })
    }

    /// The container of Rust type `R` (serde name `name`), recorded with
    /// `fresh` the first time.
    fn container<R: ?Sized>(&mut self, name: &'static str, fresh: impl FnOnce() -> Def) -> usize {
        let key = type_name::<R>();
        if let Some(&index) = self.by_type.get(key) {
            return index;
        }
        let index = self.containers.len();
        self.containers.push(Recorded { name, def: fresh() });
        self.by_type.insert(key, index);
        index
    }

    fn enter(&mut self, container: usize, variant: Option<usize>) -> Result<(), Fail> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Fail::TooDeep);
        }
        let reentry = self.stack.iter().any(|f| f.container == container);
        self.stack.push(Frame {
            container,
            variant,
            reentry,
        });
        Ok(())
    }

    fn leave(&mut self) {
        self.stack.pop();
    }

    /// Whether options, sequences and maps here are cut short: inside a
    /// container that is also being traced further out.
    fn cut(&self) -> bool {
        self.stack.last().is_some_and(|f| f.reentry)
    }

    /// The variant to take of enum `container` (of `n` variants): the
    /// first no pass has explored, or the next in turn; on a re-entry, one
    /// not being traced further out, explored ones first, so that
    /// recursion ends.
    fn choose(&mut self, container: usize, n: usize) -> usize {
        let explored = |i: usize| match self.containers.get(container).map(|c| &c.def) {
            Some(Def::Enum { shapes, .. }) => shapes.get(i).is_some_and(Option::is_some),
            _ => true,
        };
        let busy: Vec<usize> = self
            .stack
            .iter()
            .filter(|f| f.container == container)
            .filter_map(|f| f.variant)
            .collect();
        if busy.is_empty() {
            if let Some(unexplored) = (0..n).find(|&i| !explored(i)) {
                return unexplored;
            }
            if let Some(Recorded {
                def: Def::Enum { turns, .. },
                ..
            }) = self.containers.get_mut(container)
            {
                *turns += 1;
                return *turns % n.max(1);
            }
            return 0;
        }
        let free = || (0..n).filter(|i| !busy.contains(i));
        free()
            .find(|&i| explored(i))
            .or_else(|| free().next())
            .unwrap_or(0)
    }

    /// Merges what a pass saw of a container into what is known.
    fn record(&mut self, container: usize, def: Def) {
        let Some(known) = self.containers.get_mut(container) else {
            return;
        };
        match (&mut known.def, def) {
            (Def::Newtype(a), Def::Newtype(b)) => merge(a, b),
            (Def::Tuple(a), Def::Tuple(b)) => merge_all(a, b),
            (Def::Struct(a), Def::Struct(b)) => merge_fields(a, b),
            _ => {}
        }
    }

    fn record_variant(&mut self, container: usize, variant: usize, new: VDef) {
        let Some(Recorded {
            def: Def::Enum { shapes, .. },
            ..
        }) = self.containers.get_mut(container)
        else {
            return;
        };
        let Some(slot) = shapes.get_mut(variant) else {
            return;
        };
        match (slot, new) {
            (slot @ None, new) => *slot = Some(new),
            (Some(VDef::Newtype(a)), VDef::Newtype(b)) => merge(a, b),
            (Some(VDef::Tuple(a)), VDef::Tuple(b)) => merge_all(a, b),
            (Some(VDef::Struct(a)), VDef::Struct(b)) => merge_fields(a, b),
            _ => {}
        }
    }
}

/// Deserializes one value for the tracer, writing its shape to `out`.
struct De<'a> {
    tracer: &'a mut Tracer,
    out: &'a mut Sh,
}

macro_rules! primitive {
    ($($method:ident => $visit:ident($t:ty) as $shape:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
            *self.out = $shape;
            visitor.$visit(self.tracer.samples.int() as $t)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Fail;

    primitive! {
        deserialize_i8 => visit_i8(i8) as Sh::Int { signed: true, bits: 8 };
        deserialize_i16 => visit_i16(i16) as Sh::Int { signed: true, bits: 16 };
        deserialize_i32 => visit_i32(i32) as Sh::Int { signed: true, bits: 32 };
        deserialize_i64 => visit_i64(i64) as Sh::Int { signed: true, bits: 64 };
        deserialize_i128 => visit_i128(i128) as Sh::Int { signed: true, bits: 128 };
        deserialize_u8 => visit_u8(u8) as Sh::Int { signed: false, bits: 8 };
        deserialize_u16 => visit_u16(u16) as Sh::Int { signed: false, bits: 16 };
        deserialize_u32 => visit_u32(u32) as Sh::Int { signed: false, bits: 32 };
        deserialize_u64 => visit_u64(u64) as Sh::Int { signed: false, bits: 64 };
        deserialize_u128 => visit_u128(u128) as Sh::Int { signed: false, bits: 128 };
        deserialize_f32 => visit_f32(f32) as Sh::Float { bits: 32 };
        deserialize_f64 => visit_f64(f64) as Sh::Float { bits: 64 };
    }

    /// A type that asks the data what it is: `Any` here, and a unit for
    /// its visitor (`luaseri::Value` reads it as nil).
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Any(ANY_VALUE);
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Bool;
        visitor.visit_bool(self.tracer.samples.int() == 1)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Char;
        visitor.visit_char('a')
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::String;
        visitor.visit_borrowed_str(self.tracer.samples.text())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::String;
        visitor.visit_string(self.tracer.samples.text().to_owned())
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Bytes;
        visitor.visit_borrowed_bytes(self.tracer.samples.text().as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Bytes;
        visitor.visit_byte_buf(self.tracer.samples.text().as_bytes().to_vec())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        let mut inner = Sh::Unknown;
        let result = if self.tracer.cut() {
            visitor.visit_none()
        } else {
            visitor.visit_some(De {
                tracer: self.tracer,
                out: &mut inner,
            })
        };
        *self.out = Sh::Option(Box::new(inner));
        result
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Unit;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Fail> {
        let index = self.tracer.container::<V::Value>(name, || Def::Unit);
        *self.out = Sh::Named(index);
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Fail> {
        if name == VALUES_TOKEN {
            // `Values` reads a sequence of `Value`s, which only the data
            // could say; its visitor takes a unit as no values.
            *self.out = Sh::Values;
            return visitor.visit_unit();
        }
        let index = self
            .tracer
            .container::<V::Value>(name, || Def::Newtype(Sh::Unknown));
        self.tracer.enter(index, None)?;
        let mut inner = Sh::Unknown;
        let result = visitor.visit_newtype_struct(De {
            tracer: &mut *self.tracer,
            out: &mut inner,
        });
        self.tracer.leave();
        let value = result?;
        self.tracer.record(index, Def::Newtype(inner));
        *self.out = Sh::Named(index);
        Ok(value)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        let mut element = [Sh::Unknown];
        let elements: &mut [Sh] = if self.tracer.cut() {
            &mut []
        } else {
            &mut element
        };
        let result = visitor.visit_seq(Elements {
            tracer: &mut *self.tracer,
            outs: elements.iter_mut(),
        });
        let [element] = element;
        *self.out = Sh::Seq(Box::new(element));
        result
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Fail> {
        let mut elements = vec![Sh::Unknown; len];
        let result = visitor.visit_seq(Elements {
            tracer: &mut *self.tracer,
            outs: elements.iter_mut(),
        });
        *self.out = Sh::Tuple(elements);
        result
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Fail> {
        let index = self
            .tracer
            .container::<V::Value>(name, || Def::Tuple(vec![Sh::Unknown; len]));
        self.tracer.enter(index, None)?;
        let mut elements = vec![Sh::Unknown; len];
        let result = visitor.visit_seq(Elements {
            tracer: &mut *self.tracer,
            outs: elements.iter_mut(),
        });
        self.tracer.leave();
        let value = result?;
        self.tracer.record(index, Def::Tuple(elements));
        *self.out = Sh::Named(index);
        Ok(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        let mut entry = [Sh::Unknown, Sh::Unknown];
        let entries: &mut [Sh] = if self.tracer.cut() {
            &mut []
        } else {
            &mut entry
        };
        let result = visitor.visit_map(Elements {
            tracer: &mut *self.tracer,
            outs: entries.iter_mut(),
        });
        let [key, value] = entry;
        *self.out = Sh::Map(Box::new(key), Box::new(value));
        result
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fail> {
        let index = self.tracer.container::<V::Value>(name, || {
            Def::Struct(fields.iter().map(|&f| (f, Sh::Unknown)).collect())
        });
        self.tracer.enter(index, None)?;
        let mut shapes = vec![Sh::Unknown; fields.len()];
        // Fields in order, as a sequence: every derived struct reads one.
        let result = visitor.visit_seq(Elements {
            tracer: &mut *self.tracer,
            outs: shapes.iter_mut(),
        });
        self.tracer.leave();
        let value = result?;
        let def = Def::Struct(fields.iter().copied().zip(shapes).collect());
        self.tracer.record(index, def);
        *self.out = Sh::Named(index);
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fail> {
        if variants.is_empty() {
            return Err(Fail::Unsupported("an enum without variants"));
        }
        let index = self.tracer.container::<V::Value>(name, || Def::Enum {
            variants,
            shapes: vec![None; variants.len()],
            turns: 0,
        });
        let chosen = self.tracer.choose(index, variants.len());
        let variant = variants.get(chosen).copied().unwrap_or_default();
        self.tracer.enter(index, Some(chosen))?;
        let mut shape = None;
        let result = visitor.visit_enum(Access {
            tracer: &mut *self.tracer,
            variant,
            out: &mut shape,
        });
        self.tracer.leave();
        let value = result?;
        if let Some(shape) = shape {
            self.tracer.record_variant(index, chosen, shape);
        }
        *self.out = Sh::Named(index);
        Ok(value)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fail> {
        Err(Fail::Unsupported("deserialize_identifier outside an enum"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fail> {
        *self.out = Sh::Any("a value its Deserialize ignores");
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        self.tracer.human_readable
    }
}

/// The elements of a sequence or tuple, the fields of a struct, or the
/// key and value of a map's one entry.
struct Elements<'a, I> {
    tracer: &'a mut Tracer,
    outs: I,
}

impl<'de, 'a, I: ExactSizeIterator<Item = &'a mut Sh>> de::SeqAccess<'de> for Elements<'_, I> {
    type Error = Fail;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Fail> {
        match self.outs.next() {
            Some(out) => seed
                .deserialize(De {
                    tracer: &mut *self.tracer,
                    out,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.outs.len())
    }
}

impl<'de, 'a, I: ExactSizeIterator<Item = &'a mut Sh>> de::MapAccess<'de> for Elements<'_, I> {
    type Error = Fail;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Fail> {
        de::SeqAccess::next_element_seed(self, seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Fail> {
        de::SeqAccess::next_element_seed(self, seed)?
            .ok_or(Fail::Unsupported("a map value without its key"))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.outs.len() / 2)
    }
}

/// One enum variant, by name.
struct Access<'a> {
    tracer: &'a mut Tracer,
    variant: &'static str,
    out: &'a mut Option<VDef>,
}

impl<'de, 'a> de::EnumAccess<'de> for Access<'a> {
    type Error = Fail;
    type Variant = Access<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Access<'a>), Fail> {
        let tag = seed.deserialize(BorrowedStrDeserializer::<Fail>::new(self.variant))?;
        Ok((tag, self))
    }
}

impl<'de> de::VariantAccess<'de> for Access<'_> {
    type Error = Fail;

    fn unit_variant(self) -> Result<(), Fail> {
        *self.out = Some(VDef::Unit);
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Fail> {
        let mut inner = Sh::Unknown;
        let value = seed.deserialize(De {
            tracer: self.tracer,
            out: &mut inner,
        })?;
        *self.out = Some(VDef::Newtype(inner));
        Ok(value)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Fail> {
        let mut elements = vec![Sh::Unknown; len];
        let value = visitor.visit_seq(Elements {
            tracer: self.tracer,
            outs: elements.iter_mut(),
        })?;
        *self.out = Some(VDef::Tuple(elements));
        Ok(value)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fail> {
        let mut shapes = vec![Sh::Unknown; fields.len()];
        let value = visitor.visit_seq(Elements {
            tracer: self.tracer,
            outs: shapes.iter_mut(),
        })?;
        *self.out = Some(VDef::Struct(fields.iter().copied().zip(shapes).collect()));
        Ok(value)
    }
}

/// Turns what the passes found into [`Shape`]s, naming each container it
/// reaches: its serde name, or `Name_2`... when another type has it.
struct Finish<'a> {
    containers: &'a [Recorded],
    names: BTreeMap<usize, String>,
    taken: BTreeSet<String>,
    types: BTreeMap<String, Container>,
    /// `Result`s being written inline, to stop at one holding itself.
    inlining: Vec<usize>,
}

impl<'a> Finish<'a> {
    fn new(containers: &'a [Recorded]) -> Finish<'a> {
        Finish {
            containers,
            names: BTreeMap::new(),
            taken: BTreeSet::new(),
            types: BTreeMap::new(),
            inlining: Vec::new(),
        }
    }

    fn run(mut self, top: &Sh) -> Traced {
        let shape = self.shape(top);
        Traced {
            shape,
            types: self.types,
        }
    }

    fn shape(&mut self, sh: &Sh) -> Shape {
        match sh {
            Sh::Unknown => Shape::Any {
                why: "tracing never reached this part of it".to_owned(),
            },
            Sh::Unit => Shape::Unit,
            Sh::Bool => Shape::Bool,
            &Sh::Int { signed, bits } => Shape::Int { signed, bits },
            &Sh::Float { bits } => Shape::Float { bits },
            Sh::Char => Shape::Char,
            Sh::String => Shape::String,
            Sh::Bytes => Shape::Bytes,
            Sh::Option(inner) => Shape::Option(Box::new(self.shape(inner))),
            Sh::Seq(inner) => Shape::Seq(Box::new(self.shape(inner))),
            Sh::Tuple(elements) => Shape::Tuple(self.shapes(elements)),
            Sh::Map(key, value) => Shape::Map {
                key: Box::new(self.shape(key)),
                value: Box::new(self.shape(value)),
            },
            Sh::Named(index) => self.named(*index),
            Sh::Values => Shape::Values,
            Sh::Any(why) => Shape::Any {
                why: (*why).to_owned(),
            },
        }
    }

    fn shapes(&mut self, shs: &[Sh]) -> Vec<Shape> {
        shs.iter().map(|sh| self.shape(sh)).collect()
    }

    fn fields(&mut self, fields: &[(&'static str, Sh)]) -> Vec<Field> {
        fields
            .iter()
            .map(|(name, sh)| Field {
                name: (*name).to_owned(),
                shape: self.shape(sh),
            })
            .collect()
    }

    fn named(&mut self, index: usize) -> Shape {
        let containers = self.containers;
        let Some(recorded) = containers.get(index) else {
            return Shape::Any {
                why: "a type tracing lost".to_owned(),
            };
        };
        if let Some((ok, err)) = result_parts(recorded) {
            if !self.inlining.contains(&index) {
                self.inlining.push(index);
                let shape = Shape::Outcome {
                    ok: Box::new(self.shape(ok)),
                    err: Box::new(self.shape(err)),
                };
                self.inlining.pop();
                return shape;
            }
        }
        if let Some(name) = self.names.get(&index) {
            return Shape::Named(name.clone());
        }
        let name = fresh_name(recorded.name, &self.taken);
        self.taken.insert(name.clone());
        self.names.insert(index, name.clone());
        let container = self.container(&recorded.def);
        self.types.insert(name.clone(), container);
        Shape::Named(name)
    }

    fn container(&mut self, def: &Def) -> Container {
        match def {
            Def::Unit => Container::UnitStruct,
            Def::Newtype(inner) => Container::Newtype(self.shape(inner)),
            Def::Tuple(elements) => Container::TupleStruct(self.shapes(elements)),
            Def::Struct(fields) => Container::Struct(self.fields(fields)),
            Def::Enum {
                variants, shapes, ..
            } => Container::Enum(
                variants
                    .iter()
                    .zip(shapes)
                    .enumerate()
                    .map(|(index, (name, shape))| Variant {
                        name: (*name).to_owned(),
                        index: u32::try_from(index).unwrap_or(u32::MAX),
                        shape: match shape {
                            None => VariantShape::Newtype(Shape::Any {
                                why: "tracing never reached this variant".to_owned(),
                            }),
                            Some(VDef::Unit) => VariantShape::Unit,
                            Some(VDef::Newtype(inner)) => VariantShape::Newtype(self.shape(inner)),
                            Some(VDef::Tuple(elements)) => {
                                VariantShape::Tuple(self.shapes(elements))
                            }
                            Some(VDef::Struct(fields)) => VariantShape::Struct(self.fields(fields)),
                        },
                    })
                    .collect(),
            ),
        }
    }
}

/// `name`, or `name_2`, `name_3`... the first not `taken`.
pub(crate) fn fresh_name(name: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_owned();
    }
    (2u32..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| format!("{name}_"))
}

/// `(T, E)` when `recorded` is `Result<T, E>` as the Lua codec tells one:
/// an enum named `Result` whose variants are the newtypes `Ok` then `Err`.
fn result_parts(recorded: &Recorded) -> Option<(&Sh, &Sh)> {
    match &recorded.def {
        Def::Enum {
            variants, shapes, ..
        } if recorded.name == "Result" && *variants == ["Ok", "Err"] => match shapes.as_slice() {
            [Some(VDef::Newtype(ok)), Some(VDef::Newtype(err))] => Some((ok, err)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    use super::*;

    fn int(signed: bool, bits: u8) -> Shape {
        Shape::Int { signed, bits }
    }

    fn named(name: &str) -> Shape {
        Shape::Named(name.to_owned())
    }

    fn field(name: &str, shape: Shape) -> Field {
        Field {
            name: name.to_owned(),
            shape,
        }
    }

    fn variant(name: &str, index: u32, shape: VariantShape) -> Variant {
        Variant {
            name: name.to_owned(),
            index,
            shape,
        }
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        Idle,
        Hit(u32),
        Move(i32, i32),
        Join { room: u32, name: String },
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Inner {
        A,
        B(bool),
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        kind: Kind,
        kinds: Vec<Kind>,
        // An enum inside an enum inside a struct: found in a later round.
        nested: Option<Wrap>,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Wrap {
        Plain,
        Deep(Inner),
    }

    #[test]
    fn a_struct_with_nested_enums_has_every_variant_of_each() {
        let traced = trace_shape::<Outer>(true);
        assert_eq!(traced.shape, named("Outer"));
        assert_eq!(
            traced.types["Outer"],
            Container::Struct(vec![
                field("kind", named("Kind")),
                field("kinds", Shape::Seq(Box::new(named("Kind")))),
                field("nested", Shape::Option(Box::new(named("Wrap")))),
            ])
        );
        assert_eq!(
            traced.types["Kind"],
            Container::Enum(vec![
                variant("Idle", 0, VariantShape::Unit),
                variant("Hit", 1, VariantShape::Newtype(int(false, 32))),
                variant(
                    "Move",
                    2,
                    VariantShape::Tuple(vec![int(true, 32), int(true, 32)])
                ),
                variant(
                    "Join",
                    3,
                    VariantShape::Struct(vec![
                        field("room", int(false, 32)),
                        field("name", Shape::String)
                    ])
                ),
            ])
        );
        assert_eq!(
            traced.types["Wrap"],
            Container::Enum(vec![
                variant("Plain", 0, VariantShape::Unit),
                variant("Deep", 1, VariantShape::Newtype(named("Inner"))),
            ])
        );
        assert_eq!(
            traced.types["Inner"],
            Container::Enum(vec![
                variant("A", 0, VariantShape::Unit),
                variant("B", 1, VariantShape::Newtype(Shape::Bool)),
            ])
        );
        assert_eq!(traced.types.len(), 4);
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Tree {
        Leaf(u8),
        Node(Box<Option<Tree>>, Box<Option<Tree>>),
    }

    #[test]
    fn a_recursive_enum_refers_to_itself() {
        let traced = trace_shape::<Tree>(true);
        let tree = Shape::Option(Box::new(named("Tree")));
        assert_eq!(
            traced.types["Tree"],
            Container::Enum(vec![
                variant("Leaf", 0, VariantShape::Newtype(int(false, 8))),
                variant("Node", 1, VariantShape::Tuple(vec![tree.clone(), tree])),
            ])
        );
    }

    #[test]
    fn maps_options_tuples_and_bytes_have_their_shapes() {
        let shape = |traced: Traced| {
            assert!(traced.types.is_empty(), "{traced:?}");
            traced.shape
        };
        assert_eq!(
            shape(trace_shape::<HashMap<String, Vec<u8>>>(true)),
            Shape::Map {
                key: Box::new(Shape::String),
                value: Box::new(Shape::Seq(Box::new(int(false, 8)))),
            }
        );
        assert_eq!(
            shape(trace_shape::<BTreeMap<u16, Option<f32>>>(true)),
            Shape::Map {
                key: Box::new(int(false, 16)),
                value: Box::new(Shape::Option(Box::new(Shape::Float { bits: 32 }))),
            }
        );
        assert_eq!(
            shape(trace_shape::<Option<Option<i64>>>(true)),
            Shape::Option(Box::new(Shape::Option(Box::new(int(true, 64)))))
        );
        assert_eq!(
            shape(trace_shape::<(u8, String, ())>(true)),
            Shape::Tuple(vec![int(false, 8), Shape::String, Shape::Unit])
        );
        // `(T, T)` and `[T; N]` are tuples too, element by element.
        assert_eq!(
            shape(trace_shape::<[u8; 3]>(true)),
            Shape::Tuple(vec![int(false, 8); 3])
        );
        assert_eq!(
            shape(trace_shape::<(char, char)>(true)),
            Shape::Tuple(vec![Shape::Char; 2])
        );
        assert_eq!(shape(trace_shape::<Bytes>(true)), Shape::Bytes);
        assert_eq!(
            shape(trace_shape::<serde_bytes::ByteBuf>(false)),
            Shape::Bytes
        );
        assert_eq!(shape(trace_shape::<()>(true)), Shape::Unit);
    }

    #[test]
    fn values_are_values_at_the_top_and_inside() {
        assert_eq!(trace_shape::<Values>(true).shape, Shape::Values);
        assert_eq!(
            trace_shape::<(String, Values)>(true).shape,
            Shape::Tuple(vec![Shape::String, Shape::Values])
        );
        let traced = trace_shape::<Result<Values, String>>(true);
        assert_eq!(
            traced.shape,
            Shape::Outcome {
                ok: Box::new(Shape::Values),
                err: Box::new(Shape::String)
            }
        );
        assert!(traced.types.is_empty());
    }

    mod own {
        /// Not std's, but named and shaped like it.
        #[derive(serde::Serialize, serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) enum Result {
            Ok(u8),
            Err(String),
        }
    }

    #[test]
    fn a_result_is_recognised_by_its_name_and_variants() {
        let traced = trace_shape::<Result<Vec<u32>, Kind>>(true);
        assert_eq!(
            traced.shape,
            Shape::Outcome {
                ok: Box::new(Shape::Seq(Box::new(int(false, 32)))),
                err: Box::new(named("Kind")),
            }
        );
        assert_eq!(traced.types.keys().collect::<Vec<_>>(), ["Kind"]);
        // The Lua codec tells a `Result` by name and variants alone, and so
        // does the schema.
        assert!(matches!(
            trace_shape::<own::Result>(true).shape,
            Shape::Outcome { .. }
        ));
        // Nested, it is a `Result` too.
        assert!(matches!(
            trace_shape::<Vec<Result<u8, u8>>>(true).shape,
            Shape::Seq(inner) if matches!(*inner, Shape::Outcome { .. })
        ));
    }

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Untagged {
        A(u8),
        B(String),
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct HasValue {
        id: u32,
        extra: Value,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Picky(u8);

    impl<'de> Deserialize<'de> for Picky {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Picky, D::Error> {
            match u8::deserialize(d)? {
                7 => Ok(Picky(7)),
                _ => Err(serde::de::Error::custom("zero is not allowed, nor one")),
            }
        }
    }

    /// Uninhabited: tracing it cannot end.
    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Endless(Box<Endless>);

    #[derive(Debug)]
    struct Panics;

    impl<'de> Deserialize<'de> for Panics {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Panics, D::Error> {
            panic!("no")
        }
    }

    #[test]
    fn what_cannot_be_traced_is_any_with_the_reason() {
        let why = |traced: Traced| match traced.shape {
            Shape::Any { why } => why,
            other => panic!("not Any: {other:?}"),
        };
        assert!(why(trace_shape::<Untagged>(true)).contains("untagged"));
        assert!(why(trace_shape::<Value>(true)).contains("luaseri::Value"));
        assert!(why(trace_shape::<Picky>(true)).contains("zero is not allowed"));
        assert!(why(trace_shape::<Panics>(true)).contains("panicked"));
        assert!(why(trace_shape::<Endless>(true)).contains("nests more than"));
        // A `Value` inside a struct is `Any` there, and only there.
        let traced = trace_shape::<HasValue>(true);
        let Container::Struct(fields) = &traced.types["HasValue"] else {
            panic!("{traced:?}")
        };
        assert_eq!(fields[0], field("id", int(false, 32)));
        assert!(matches!(&fields[1].shape, Shape::Any { why } if why.contains("luaseri::Value")));
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct NonZero(u8);

    impl<'de> Deserialize<'de> for NonZero {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NonZero, D::Error> {
            match u8::deserialize(d)? {
                0 => Err(serde::de::Error::custom("zero")),
                n => Ok(NonZero(n)),
            }
        }
    }

    #[test]
    fn a_type_that_refuses_zero_is_traced_with_ones() {
        assert_eq!(
            trace_shape::<std::num::NonZeroU32>(false).shape,
            int(false, 32)
        );
        assert_eq!(
            trace_shape::<Vec<NonZero>>(false).shape,
            Shape::Seq(Box::new(int(false, 8)))
        );
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Stamp {
        at: Readable,
    }

    /// A string for people, a number for machines.
    #[derive(Serialize)]
    struct Readable;

    impl<'de> Deserialize<'de> for Readable {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Readable, D::Error> {
            if d.is_human_readable() {
                String::deserialize(d).map(|_| Readable)
            } else {
                u32::deserialize(d).map(|_| Readable)
            }
        }
    }

    #[test]
    fn a_type_may_pick_its_shape_by_how_readable_the_format_is() {
        let readable = trace_shape::<Stamp>(true);
        assert_eq!(
            readable.types["Stamp"],
            Container::Struct(vec![field("at", Shape::String)])
        );
        let binary = trace_shape::<Stamp>(false);
        assert_eq!(
            binary.types["Stamp"],
            Container::Struct(vec![field("at", int(false, 32))])
        );
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    enum Expr {
        // The first variant holds the enum: serde-reflection recursed
        // without end on this.
        Add(Box<Expr>, Box<Expr>),
        Neg(Box<Expr>),
        Lit(i64),
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Node {
        name: String,
        children: Vec<Node>,
        parent: Option<Box<Node>>,
    }

    #[derive(Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Page<T> {
        items: Vec<T>,
    }

    mod other {
        #[derive(serde::Serialize, serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Inner(pub(super) String);
    }

    #[test]
    fn enums_behind_options_sequences_and_maps_have_every_variant() {
        let traced = trace_shape::<(Vec<Inner>, Option<Kind>, BTreeMap<String, Wrap>)>(false);
        for (name, n) in [("Inner", 2), ("Kind", 4), ("Wrap", 2)] {
            let Container::Enum(variants) = &traced.types[name] else {
                panic!("{name}: {traced:?}")
            };
            assert_eq!(variants.len(), n, "{name}");
            for v in variants {
                assert!(
                    !matches!(&v.shape, VariantShape::Newtype(Shape::Any { .. })),
                    "{name}::{}",
                    v.name
                );
            }
        }
    }

    #[test]
    fn recursion_ends_whichever_variant_recurses() {
        let traced = trace_shape::<Expr>(true);
        let expr = || Shape::Named("Expr".into());
        assert_eq!(
            traced.types["Expr"],
            Container::Enum(vec![
                variant("Add", 0, VariantShape::Tuple(vec![expr(), expr()])),
                variant("Neg", 1, VariantShape::Newtype(expr())),
                variant("Lit", 2, VariantShape::Newtype(int(true, 64))),
            ])
        );
        let traced = trace_shape::<Node>(true);
        assert_eq!(
            traced.types["Node"],
            Container::Struct(vec![
                field("name", Shape::String),
                field("children", Shape::Seq(Box::new(named("Node")))),
                field("parent", Shape::Option(Box::new(named("Node")))),
            ])
        );
    }

    #[test]
    fn two_types_of_one_name_in_one_type_are_kept_apart() {
        let traced = trace_shape::<(Page<u8>, Page<String>, Inner, other::Inner)>(true);
        assert_eq!(
            traced.shape,
            Shape::Tuple(vec![
                named("Page"),
                named("Page_2"),
                named("Inner"),
                named("Inner_2")
            ])
        );
        assert_eq!(
            traced.types["Page_2"],
            Container::Struct(vec![field("items", Shape::Seq(Box::new(Shape::String)))])
        );
        assert_eq!(traced.types["Inner_2"], Container::Newtype(Shape::String));
    }

    #[test]
    fn tracing_is_deterministic() {
        assert_eq!(trace_shape::<Outer>(true), trace_shape::<Outer>(true));
    }
}
