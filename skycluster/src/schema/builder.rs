//! What `#[service]`'s `Service::schema` is made of: a [`SchemaBuilder`]
//! fed each method and the shape of each parameter and result, so that the
//! generated code reads like the trait:
//!
//! ```text
//! let mut schema = SchemaBuilder::new::<Lua>("BattleMgr", "BattleMgr");
//! schema
//!     .method("create_room", false, false)
//!     .param("mode", (&Trace::<GameMode>::new()).tracer())
//!     .returns((&Trace::<u32>::new()).tracer());
//! Some(schema.build())
//! ```
//!
//! `(&Trace::<T>::new()).tracer()` is `T`'s tracing function when `T` is a
//! serde type, and one giving `Shape::Any` otherwise: method resolution
//! picks [`ViaSerde`] (on `Trace<T>`) before [`NotSerde`] (on `&Trace<T>`,
//! one autoref further) when `T` qualifies. A non-serde type fails to
//! compile anyway, with its own error from `#[service]`; this keeps the
//! schema from adding a second one.

use std::any::{type_name, TypeId};
use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::trace::{trace_shape, Traced};
use super::{CodecKind, Container, Field, MethodSchema, Param, ServiceSchema, Shape, VariantShape};
use crate::codec::{Bincode, Codec, Lua};

/// How one type's shape is traced: a function of whether the format is
/// human-readable.
pub type TraceFn = fn(bool) -> Traced;

/// Builds a [`ServiceSchema`] one method at a time; see the module docs.
#[derive(Debug)]
pub struct SchemaBuilder {
    schema: ServiceSchema,
    /// Whether the codec's format is human-readable, which some types'
    /// serde impls ask (`Ipv4Addr` is a string then, four bytes otherwise).
    human_readable: bool,
}

/// Whether `C` is [`Postcard`](crate::codec::Postcard).
#[cfg_attr(not(feature = "postcard"), allow(clippy::extra_unused_type_parameters))]
fn is_postcard<C: 'static>() -> bool {
    #[cfg(feature = "postcard")]
    return TypeId::of::<C>() == TypeId::of::<crate::codec::Postcard>();
    #[cfg(not(feature = "postcard"))]
    return false;
}

impl SchemaBuilder {
    /// The schema of the service `name`, generated from trait `trait_name`,
    /// whose calls go through codec `C`.
    pub fn new<C: Codec>(name: &str, trait_name: &str) -> SchemaBuilder {
        let codec = if TypeId::of::<C>() == TypeId::of::<Lua>() {
            CodecKind::Lua
        } else if TypeId::of::<C>() == TypeId::of::<Bincode>() {
            CodecKind::Bincode
        } else if is_postcard::<C>() {
            CodecKind::Postcard
        } else {
            CodecKind::Other(type_name::<C>().to_owned())
        };
        // bincode and postcard are not human-readable; lua-seri is (Lua
        // peers read strings better than byte tuples), and so are most
        // formats.
        let human_readable = !matches!(codec, CodecKind::Bincode | CodecKind::Postcard);
        SchemaBuilder {
            schema: ServiceSchema {
                name: name.to_owned(),
                trait_name: trait_name.to_owned(),
                codec,
                methods: Vec::new(),
                types: BTreeMap::new(),
            },
            human_readable,
        }
    }

    /// Starts method `name`; its parameters and result follow.
    pub fn method(&mut self, name: &str, push: bool, raises: bool) -> &mut SchemaBuilder {
        self.schema.methods.push(MethodSchema {
            name: name.to_owned(),
            push,
            raises,
            params: Vec::new(),
            returns: Shape::Unit,
        });
        self
    }

    /// Adds parameter `name` to the method started last.
    pub fn param(&mut self, name: &str, trace: TraceFn) -> &mut SchemaBuilder {
        let shape = self.merge(trace(self.human_readable));
        if let Some(method) = self.schema.methods.last_mut() {
            method.params.push(Param {
                name: name.to_owned(),
                shape,
            });
        }
        self
    }

    /// Sets what the method started last replies with.
    pub fn returns(&mut self, trace: TraceFn) -> &mut SchemaBuilder {
        let shape = self.merge(trace(self.human_readable));
        if let Some(method) = self.schema.methods.last_mut() {
            method.returns = shape;
        }
        self
    }

