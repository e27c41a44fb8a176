//! Fingerprints: a method's contract as 64 bits, so two builds of a trait
//! can tell whether they agree without sending the whole schema.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{CodecKind, Container, MethodSchema, ServiceSchema, Shape, VariantShape};

/// A 64-bit structural hash of one method's contract: its name, whether
/// it is a push, whether it raises, the shape of each argument and of its
/// return value (named types followed to their fields and variants), and
/// the codec.
///
/// Two builds of a trait whose method has the same fingerprint encode and
/// decode its calls the same way. What does not change the bytes does not
/// change it: parameter names, type names, and, under bincode and
/// postcard (which carry neither), field and variant names. A collision
/// of two different contracts is as likely as any two 64-bit hashes
/// meeting.
///
/// Shown as 16 hex digits.
///
/// # Examples
///
/// ```
/// use skycluster::Service;
///
/// #[skycluster::service]
/// trait Scores {
///     async fn add(&self, player: u64, points: u32) -> u64;
/// }
///
/// let fingerprints = <dyn Scores as Service>::fingerprints().expect("made by #[service]");
/// let add = fingerprints.method("add").expect("declared");
/// assert_eq!(add.to_string().len(), 16);
/// assert_eq!(add.to_string().parse(), Ok(add));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The 64 bits.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = String;

    /// Reads the 16 hex digits [`Display`](fmt::Display) writes.
    fn from_str(s: &str) -> Result<Fingerprint, String> {
        if s.len() != 16 {
            return Err(format!("a fingerprint is 16 hex digits, not {s:?}"));
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| format!("a fingerprint is 16 hex digits, not {s:?}"))
    }
}

/// The fingerprints of a service's methods, by method name.
///
/// What a node answers when another asks whether they agree on a service
/// (see `Options::schema_check`), and what `skycluster schema` prints.
/// Made once per service by [`Service::fingerprints`](crate::Service::fingerprints).
///
/// # Examples
///
/// ```
/// use skycluster::schema::Difference;
/// use skycluster::Service;
///
/// mod old {
///     #[skycluster::service(name = "Scores")]
///     pub trait Scores {
///         async fn add(&self, player: u64, points: u32) -> u64;
///         async fn reset(&self, player: u64);
///     }
/// }
/// mod new {
///     #[skycluster::service(name = "Scores")]
///     pub trait Scores {
///         async fn add(&self, player: u64, points: i64) -> u64;
///         async fn top(&self) -> Vec<u64>;
///     }
/// }
///
/// let old = <dyn old::Scores as Service>::fingerprints().expect("made by #[service]");
/// let new = <dyn new::Scores as Service>::fingerprints().expect("made by #[service]");
/// // What an old client would find wrong with a new server.
/// assert_eq!(
///     old.differences(new),
///     [Difference::Changed("add".into()), Difference::Missing("reset".into())]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Fingerprints {
    service: String,
    codec: CodecKind,
    methods: BTreeMap<String, Fingerprint>,
    /// Tells this set from every other made in the process, so that a
    /// call target can remember which service it checked in one word.
    id: u32,
}

/// Two sets are equal when their service, codec and methods are.
impl PartialEq for Fingerprints {
    fn eq(&self, other: &Fingerprints) -> bool {
        (&self.service, &self.codec, &self.methods)
            == (&other.service, &other.codec, &other.methods)
    }
}

impl Eq for Fingerprints {}

/// The next [`Fingerprints::id`]: never 0.
fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

/// A method of one side's service that the other side's does not serve
/// the same way; see [`Fingerprints::differences`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Difference {
    /// Both have the method, with different arguments, return value,
    /// codec or kind (call or push).
    Changed(String),
    /// The other side has no such method.
    Missing(String),
}

impl Difference {
    /// The method's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::schema::Difference;
    ///
    /// assert_eq!(Difference::Missing("close".into()).method(), "close");
    /// assert_eq!(Difference::Changed("open".into()).to_string(), "`open` (changed)");
    /// ```
    pub fn method(&self) -> &str {
        match self {
            Difference::Changed(m) | Difference::Missing(m) => m,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Changed(m) => write!(f, "`{m}` (changed)"),
            Difference::Missing(m) => write!(f, "`{m}` (missing)"),
        }
    }
}

