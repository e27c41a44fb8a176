//! What a service looks like from outside: its methods, their parameters
//! and results as the codec carries them, read from the types' serde shape.
//!
//! `#[service]` gives every trait a [`Service::schema`](crate::Service::schema):
//! a [`ServiceSchema`] made when it is called, by tracing each parameter
//! and return type through its `Deserialize` impl: the impl is fed sample
//! values by a deserializer that writes down what it is asked for, pass
//! after pass until every variant of every enum has been seen. What it
//! holds is the shape on the wire, not the Rust spelling: a newtype is its
//! inner value, `[u8; 4]` is a tuple of four, `Bytes` is bytes.
//!
//! * [`ServiceSchema`], [`MethodSchema`], [`Param`]: the service and its
//!   methods, in the order the trait declares them.
//! * [`Shape`]: one value's shape; [`Container`], [`Field`], [`Variant`]
//!   and [`VariantShape`]: the named structs and enums it refers to, kept
//!   once per service in [`ServiceSchema::types`].
//! * [`lua_stub`] and [`write_lua_stubs`]: a Lua module that calls a
//!   `codec = lua` service the way its trait says, with Lua language-server
//!   annotations.
//!
//! Everything here is deterministic: the same trait gives the same schema,
//! field for field, on every build (methods and fields in declaration
//! order, named types sorted by name), so a schema can be compared or
//! hashed.
//!
//! # What cannot be traced
//!
//! A part of a type whose shape depends on the data, not the type, is
//! [`Shape::Any`], with the reason: a `Deserialize` that asks the input what
//! comes next (`deserialize_any`), as
//! [`luaseri::Value`](crate::codec::luaseri::Value) does. A type that
//! cannot be traced at all is `Any` as a whole: one that refuses the
//! sample values (zeros and empty strings, then ones and `"a"`), such as a
//! parsed string, and the self-describing serde attributes
//! (`#[serde(untagged)]`, `#[serde(tag = "...")]`, `#[serde(flatten)]`).
//!
//! Recursive types are fine, whichever variant recurses. Serde names types
//! without their module path, so two different types of one name (`a::Id`
//! and `b::Id`, or `Page<u8>` and `Page<String>`) are kept apart as `Id`
//! and `Id_2`, in the order they are met.
//!
//! # Examples
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use skycluster::schema::{CodecKind, Container, Shape};
//! use skycluster::Service;
//!
//! #[derive(Serialize, Deserialize)]
//! pub enum GameMode {
//!     Duel,
//!     Team { size: u8 },
//! }
//!
//! #[skycluster::service(codec = lua)]
//! pub trait BattleMgr {
//!     async fn create_room(&self, mode: GameMode, players: Vec<u64>) -> Result<u32, String>;
//! }
//!
//! let schema = <dyn BattleMgr as Service>::schema().expect("made by #[service]");
//! assert_eq!(schema.codec, CodecKind::Lua);
//! let create = &schema.methods[0];
//! assert_eq!(create.name, "create_room");
//! assert_eq!(create.params[0].shape, Shape::Named("GameMode".into()));
//! assert_eq!(create.params[1].shape, Shape::Seq(Box::new(Shape::Int { signed: false, bits: 64 })));
//! assert!(matches!(create.returns, Shape::Outcome { .. }));
//! assert!(matches!(schema.types["GameMode"], Container::Enum(ref v) if v.len() == 2));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) mod builder;
mod fingerprint;
mod lua;
pub(crate) mod trace;

pub use fingerprint::{Difference, Fingerprint, Fingerprints};
pub use lua::{lua_module_name, lua_stub, write_lua_stubs, StubError};