    /// The schema.
    pub fn build(&mut self) -> ServiceSchema {
        std::mem::replace(
            &mut self.schema,
            ServiceSchema {
                name: String::new(),
                trait_name: String::new(),
                codec: CodecKind::Bincode,
                methods: Vec::new(),
                types: BTreeMap::new(),
            },
        )
    }

    /// Adds the named types of one traced type to the service's, and
    /// returns its shape. A name the service already has for a different
    /// shape (serde names types without their module, and a generic type
    /// has one name for all its type arguments) is given a fresh one,
    /// `Name_2`, here and wherever this type refers to it; the same shape
    /// under the same name is one type.
    fn merge(&mut self, traced: Traced) -> Shape {
        let types = &mut self.schema.types;
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        // Renaming one type changes the types that refer to it, which may
        // then differ from the service's type of their name too: repeat
        // until nothing more is renamed (at most once per type).
        for _ in 0..=traced.types.len() {
            let mut renamed = false;
            for (name, container) in &traced.types {
                if renames.contains_key(name) {
                    continue;
                }
                let clashes = types
                    .get(name)
                    .is_some_and(|existing| *existing != rename_container(container, &renames));
                if clashes {
                    let fresh = fresh_name(name, |candidate| {
                        types.contains_key(candidate)
                            || traced.types.contains_key(candidate)
                            || renames.values().any(|taken| taken == candidate)
                    });
                    renames.insert(name.clone(), fresh);
                    renamed = true;
                }
            }
            if !renamed {
                break;
            }
        }
        for (name, container) in &traced.types {
            let name = renames.get(name).unwrap_or(name);
            types
                .entry(name.clone())
                .or_insert_with(|| rename_container(container, &renames));
        }
        rename_shape(&traced.shape, &renames)
    }
}

/// `name_2`, `name_3`, ...: the first that `taken` refuses not.
fn fresh_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (2u32..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| format!("{name}_"))
}

fn rename_shape(shape: &Shape, renames: &BTreeMap<String, String>) -> Shape {
    let boxed = |s: &Shape| Box::new(rename_shape(s, renames));
    match shape {
        Shape::Named(name) => Shape::Named(renames.get(name).unwrap_or(name).clone()),
        Shape::Option(inner) => Shape::Option(boxed(inner)),
        Shape::Seq(inner) => Shape::Seq(boxed(inner)),
        Shape::Tuple(shapes) => Shape::Tuple(rename_shapes(shapes, renames)),
        Shape::Map { key, value } => Shape::Map {
            key: boxed(key),
            value: boxed(value),
        },
        Shape::Outcome { ok, err } => Shape::Outcome {
            ok: boxed(ok),
            err: boxed(err),
        },
        other => other.clone(),
    }
}

fn rename_shapes(shapes: &[Shape], renames: &BTreeMap<String, String>) -> Vec<Shape> {
    shapes.iter().map(|s| rename_shape(s, renames)).collect()
}

fn rename_fields(fields: &[Field], renames: &BTreeMap<String, String>) -> Vec<Field> {
    fields
        .iter()
        .map(|f| Field {
            name: f.name.clone(),
            shape: rename_shape(&f.shape, renames),
        })
        .collect()
}

fn rename_container(container: &Container, renames: &BTreeMap<String, String>) -> Container {
    if renames.is_empty() {
        return container.clone();
    }
    match container {
        Container::UnitStruct => Container::UnitStruct,
        Container::Newtype(shape) => Container::Newtype(rename_shape(shape, renames)),
        Container::TupleStruct(shapes) => Container::TupleStruct(rename_shapes(shapes, renames)),
        Container::Struct(fields) => Container::Struct(rename_fields(fields, renames)),
        Container::Enum(variants) => Container::Enum(
            variants
                .iter()
                .map(|v| {
                    let mut v = v.clone();
                    v.shape = match &v.shape {
                        VariantShape::Unit => VariantShape::Unit,
                        VariantShape::Newtype(s) => VariantShape::Newtype(rename_shape(s, renames)),
                        VariantShape::Tuple(s) => VariantShape::Tuple(rename_shapes(s, renames)),
                        VariantShape::Struct(f) => VariantShape::Struct(rename_fields(f, renames)),
                    };
                    v
                })
                .collect(),
        ),
    }
}