impl Fingerprints {
    /// The fingerprint of every method of `schema`. A generated service
    /// makes its own once ([`Service::fingerprints`](crate::Service::fingerprints));
    /// this is for a schema from elsewhere, a stored one say.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::schema::Fingerprints;
    /// use skycluster::Service;
    ///
    /// #[skycluster::service]
    /// trait Scores {
    ///     async fn add(&self, player: u64, points: u32) -> u64;
    /// }
    ///
    /// let schema = <dyn Scores as Service>::schema().expect("made by #[service]");
    /// let made = Fingerprints::of(&schema);
    /// assert_eq!(Some(&made), <dyn Scores as Service>::fingerprints());
    /// assert_eq!(made.service(), "Scores");
    /// assert_eq!(made.codec().to_string(), "bincode");
    /// assert_eq!(made.methods().map(|(m, _)| m).collect::<Vec<_>>(), ["add"]);
    /// ```
    pub fn of(schema: &ServiceSchema) -> Fingerprints {
        let methods = schema
            .methods
            .iter()
            .map(|m| (m.name.clone(), method_fingerprint(schema, m)))
            .collect();
        Fingerprints {
            service: schema.name.clone(),
            codec: schema.codec.clone(),
            methods,
            id: next_id(),
        }
    }

    /// From parts, as a node's answer carries them.
    pub(crate) fn from_parts(
        service: String,
        codec: CodecKind,
        methods: BTreeMap<String, Fingerprint>,
    ) -> Fingerprints {
        Fingerprints {
            service,
            codec,
            methods,
            id: next_id(),
        }
    }

    /// This set's process-unique id, never 0.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The service's codec.
    pub fn codec(&self) -> &CodecKind {
        &self.codec
    }

    /// One method's fingerprint.
    pub fn method(&self, name: &str) -> Option<Fingerprint> {
        self.methods.get(name).copied()
    }

    /// Every method and its fingerprint, by name.
    pub fn methods(&self) -> impl Iterator<Item = (&str, Fingerprint)> + '_ {
        self.methods.iter().map(|(m, f)| (m.as_str(), *f))
    }

    /// The methods of this side that `other` lacks or has changed, by
    /// name. Methods only `other` has are no difference: adding a method
    /// is compatible.
    pub fn differences(&self, other: &Fingerprints) -> Vec<Difference> {
        self.methods
            .iter()
            .filter_map(|(name, mine)| match other.methods.get(name) {
                None => Some(Difference::Missing(name.clone())),
                Some(theirs) if theirs != mine => Some(Difference::Changed(name.clone())),
                Some(_) => None,
            })
            .collect()
    }
}