/// One service: its name, its codec, its methods and the named types they
/// use.
///
/// Made by [`Service::schema`](crate::Service::schema); see the
/// [module](self) docs for an example.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceSchema {
    /// The name it registers under ([`Service::NAME`](crate::Service::NAME)).
    pub name: String,
    /// The Rust trait it was generated from.
    pub trait_name: String,
    /// The payload format of its calls and replies.
    pub codec: CodecKind,
    /// Its methods, in the order the trait declares them.
    pub methods: Vec<MethodSchema>,
    /// The structs and enums [`Shape::Named`] refers to, by name.
    pub types: BTreeMap<String, Container>,
}

/// The payload format of a service, as `#[service(codec = ...)]` chose it.
///
/// # Examples
///
/// ```
/// use skycluster::schema::CodecKind;
///
/// assert_eq!(CodecKind::Lua.to_string(), "lua");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CodecKind {
    /// [`codec::Bincode`](crate::codec::Bincode), the default.
    Bincode,
    /// `codec::Postcard` (the `postcard`
    /// feature).
    Postcard,
    /// [`codec::Lua`](crate::codec::Lua): lua-seri with Skynet's calling
    /// convention.
    Lua,
    /// Another [`Codec`](crate::codec::Codec), by its Rust type name (as
    /// [`std::any::type_name`] gives it, which may change between compiler
    /// versions).
    Other(String),
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecKind::Bincode => f.write_str("bincode"),
            CodecKind::Postcard => f.write_str("postcard"),
            CodecKind::Lua => f.write_str("lua"),
            CodecKind::Other(name) => f.write_str(name),
        }
    }
}

/// One method of a service.
///
/// # Examples
///
/// ```
/// use skycluster::{HandlerError, Service};
///
/// #[skycluster::service(codec = lua)]
/// pub trait Rooms {
///     async fn join(&self, room: u32) -> Result<u32, HandlerError>;
///     #[push]
///     async fn leave(&self, room: u32);
/// }
///
/// let schema = <dyn Rooms as Service>::schema().unwrap();
/// let (join, leave) = (&schema.methods[0], &schema.methods[1]);
/// // `Result<T, HandlerError>`: the reply is `T`, an `Err` an error frame.
/// assert!(join.raises && !join.push);
/// assert_eq!(join.returns, skycluster::schema::Shape::Int { signed: false, bits: 32 });
/// assert!(leave.push && !leave.raises);
/// assert_eq!(leave.params[0].name, "room");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MethodSchema {
    /// Its name on the wire.
    pub name: String,
    /// Marked `#[push]`: sent without waiting for a reply.
    pub push: bool,
    /// Returns `Result<T, HandlerError>`: `Err` travels as an error frame
    /// (a Lua caller's `cluster.call` raises it), and [`returns`] is `T`.
    ///
    /// [`returns`]: MethodSchema::returns
    pub raises: bool,
    /// Its parameters (`&self` excluded), in order.
    pub params: Vec<Param>,
    /// What a reply carries: the return type, or `T` when the method
    /// [`raises`](MethodSchema::raises); [`Shape::Unit`] for a push.
    pub returns: Shape,
}