/// Stands for type `T` in generated code, to get its tracing function
/// whether or not it is a serde type; see the module docs.
#[derive(Debug)]
pub struct Trace<T>(PhantomData<fn() -> T>);

impl<T> Trace<T> {
    /// The stand-in.
    pub fn new() -> Trace<T> {
        Trace(PhantomData)
    }
}

impl<T> Default for Trace<T> {
    fn default() -> Trace<T> {
        Trace::new()
    }
}

/// `T`'s tracing function, for a serde type `T`.
pub trait ViaSerde {
    /// Traces `T` through its `Deserialize` impl.
    fn tracer(&self) -> TraceFn;
}

impl<T: DeserializeOwned + 'static> ViaSerde for Trace<T> {
    fn tracer(&self) -> TraceFn {
        trace_shape::<T>
    }
}

/// The fallback for a type that is not a serde type (which fails to compile
/// elsewhere): `Shape::Any`.
pub trait NotSerde {
    /// A function giving `Shape::Any`.
    fn tracer(&self) -> TraceFn;
}

impl<T> NotSerde for &Trace<T> {
    fn tracer(&self) -> TraceFn {
        |_| Traced::any("not a serde type that owns its data")
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    mod a {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub(super) struct Id(pub(super) u32);
    }

    mod b {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub(super) struct Id(pub(super) String);

        #[derive(serde::Serialize, serde::Deserialize)]
        pub(super) struct Holder {
            pub(super) id: Id,
        }
    }

    #[derive(Serialize, Deserialize)]
    struct Page<T> {
        items: Vec<T>,
    }

    #[test]
    // The borrow is the autoref that picks the tracer; see the module docs.
    #[allow(clippy::needless_borrow)]
    fn types_of_one_name_are_shared_when_alike_and_renamed_when_not() {
        let mut builder = SchemaBuilder::new::<Lua>("svc", "Svc");
        builder
            .method("m", false, false)
            .param("a", (&Trace::<a::Id>::new()).tracer())
            .param("again", (&Trace::<a::Id>::new()).tracer())
            .param("b", (&Trace::<b::Holder>::new()).tracer())
            .param("p", (&Trace::<Page<u8>>::new()).tracer())
            .returns((&Trace::<Page<String>>::new()).tracer());
        let schema = builder.build();
        let m = &schema.methods[0];
        let shapes: Vec<&Shape> = m.params.iter().map(|p| &p.shape).collect();
        let named = |n: &str| Shape::Named(n.to_owned());
        assert_eq!(
            shapes,
            [&named("Id"), &named("Id"), &named("Holder"), &named("Page")]
        );
        assert_eq!(m.returns, named("Page_2"));
        assert_eq!(
            schema.types["Id"],
            Container::Newtype(Shape::Int {
                signed: false,
                bits: 32
            })
        );
        assert_eq!(schema.types["Id_2"], Container::Newtype(Shape::String));
        // The holder refers to the renamed `Id`.
        assert_eq!(
            schema.types["Holder"],
            Container::Struct(vec![Field {
                name: "id".into(),
                shape: named("Id_2")
            }])
        );
        assert_eq!(
            schema.types["Page_2"],
            Container::Struct(vec![Field {
                name: "items".into(),
                shape: Shape::Seq(Box::new(Shape::String))
            }])
        );
        assert_eq!(schema.types.len(), 5);
    }

    #[cfg(feature = "bincode")]
    struct NotSerdeType;

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_is_named_and_not_human_readable() {
        let builder = SchemaBuilder::new::<crate::codec::Postcard>("svc", "Svc");
        assert!(!builder.human_readable);
        assert_eq!(builder.schema.codec, CodecKind::Postcard);
        assert_eq!(builder.schema.codec.to_string(), "postcard");
    }

    #[cfg(feature = "bincode")]
    #[test]
    #[allow(clippy::needless_borrow)]
    fn a_type_that_is_not_serde_is_any_and_the_codec_is_named() {
        let mut builder = SchemaBuilder::new::<Bincode>("svc", "Svc");
        builder
            .method("m", true, false)
            .param("x", (&Trace::<NotSerdeType>::new()).tracer());
        let schema = builder.build();
        assert_eq!(schema.codec, CodecKind::Bincode);
        assert!(matches!(
            schema.methods[0].params[0].shape,
            Shape::Any { .. }
        ));
        assert!(schema.methods[0].push);
    }
}