/// FNV-1a over a canonical walk of a method's contract: stable across
/// builds, compilers and platforms, unlike `std::hash`.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn tag(&mut self, tag: u8) {
        self.bytes(&[tag]);
    }

    fn len(&mut self, n: usize) {
        self.bytes(&(n as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.bytes(s.as_bytes());
    }
}

fn method_fingerprint(schema: &ServiceSchema, method: &MethodSchema) -> Fingerprint {
    let mut walk = Walk {
        schema,
        // lua-seri (and most formats) carry field and variant names;
        // bincode and postcard carry neither, so renaming one changes no
        // byte there.
        names: !matches!(schema.codec, CodecKind::Bincode | CodecKind::Postcard),
        h: Fnv::new(),
        visiting: Vec::new(),
    };
    walk.h.str("skycluster method v1");
    walk.h.str(&schema.codec.to_string());
    walk.h.str(&method.name);
    walk.h.tag(u8::from(method.push));
    walk.h.tag(u8::from(method.raises));
    walk.h.len(method.params.len());
    for param in &method.params {
        walk.shape(&param.shape);
    }
    walk.shape(&method.returns);
    Fingerprint(walk.h.0)
}

/// Walks shapes into the hash, following named types once per path.
struct Walk<'a> {
    schema: &'a ServiceSchema,
    names: bool,
    h: Fnv,
    /// The named types being walked, outermost first: a type met again
    /// inside itself is written as how far up it is.
    visiting: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn shape(&mut self, shape: &'a Shape) {
        match shape {
            Shape::Unit => self.h.tag(0),
            Shape::Bool => self.h.tag(1),
            Shape::Int { signed, bits } => {
                self.h.tag(2);
                self.h.tag(u8::from(*signed));
                self.h.tag(*bits);
            }
            Shape::Float { bits } => {
                self.h.tag(3);
                self.h.tag(*bits);
            }
            Shape::Char => self.h.tag(4),
            Shape::String => self.h.tag(5),
            Shape::Bytes => self.h.tag(6),
            Shape::Option(inner) => {
                self.h.tag(7);
                self.shape(inner);
            }
            Shape::Seq(inner) => {
                self.h.tag(8);
                self.shape(inner);
            }
            Shape::Tuple(items) => {
                self.h.tag(9);
                self.shapes(items);
            }
            Shape::Map { key, value } => {
                self.h.tag(10);
                self.shape(key);
                self.shape(value);
            }
            Shape::Outcome { ok, err } => {
                self.h.tag(11);
                self.shape(ok);
                self.shape(err);
            }
            Shape::Named(name) => self.named(name),
            Shape::Values => self.h.tag(13),
            Shape::Any { why } => {
                // What could not be traced is compared by what was said
                // of it, which names the type.
                self.h.tag(14);
                self.h.str(why);
            }
        }
    }

    fn shapes(&mut self, shapes: &'a [Shape]) {
        self.h.len(shapes.len());
        for shape in shapes {
            self.shape(shape);
        }
    }

    fn named(&mut self, name: &'a str) {
        if let Some(up) = self.visiting.iter().rev().position(|n| *n == name) {
            self.h.tag(12);
            self.h.len(up);
            return;
        }
        let Some(container) = self.schema.types.get(name) else {
            self.h.tag(15);
            self.h.str(name);
            return;
        };
        self.visiting.push(name);
        match container {
            Container::UnitStruct => self.h.tag(16),
            Container::Newtype(inner) => {
                self.h.tag(17);
                self.shape(inner);
            }
            Container::TupleStruct(items) => {
                self.h.tag(18);
                self.shapes(items);
            }
            Container::Struct(fields) => {
                self.h.tag(19);
                self.fields(fields);
            }
            Container::Enum(variants) => {
                self.h.tag(20);
                self.h.len(variants.len());
                for variant in variants {
                    self.h.bytes(&variant.index.to_le_bytes());
                    if self.names {
                        self.h.str(&variant.name);
                    }
                    match &variant.shape {
                        VariantShape::Unit => self.h.tag(0),
                        VariantShape::Newtype(inner) => {
                            self.h.tag(1);
                            self.shape(inner);
                        }
                        VariantShape::Tuple(items) => {
                            self.h.tag(2);
                            self.shapes(items);
                        }
                        VariantShape::Struct(fields) => {
                            self.h.tag(3);
                            self.fields(fields);
                        }
                    }
                }
            }
        }
        self.visiting.pop();
    }

    fn fields(&mut self, fields: &'a [super::Field]) {
        self.h.len(fields.len());
        for field in fields {
            if self.names {
                self.h.str(&field.name);
            }
            self.shape(&field.shape);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Field, Param};

    fn schema(
        codec: CodecKind,
        params: Vec<Shape>,
        types: Vec<(&str, Container)>,
    ) -> ServiceSchema {
        ServiceSchema {
            name: "Svc".into(),
            trait_name: "Svc".into(),
            codec,
            methods: vec![MethodSchema {
                name: "m".into(),
                push: false,
                raises: false,
                params: params
                    .into_iter()
                    .enumerate()
                    .map(|(i, shape)| Param {
                        name: format!("p{i}"),
                        shape,
                    })
                    .collect(),
                returns: Shape::Unit,
            }],
            types: types.into_iter().map(|(n, c)| (n.to_owned(), c)).collect(),
        }
    }

    fn fp(s: &ServiceSchema) -> Fingerprint {
        Fingerprints::of(s).method("m").expect("m")
    }

    fn int(signed: bool, bits: u8) -> Shape {
        Shape::Int { signed, bits }
    }

    fn point(x: &str) -> Container {
        Container::Struct(vec![
            Field {
                name: x.into(),
                shape: int(true, 32),
            },
            Field {
                name: "y".into(),
                shape: int(true, 32),
            },
        ])
    }

    #[test]
    fn the_same_contract_has_the_same_fingerprint_and_a_known_value() {
        let a = schema(CodecKind::Bincode, vec![int(false, 32)], vec![]);
        assert_eq!(fp(&a), fp(&a.clone()));
        // Pinned: the walk and the hash are a protocol between builds, so
        // a change to either must be deliberate (and bump the "v1" in
        // `method_fingerprint`).
        assert_eq!(fp(&a).to_string(), "c8f14788ebacf10a");
        let again = Fingerprints::of(&a);
        assert_eq!(again.service(), "Svc");
        assert_eq!(again.codec(), &CodecKind::Bincode);
    }

    #[test]
    fn argument_types_codec_and_kind_change_it_and_parameter_names_do_not() {
        let base = schema(CodecKind::Bincode, vec![int(false, 32)], vec![]);
        let signed = schema(CodecKind::Bincode, vec![int(true, 32)], vec![]);
        let lua = schema(CodecKind::Lua, vec![int(false, 32)], vec![]);
        let two = schema(
            CodecKind::Bincode,
            vec![int(false, 32), Shape::String],
            vec![],
        );
        assert_ne!(fp(&base), fp(&signed));
        assert_ne!(fp(&base), fp(&lua));
        assert_ne!(fp(&base), fp(&two));
        let mut push = base.clone();
        push.methods[0].push = true;
        assert_ne!(fp(&base), fp(&push));
        let mut renamed = base.clone();
        renamed.methods[0].params[0].name = "other".into();
        renamed.trait_name = "Other".into();
        assert_eq!(fp(&base), fp(&renamed));
    }

    #[test]
    fn field_names_count_only_where_the_codec_writes_them() {
        let named = |codec, x| {
            schema(
                codec,
                vec![Shape::Named("Point".into())],
                vec![("Point", point(x))],
            )
        };
        assert_eq!(
            fp(&named(CodecKind::Bincode, "x")),
            fp(&named(CodecKind::Bincode, "xx"))
        );
        assert_ne!(
            fp(&named(CodecKind::Lua, "x")),
            fp(&named(CodecKind::Lua, "xx"))
        );
        // A field's type counts everywhere, and the type's name nowhere.
        let mut wider = named(CodecKind::Bincode, "x");
        wider.types.insert(
            "Point".into(),
            Container::Struct(vec![Field {
                name: "x".into(),
                shape: int(true, 64),
            }]),
        );
        assert_ne!(fp(&named(CodecKind::Bincode, "x")), fp(&wider));
        let mut renamed_type = named(CodecKind::Bincode, "x");
        let point = renamed_type.types.remove("Point").expect("point");
        renamed_type.types.insert("Pt".into(), point);
        renamed_type.methods[0].params[0].shape = Shape::Named("Pt".into());
        assert_eq!(fp(&named(CodecKind::Bincode, "x")), fp(&renamed_type));
    }

    #[test]
    fn a_recursive_type_ends() {
        let list = schema(
            CodecKind::Bincode,
            vec![Shape::Named("List".into())],
            vec![(
                "List",
                Container::Newtype(Shape::Option(Box::new(Shape::Named("List".into())))),
            )],
        );
        assert_eq!(fp(&list), fp(&list.clone()));
    }

    #[test]
    fn differences_name_changed_and_missing_methods_only() {
        let mut mine = schema(CodecKind::Bincode, vec![int(false, 32)], vec![]);
        let mut theirs = mine.clone();
        theirs.methods[0].params[0].shape = int(true, 32);
        let mut extra = mine.methods[0].clone();
        extra.name = "only_mine".into();
        mine.methods.push(extra.clone());
        extra.name = "only_theirs".into();
        theirs.methods.push(extra);
        let (mine, theirs) = (Fingerprints::of(&mine), Fingerprints::of(&theirs));
        assert_eq!(
            mine.differences(&theirs),
            [
                Difference::Changed("m".into()),
                Difference::Missing("only_mine".into())
            ]
        );
        assert_eq!(
            Difference::Missing("only_mine".into()).to_string(),
            "`only_mine` (missing)"
        );
    }

    #[test]
    fn fingerprints_read_back_as_written() {
        assert_eq!("00000000000000ff".parse(), Ok(Fingerprint(255)));
        assert!("ff".parse::<Fingerprint>().is_err());
        assert!("zzzzzzzzzzzzzzzz".parse::<Fingerprint>().is_err());
    }
}