/// One parameter of a method.
///
/// # Examples
///
/// ```
/// use skycluster::schema::Param;
///
/// fn describe(param: &Param) -> String {
///     format!("{}: {:?}", param.name, param.shape)
/// }
/// # let _ = describe;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Param {
    /// The name the trait gives it (`__argN` for a `_` pattern).
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// The shape of one value, as serde presents it to a format.
///
/// # Examples
///
/// ```
/// use skycluster::schema::Shape;
///
/// fn is_text(shape: &Shape) -> bool {
///     matches!(shape, Shape::String | Shape::Char)
/// }
/// assert!(is_text(&Shape::String));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Shape {
    /// `()`.
    Unit,
    /// `bool`.
    Bool,
    /// An integer of `bits` bits (8 to 128).
    Int {
        /// `i*` rather than `u*`.
        signed: bool,
        /// Its width.
        bits: u8,
    },
    /// `f32` (`bits: 32`) or `f64` (`bits: 64`).
    Float {
        /// Its width.
        bits: u8,
    },
    /// `char`.
    Char,
    /// `String`, `str`.
    String,
    /// Bytes: `Bytes`, `serde_bytes::ByteBuf` (not `Vec<u8>`, which is a
    /// sequence of integers).
    Bytes,
    /// `Option<T>`.
    Option(Box<Shape>),
    /// A sequence: `Vec<T>`, `VecDeque<T>`, sets.
    Seq(Box<Shape>),
    /// A tuple, and a fixed-size array (`[T; N]` is a tuple of `N` `T`s).
    Tuple(Vec<Shape>),
    /// A map: `HashMap<K, V>`, `BTreeMap<K, V>`.
    Map {
        /// The keys' shape.
        key: Box<Shape>,
        /// The values' shape.
        value: Box<Shape>,
    },
    /// `Result<T, E>`: an enum named `Result` with the newtype variants `Ok`
    /// and `Err`. The Lua codec gives it Lua's `value` / `nil, err`
    /// convention as a reply; elsewhere it is an enum like any other.
    ///
    /// (Not called `Result`: a public item of that name anywhere makes
    /// rustc spell `std::result::Result` out in full in every error
    /// message of every crate that uses skycluster.)
    Outcome {
        /// `T`.
        ok: Box<Shape>,
        /// `E`.
        err: Box<Shape>,
    },
    /// A struct or an enum, defined in [`ServiceSchema::types`] under this
    /// name.
    Named(String),
    /// [`luaseri::Values`](crate::codec::luaseri::Values): any number of
    /// Lua values (a last parameter's `...`, or a function's `return a, b,
    /// c`).
    Values,
    /// A value whose shape could not be traced.
    Any {
        /// Why, for a person to read.
        why: String,
    },
}

/// A named struct or enum.
///
/// # Examples
///
/// ```
/// use skycluster::schema::Container;
///
/// fn kind(container: &Container) -> &'static str {
///     match container {
///         Container::Enum(_) => "enum",
///         _ => "struct",
///     }
/// }
/// assert_eq!(kind(&Container::UnitStruct), "struct");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Container {
    /// `struct Marker;`
    UnitStruct,
    /// `struct Id(u32);`
    Newtype(Shape),
    /// `struct Point(i32, i32);`
    TupleStruct(Vec<Shape>),
    /// `struct Room { id: u32, name: String }`, fields in order.
    Struct(Vec<Field>),
    /// An enum, variants in declaration order.
    Enum(Vec<Variant>),
}

/// A named field of a struct or a struct variant.
///
/// # Examples
///
/// ```
/// use skycluster::schema::Field;
///
/// fn names(fields: &[Field]) -> Vec<&str> {
///     fields.iter().map(|f| f.name.as_str()).collect()
/// }
/// assert!(names(&[]).is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Field {
    /// Its name, as serde writes it (after `#[serde(rename)]`).
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// One variant of an enum.
///
/// # Examples
///
/// ```
/// use skycluster::schema::{Variant, VariantShape};
///
/// fn is_unit(variant: &Variant) -> bool {
///     matches!(variant.shape, VariantShape::Unit)
/// }
/// # let _ = is_unit;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Variant {
    /// Its name, as serde writes it.
    pub name: String,
    /// Its index, as a binary format writes it.
    pub index: u32,
    /// What it carries.
    pub shape: VariantShape,
}

/// What an enum variant carries.
///
/// # Examples
///
/// ```
/// use skycluster::schema::{Shape, VariantShape};
///
/// let circle = VariantShape::Newtype(Shape::Float { bits: 64 });
/// assert_ne!(circle, VariantShape::Unit);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VariantShape {
    /// `Idle`
    Unit,
    /// `Hit(u32)`
    Newtype(Shape),
    /// `Move(i32, i32)`
    Tuple(Vec<Shape>),
    /// `Join { room: u32 }`
    Struct(Vec<Field>),
}
