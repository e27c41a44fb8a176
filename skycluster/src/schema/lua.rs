//! Lua stubs: a Lua module per `codec = lua` service, which a Skynet
//! service `require`s to call the Rust service the way its trait says.
//!
//! [`lua_stub`] makes the text, [`write_lua_stubs`] the files; the
//! `lua_stub` docs say how each Rust type is annotated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{CodecKind, Container, Field, MethodSchema, ServiceSchema, Shape, VariantShape};

/// Why a Lua stub could not be made or written.
///
/// # Examples
///
/// ```
/// use skycluster::schema::{lua_stub, StubError};
/// use skycluster::Service;
///
/// #[skycluster::service]
/// pub trait Ledger {
///     async fn balance(&self, account: u64) -> i64;
/// }
///
/// let schema = <dyn Ledger as Service>::schema().unwrap();
/// let err = lua_stub(&schema).unwrap_err();
/// assert!(matches!(err, StubError::NotLua { .. }));
/// assert!(err.to_string().contains("codec = lua"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StubError {
    /// The service's codec is not lua-seri: a Lua node cannot call it.
    #[error(
        "service `{service}` (trait `{trait_name}`) uses the {codec} codec, which Lua nodes \
         cannot speak: Lua stubs are made for `#[service(codec = lua)]` services only"
    )]
    NotLua {
        /// The service's name.
        service: String,
        /// Its trait.
        trait_name: String,
        /// Its codec.
        codec: CodecKind,
    },
    /// Two services would be written to the same file.
    #[error(
        "the Lua stubs of services `{first}` and `{second}` would both be the module `{module}`"
    )]
    SameModule {
        /// The module name (the file is `MODULE.lua`).
        module: String,
        /// One service.
        first: String,
        /// The other.
        second: String,
    },
    /// A file or directory could not be written.
    #[error("cannot write the Lua stub of service `{service}` to {}", path.display())]
    Write {
        /// The service.
        service: String,
        /// The path.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}

/// The Lua module name of a service's stub: its trait's name in
/// snake_case, so `BattleMgr`'s stub is `battle_mgr.lua`, loaded with
/// `require "battle_mgr"`.
///
/// # Examples
///
/// ```
/// use skycluster::schema::lua_module_name;
/// use skycluster::Service;
///
/// #[skycluster::service(codec = lua, name = "battle")]
/// pub trait BattleMgr {
///     async fn ping(&self);
/// }
///
/// let schema = <dyn BattleMgr as Service>::schema().unwrap();
/// assert_eq!(lua_module_name(&schema), "battle_mgr");
/// ```
pub fn lua_module_name(schema: &ServiceSchema) -> String {
    lua_ident(&snake_case(&schema.trait_name))
}

/// The Lua stub of a `codec = lua` service: a module a Skynet service can
/// `require` to call it, annotated for the Lua language server. The text
/// is the same for the same trait, byte for byte.
///
/// The module's `proxy(node, address)` (address `"@" .. NAME` by default)
/// returns a table with one function per method: `cluster.call`, or
/// `cluster.send` for a `#[push]`. Reading a method the trait does not
/// have raises an error at once, naming the method and the service,
/// before anything is sent. The annotations give each parameter and
/// result the shape lua-seri gives the Rust value:
///
/// | Rust | Lua annotation |
/// | --- | --- |
/// | integers | `integer` |
/// | `f32`, `f64` | `number` |
/// | `String`, `char`, bytes | `string` |
/// | `bool` | `boolean` |
/// | `()`, a unit struct | `nil` |
/// | `Option<T>` | `T\|nil` |
/// | `Vec<T>`, sets | `T[]` |
/// | tuples, tuple structs, `[T; N]` | `[A, B]` |
/// | maps | `table<K, V>` |
/// | a struct | a class with its fields |
/// | a newtype | its inner value (the alias of its name) |
/// | an enum | an alias: `"Unit"\|{ Newtype: T }\|{ Tuple: [A, B] }\|{ Struct: Class }` |
/// | a reply of `Result<T, E>` | `T\|nil`, then `E\|nil` (Lua's `value` / `nil, err`) |
/// | a reply of a tuple | one return value per element |
/// | [`Values`](crate::codec::luaseri::Values) | `...` (a last parameter, a reply); `any[]` inside a table |
/// | what could not be traced ([`Shape::Any`]) | `any`, with the reason as a comment |
///
/// ```lua
/// local battle_mgr = require "battle_mgr"
/// local battle = battle_mgr.proxy("battle1", "@BattleMgr")
/// local room, err = battle.create_room("Duel", { 1, 2 })
/// ```
///
/// # Errors
///
/// [`StubError::NotLua`] for a service of another codec.
///
/// # Examples
///
/// ```
/// use skycluster::schema::lua_stub;
/// use skycluster::Service;
///
/// #[skycluster::service(codec = lua)]
/// pub trait BattleMgr {
///     async fn create_room(&self, mode: String, players: Vec<u64>) -> Result<u32, String>;
/// }
///
/// let stub = lua_stub(&<dyn BattleMgr as Service>::schema().unwrap())?;
/// assert!(stub.contains("function proxy.create_room(mode, players)"));
/// assert!(stub.contains(r#"cluster.call(node, address, "create_room", mode, players)"#));
/// assert!(stub.contains("---@param players integer[]"));
/// # Ok::<(), skycluster::schema::StubError>(())
/// ```
pub fn lua_stub(schema: &ServiceSchema) -> Result<String, StubError> {
    if schema.codec != CodecKind::Lua {
        return Err(StubError::NotLua {
            service: schema.name.clone(),
            trait_name: schema.trait_name.clone(),
            codec: schema.codec.clone(),
        });
    }
    Ok(Stub::new(schema).render())
}

/// Writes the Lua stub of each service into `dir` (made if missing), as
/// `MODULE.lua` ([`lua_module_name`]), and returns the paths. A file that
/// already holds the same text is left alone, so that its time stamp says
/// when the trait last changed.
///
/// Nothing is written unless every service has a stub: the checks come
/// first.
///
/// # Errors
///
/// [`StubError::NotLua`] for a service whose codec is not lua,
/// [`StubError::SameModule`] for two services of one module name, and
/// [`StubError::Write`] when the directory or a file cannot be written.
///
/// # Examples
///
/// A test in the crate that defines the trait keeps the stubs up to date
/// (`cargo test` writes them):
///
/// ```
/// use skycluster::Service;
///
/// #[skycluster::service(codec = lua)]
/// pub trait BattleMgr {
///     async fn create_room(&self, mode: String, players: Vec<u64>) -> Result<u32, String>;
/// }
///
/// # fn dir() -> std::path::PathBuf { std::env::temp_dir().join(format!("stubs-doc-{}", std::process::id())) }
/// // #[test]
/// fn lua_stubs() {
///     let schemas = [<dyn BattleMgr as Service>::schema().expect("a #[service] trait")];
///     let written = skycluster::schema::write_lua_stubs(dir(), &schemas).expect("written");
///     assert!(written[0].ends_with("battle_mgr.lua"));
/// }
/// # lua_stubs();
/// # std::fs::remove_dir_all(dir()).unwrap();
/// ```
pub fn write_lua_stubs(
    dir: impl AsRef<Path>,
    schemas: &[ServiceSchema],
) -> Result<Vec<PathBuf>, StubError> {
    let dir = dir.as_ref();
    let mut stubs = Vec::with_capacity(schemas.len());
    let mut modules: BTreeMap<String, &str> = BTreeMap::new();
    for schema in schemas {
        let text = lua_stub(schema)?;
        let module = lua_module_name(schema);
        if let Some(first) = modules.insert(module.clone(), &schema.name) {
            return Err(StubError::SameModule {
                module,
                first: first.to_owned(),
                second: schema.name.clone(),
            });
        }
        stubs.push((schema, dir.join(format!("{module}.lua")), text));
    }
    let mut written = Vec::with_capacity(stubs.len());
    for (schema, path, text) in stubs {
        let write_error = |path: &Path, source| StubError::Write {
            service: schema.name.clone(),
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let same = std::fs::read(&path).is_ok_and(|old| old == text.as_bytes());
        if !same {
            std::fs::write(&path, &text).map_err(|e| write_error(&path, e))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// Lua's reserved words, which cannot name a variable or a `.field`.
const LUA_KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// Whether `name` can be written bare in Lua: `t.name`, `{ name = 1 }`.
fn is_lua_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !LUA_KEYWORDS.contains(&name)
}

/// `name` made a Lua identifier: other characters become `_`, and a
/// keyword or a leading digit gets a `_` too.
fn lua_ident(name: &str) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if LUA_KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}

/// `BattleMgr` → `battle_mgr`, `HTTPServer` → `http_server`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).and_then(|j| chars.get(j));
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|&p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A Lua string literal of `text`, escaped so that any bytes survive.
fn lua_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\{:03}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` on one line, for a comment.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table key in an annotation: `name`, or `["odd name"]`.
fn annotation_key(name: &str) -> String {
    if is_lua_name(name) {
        name.to_owned()
    } else {
        format!("[{}]", lua_string(name))
    }
}

/// A Lua type in an annotation, and whether it is a union (which needs
/// parentheses before `[]`).
struct LuaType {
    text: String,
    union: bool,
}

impl LuaType {
    fn one(text: impl Into<String>) -> LuaType {
        LuaType {
            text: text.into(),
            union: false,
        }
    }

    /// `T|nil` (once: `T|nil|nil` says nothing more; `any` holds nil).
    fn or_nil(self) -> LuaType {
        if self.text == "any" || self.text == "nil" || self.text.ends_with("|nil") {
            return self;
        }
        LuaType {
            text: format!("{}|nil", self.text),
            union: true,
        }
    }

    /// `T|U`.
    fn or(self, other: LuaType) -> LuaType {
        if self.text == other.text {
            return self;
        }
        LuaType {
            text: format!("{}|{}", self.text, other.text),
            union: true,
        }
    }

    /// The type as an element: `(A|B)` for a union.
    fn element(&self) -> String {
        if self.union {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// One return value of a method: its type, a name, and notes.
struct Return {
    ty: LuaType,
    name: Option<&'static str>,
    note: Option<String>,
}

/// The values a reply carries.
#[derive(Default)]
struct Reply {
    values: Vec<Return>,
    /// Ends with any number of values (`...`).
    rest: Option<String>,
}

/// How far newtypes around a reply are followed.
const MAX_REPLY_DEPTH: usize = 32;

/// Renders one service's stub.
struct Stub<'a> {
    schema: &'a ServiceSchema,
    module: String,
    /// The proxy's class name.
    proxy_class: String,
    /// Each named type's Lua name.
    names: BTreeMap<&'a str, String>,
    /// The class of each struct variant, by enum and variant.
    variant_classes: BTreeMap<(&'a str, &'a str), String>,
    out: String,
}

impl<'a> Stub<'a> {
    fn new(schema: &'a ServiceSchema) -> Stub<'a> {
        let module = lua_module_name(schema);
        let mut taken = BTreeSet::new();
        let mut unique = |wanted: String| {
            let mut name = wanted.clone();
            let mut n = 2u32;
            while !taken.insert(name.clone()) {
                name = format!("{wanted}_{n}");
                n += 1;
            }
            name
        };
        let proxy_class = unique(format!("{module}.{}", lua_ident(&schema.trait_name)));
        let mut names = BTreeMap::new();
        let mut variant_classes = BTreeMap::new();
        for (name, container) in &schema.types {
            let lua_name = unique(format!("{module}.{}", lua_ident(name)));
            if let Container::Enum(variants) = container {
                for variant in variants {
                    if matches!(variant.shape, VariantShape::Struct(_)) {
                        let class = unique(format!("{lua_name}.{}", lua_ident(&variant.name)));
                        variant_classes.insert((name.as_str(), variant.name.as_str()), class);
                    }
                }
            }
            names.insert(name.as_str(), lua_name);
        }
        Stub {
            schema,
            module,
            proxy_class,
            names,
            variant_classes,
            out: String::new(),
        }
    }

    fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn render(mut self) -> String {
        self.header();
        self.types();
        self.proxy();
        self.line("return M");
        self.out
    }

    fn header(&mut self) {
        let schema = self.schema;
        let module = self.module.clone();
        self.line(format!(
            "-- {module}.lua: calls the skycluster service {} from Lua.",
            one_line(&lua_string(&schema.name))
        ));
        self.line("--");
        self.line(format!(
            "-- Generated by skycluster {} (skycluster::schema::lua_stub) from the Rust trait",
            env!("CARGO_PKG_VERSION")
        ));
        self.line(format!(
            "-- `{}` (#[service(codec = lua)]). Do not edit: generate it again when the",
            schema.trait_name
        ));
        self.line("-- trait changes.");
        self.line("--");
        self.line(format!("--     local {module} = require \"{module}\""));
        self.line(format!(
            "--     local service = {module}.proxy(node)  -- or proxy(node, address)"
        ));
        if let Some(method) = schema.methods.first() {
            let call = if is_lua_name(&method.name) {
                format!("service.{}(...)", method.name)
            } else {
                format!("service[{}](...)", lua_string(&method.name))
            };
            self.line(format!("--     {call}"));
        }
        self.line("");
        self.line("local cluster = require \"skynet.cluster\"");
        self.line("");
        self.line("local M = {}");
        self.line("");
        self.line(
            "--- The name the service registers under: a proxy calls \"@\" .. NAME unless told \
             another address.",
        );
        self.line(format!("M.NAME = {}", lua_string(&schema.name)));
        self.line("");
    }

    /// Every named type, as a class (structs) or an alias (the rest).
    fn types(&mut self) {
        let schema = self.schema;
        for (name, container) in &schema.types {
            let lua_name = self.names.get(name.as_str()).cloned().unwrap_or_default();
            let mut notes = Vec::new();
            match container {
                Container::Struct(fields) => {
                    self.line(format!(
                        "--- Rust struct `{name}`: a table with these keys."
                    ));
                    self.line(format!("---@class {lua_name}"));
                    self.fields(fields);
                }
                Container::Newtype(inner) => {
                    let ty = self.ty(inner, &mut notes);
                    self.alias(
                        &format!("Rust newtype `{name}`: its inner value."),
                        &lua_name,
                        ty,
                        notes,
                    );
                }
                Container::UnitStruct => {
                    let ty = LuaType::one("nil");
                    self.alias(
                        &format!("Rust unit struct `{name}`: nil."),
                        &lua_name,
                        ty,
                        notes,
                    );
                }
                Container::TupleStruct(shapes) => {
                    let ty = self.tuple(shapes, &mut notes);
                    self.alias(
                        &format!("Rust tuple struct `{name}`: an array of its fields."),
                        &lua_name,
                        ty,
                        notes,
                    );
                }
                Container::Enum(variants) => {
                    let mut ty: Option<LuaType> = None;
                    for variant in variants {
                        let one = match &variant.shape {
                            VariantShape::Unit => LuaType::one(lua_string(&variant.name)),
                            VariantShape::Newtype(inner) => {
                                let inner = self.ty(inner, &mut notes);
                                self.variant_table(&variant.name, inner.text)
                            }
                            VariantShape::Tuple(shapes) => {
                                let inner = self.tuple(shapes, &mut notes);
                                self.variant_table(&variant.name, inner.text)
                            }
                            VariantShape::Struct(_) => {
                                let class = self
                                    .variant_classes
                                    .get(&(name.as_str(), variant.name.as_str()))
                                    .cloned()
                                    .unwrap_or_else(|| "table".to_owned());
                                self.variant_table(&variant.name, class)
                            }
                        };
                        ty = Some(match ty {
                            Some(ty) => ty.or(one),
                            None => one,
                        });
                    }
                    let ty = ty.unwrap_or_else(|| {
                        notes.push("an enum without variants".to_owned());
                        LuaType::one("any")
                    });
                    self.alias(
                        &format!(
                            "Rust enum `{name}`: a unit variant is its name, any other a table \
                             with one key, the variant's name."
                        ),
                        &lua_name,
                        ty,
                        notes,
                    );
                    for variant in variants {
                        if let VariantShape::Struct(fields) = &variant.shape {
                            let class = self
                                .variant_classes
                                .get(&(name.as_str(), variant.name.as_str()))
                                .cloned()
                                .unwrap_or_default();
                            self.line("");
                            self.line(format!("--- The fields of `{name}::{}`.", variant.name));
                            self.line(format!("---@class {class}"));
                            self.fields(fields);
                        }
                    }
                }
            }
            self.line("");
        }
    }

    fn alias(&mut self, doc: &str, name: &str, ty: LuaType, notes: Vec<String>) {
        self.line(format!("--- {doc}"));
        for note in notes {
            self.line(format!("--- `any`: {}", one_line(&note)));
        }
        self.line(format!("---@alias {name} {}", ty.text));
    }

    fn variant_table(&self, variant: &str, inner: String) -> LuaType {
        LuaType::one(format!("{{ {}: {inner} }}", annotation_key(variant)))
    }

    fn fields(&mut self, fields: &[Field]) {
        for field in fields {
            let mut notes = Vec::new();
            let ty = self.ty(&field.shape, &mut notes);
            let line = format!("---@field {} {}", annotation_key(&field.name), ty.text);
            self.line(with_notes(line, &notes));
        }
    }

    /// The type of one value inside a table (or one argument).
    fn ty(&self, shape: &Shape, notes: &mut Vec<String>) -> LuaType {
        match shape {
            Shape::Unit => LuaType::one("nil"),
            Shape::Bool => LuaType::one("boolean"),
            Shape::Int { .. } => LuaType::one("integer"),
            Shape::Float { .. } => LuaType::one("number"),
            Shape::Char | Shape::String | Shape::Bytes => LuaType::one("string"),
            Shape::Option(inner) => self.ty(inner, notes).or_nil(),
            Shape::Seq(inner) => LuaType::one(format!("{}[]", self.ty(inner, notes).element())),
            Shape::Tuple(shapes) => self.tuple(shapes, notes),
            Shape::Map { key, value } => {
                let key = self.ty(key, notes);
                let value = self.ty(value, notes);
                LuaType::one(format!("table<{}, {}>", key.text, value.text))
            }
            Shape::Outcome { ok, err } => {
                let ok = self.ty(ok, notes);
                let err = self.ty(err, notes);
                self.variant_table("Ok", ok.text)
                    .or(self.variant_table("Err", err.text))
            }
            Shape::Named(name) => match self.names.get(name.as_str()) {
                Some(lua_name) => LuaType::one(lua_name.clone()),
                None => {
                    notes.push(format!("the schema does not define `{name}`"));
                    LuaType::one("any")
                }
            },
            // Inside a table, `Values` is an array of anything.
            Shape::Values => LuaType::one("any[]"),
            Shape::Any { why } => {
                notes.push(why.clone());
                LuaType::one("any")
            }
        }
    }

    fn tuple(&self, shapes: &[Shape], notes: &mut Vec<String>) -> LuaType {
        if shapes.is_empty() {
            return LuaType::one("table");
        }
        let elements: Vec<String> = shapes.iter().map(|s| self.ty(s, notes).text).collect();
        LuaType::one(format!("[{}]", elements.join(", ")))
    }

    /// What the reply to a call of a method returning `shape` gives a Lua
    /// caller, value by value (the Lua codec's reply rules).
    fn reply(&self, shape: &Shape, depth: usize) -> Reply {
        let single = |shape: &Shape| {
            let mut notes = Vec::new();
            let ty = self.ty(shape, &mut notes);
            Reply {
                values: vec![Return {
                    ty,
                    name: None,
                    note: joined(&notes),
                }],
                rest: None,
            }
        };
        if depth > MAX_REPLY_DEPTH {
            return single(&Shape::Any {
                why: "newtypes nested too deep to follow".to_owned(),
            });
        }
        match shape {
            Shape::Unit => Reply::default(),
            Shape::Values => Reply {
                values: Vec::new(),
                rest: Some("any number of values".to_owned()),
            },
            Shape::Tuple(shapes) => self.reply_values(shapes),
            Shape::Named(name) => match self.schema.types.get(name) {
                // A newtype is its inner value, which may be several
                // values (a tuple) or none; one keeps the newtype's name.
                Some(Container::Newtype(inner)) => {
                    let reply = self.reply(inner, depth + 1);
                    if reply.values.len() == 1 && reply.rest.is_none() {
                        single(shape)
                    } else {
                        reply
                    }
                }
                Some(Container::TupleStruct(shapes)) => self.reply_values(shapes),
                _ => single(shape),
            },
            Shape::Outcome { ok, err } => {
                let ok = self.reply(ok, depth + 1);
                let mut notes = Vec::new();
                let err_ty = self.ty(err, &mut notes);
                let err_note = joined(&notes);
                let mut values = ok.values.into_iter();
                let mut out = Vec::new();
                match values.next() {
                    // `Ok` of no values: nothing, or `nil, err`.
                    None if ok.rest.is_none() => {
                        out.push(Return {
                            ty: LuaType::one("nil"),
                            name: None,
                            note: None,
                        });
                        out.push(Return {
                            ty: err_ty.or_nil(),
                            name: Some("err"),
                            note: err_note,
                        });
                    }
                    None => {
                        return Reply {
                            values: Vec::new(),
                            rest: Some(format!(
                                "the values; or nil, then the error ({})",
                                err_ty.text
                            )),
                        };
                    }
                    Some(first) => {
                        out.push(Return {
                            ty: first.ty.or_nil(),
                            ..first
                        });
                        match values.next() {
                            // `value` or `nil, err`.
                            None => out.push(Return {
                                ty: err_ty.or_nil(),
                                name: Some("err"),
                                note: err_note,
                            }),
                            // The second value, or the error.
                            Some(second) => {
                                out.push(Return {
                                    ty: second.ty.or(err_ty),
                                    name: None,
                                    note: Some(
                                        "the second value, or the error after a nil".to_owned(),
                                    ),
                                });
                                out.extend(values.map(|r| Return {
                                    ty: r.ty.or_nil(),
                                    ..r
                                }));
                            }
                        }
                    }
                }
                Reply {
                    values: out,
                    rest: ok.rest,
                }
            }
            other => single(other),
        }
    }

    /// A tuple's elements, one value each; a last `Values` is the rest.
    fn reply_values(&self, shapes: &[Shape]) -> Reply {
        let mut reply = Reply::default();
        for (i, shape) in shapes.iter().enumerate() {
            let last = i + 1 == shapes.len();
            if *shape == Shape::Values {
                if last {
                    reply.rest = Some("any number of values".to_owned());
                } else {
                    reply.values.push(Return {
                        ty: LuaType::one("any"),
                        name: None,
                        note: Some(
                            "a Values before the last value takes every value after it".to_owned(),
                        ),
                    });
                }
                continue;
            }
            let mut notes = Vec::new();
            let ty = self.ty(shape, &mut notes);
            reply.values.push(Return {
                ty,
                name: None,
                note: joined(&notes),
            });
        }
        reply
    }

    fn proxy(&mut self) {
        let schema = self.schema;
        let module = self.module.clone();
        let class = self.proxy_class.clone();
        let prefix = format!(
            "service {} has no method ",
            one_line(&lua_string(&schema.name))
        );
        let suffix = format!(
            " ({module}.lua, generated from trait {})",
            schema.trait_name
        );
        self.line(
            "-- Reading a method the service does not have: an error, before anything is sent.",
        );
        self.line("local unknown_method = {");
        self.line("\t__index = function(_, name)");
        self.line(format!(
            "\t\terror({} .. string.format(\"%q\", tostring(name)) .. {}, 2)",
            lua_string(&prefix),
            lua_string(&suffix)
        ));
        self.line("\tend,");
        self.line("}");
        self.line("");
        self.line(
            "--- A proxy of the service at `address` (default \"@\" .. NAME) on cluster node \
             `node`:",
        );
        self.line(
            "--- each method calls it with cluster.call (a push with cluster.send) and returns \
             the reply.",
        );
        self.line(
            "--- Reading a method the service does not have raises an error naming it and the \
             service.",
        );
        self.line("---@param node string");
        self.line("---@param address? string|integer");
        self.line(format!("---@return {class}"));
        self.line("function M.proxy(node, address)");
        self.line("\taddress = address or \"@\" .. M.NAME");
        self.line(format!("\t---@class {class}"));
        self.line("\tlocal proxy = {}");
        for method in &schema.methods {
            self.line("");
            self.method(method);
        }
        self.line("");
        self.line("\treturn setmetatable(proxy, unknown_method)");
        self.line("end");
        self.line("");
    }

    fn method(&mut self, method: &MethodSchema) {
        if method.push {
            self.line("\t--- A push: sent with cluster.send; nothing comes back.");
        } else if method.raises {
            self.line(
                "\t--- When the service fails the call (Result<_, HandlerError>), this raises \
                 a Lua error (Skynet's \"call failed\"; its log has the service's text).",
            );
        }
        // Parameter names, made Lua identifiers and kept apart.
        let mut taken = BTreeSet::new();
        let mut args = Vec::new();
        let mut variadic = false;
        for (i, param) in method.params.iter().enumerate() {
            let last = i + 1 == method.params.len();
            if param.shape == Shape::Values && last {
                self.line("\t---@param ... any");
                variadic = true;
                continue;
            }
            let mut name = lua_ident(&param.name);
            let mut n = 2u32;
            while !taken.insert(name.clone()) {
                name = format!("{}_{n}", lua_ident(&param.name));
                n += 1;
            }
            let mut notes = Vec::new();
            let ty = if param.shape == Shape::Values {
                notes
                    .push("a Values before the last argument takes every argument after it".into());
                LuaType::one("any")
            } else {
                self.ty(&param.shape, &mut notes)
            };
            self.line(with_notes(
                format!("\t---@param {name} {}", ty.text),
                &notes,
            ));
            args.push(name);
        }
        if variadic {
            args.push("...".to_owned());
        }
        if !method.push {
            let reply = self.reply(&method.returns, 0);
            for value in reply.values {
                let mut line = format!("\t---@return {}", value.ty.text);
                if let Some(name) = value.name {
                    line = format!("{line} {name}");
                }
                if let Some(note) = value.note {
                    line = format!("{line} # {}", one_line(&note));
                }
                self.line(line);
            }
            if let Some(rest) = reply.rest {
                self.line(format!("\t---@return any ... # {}", one_line(&rest)));
            }
        }
        let args = args.join(", ");
        let head = if is_lua_name(&method.name) {
            format!("\tfunction proxy.{}({args})", method.name)
        } else {
            format!("\tproxy[{}] = function({args})", lua_string(&method.name))
        };
        self.line(head);
        let mut call_args = format!("node, address, {}", lua_string(&method.name));
        if !args.is_empty() {
            call_args = format!("{call_args}, {args}");
        }
        if method.push {
            self.line(format!("\t\tcluster.send({call_args})"));
        } else {
            self.line(format!("\t\treturn cluster.call({call_args})"));
        }
        self.line("\tend");
    }
}

/// The notes, joined for one comment.
fn joined(notes: &[String]) -> Option<String> {
    let notes: Vec<String> = notes.iter().map(|n| one_line(n)).collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// `line # notes`, when there are notes.
fn with_notes(line: String, notes: &[String]) -> String {
    match joined(notes) {
        Some(notes) => format!("{line} # {notes}"),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::schema::{Param, Variant};

    fn int() -> Shape {
        Shape::Int {
            signed: true,
            bits: 64,
        }
    }

    fn schema(methods: Vec<MethodSchema>, types: BTreeMap<String, Container>) -> ServiceSchema {
        ServiceSchema {
            name: "Battle \"mgr\"".to_owned(),
            trait_name: "BattleMgr".to_owned(),
            codec: CodecKind::Lua,
            methods,
            types,
        }
    }

    fn method(name: &str, params: Vec<(&str, Shape)>, returns: Shape) -> MethodSchema {
        MethodSchema {
            name: name.to_owned(),
            push: false,
            raises: false,
            params: params
                .into_iter()
                .map(|(name, shape)| Param {
                    name: name.to_owned(),
                    shape,
                })
                .collect(),
            returns,
        }
    }

    #[test]
    fn names_become_lua_names() {
        assert_eq!(snake_case("BattleMgr"), "battle_mgr");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("RTyped"), "r_typed");
        assert_eq!(snake_case("Echo2Me"), "echo2_me");
        assert_eq!(lua_ident("end"), "end_");
        assert_eq!(lua_ident("9lives"), "_9lives");
        assert_eq!(lua_ident("a-b"), "a_b");
        assert!(is_lua_name("create_room"));
        assert!(!is_lua_name("repeat"));
        assert!(!is_lua_name("a b"));
        assert_eq!(lua_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\001\"");
    }

    #[test]
    fn odd_names_are_quoted_and_keywords_kept_apart() {
        let mut types = BTreeMap::new();
        types.insert(
            "Odd".to_owned(),
            Container::Struct(vec![Field {
                name: "end".to_owned(),
                shape: Shape::Bool,
            }]),
        );
        let stub = lua_stub(&schema(
            vec![method(
                "repeat",
                vec![("then", Shape::Named("Odd".into())), ("x", Shape::Values)],
                Shape::Unit,
            )],
            types,
        ))
        .unwrap();
        assert!(stub.contains("---@field [\"end\"] boolean"), "{stub}");
        assert!(
            stub.contains("proxy[\"repeat\"] = function(then_, ...)"),
            "{stub}"
        );
        assert!(
            stub.contains("cluster.call(node, address, \"repeat\", then_, ...)"),
            "{stub}"
        );
        // The service's name, escaped wherever it is written.
        assert!(stub.contains(r#"M.NAME = "Battle \"mgr\"""#), "{stub}");
    }

    #[test]
    fn replies_follow_the_lua_codec() {
        let err = Shape::String;
        let result = |ok: Shape| Shape::Outcome {
            ok: Box::new(ok),
            err: Box::new(err.clone()),
        };
        let stub = lua_stub(&schema(
            vec![
                method("one", vec![], result(int())),
                method("none", vec![], result(Shape::Unit)),
                method(
                    "two",
                    vec![],
                    result(Shape::Tuple(vec![int(), Shape::Bool])),
                ),
                method("pair", vec![], Shape::Tuple(vec![int(), Shape::Values])),
                method(
                    "nested",
                    vec![],
                    Shape::Seq(Box::new(result(Shape::Option(Box::new(int()))))),
                ),
            ],
            BTreeMap::new(),
        ))
        .unwrap();
        let returns = |name: &str| -> Vec<String> {
            let at = stub.find(&format!("function proxy.{name}(")).unwrap();
            let before = &stub[..at];
            let start = before.rfind("\tlocal proxy").max(before.rfind("\tend\n"));
            before[start.unwrap()..]
                .lines()
                .filter(|l| l.contains("---@return"))
                .map(|l| l.trim().to_owned())
                .collect()
        };
        assert_eq!(
            returns("one"),
            ["---@return integer|nil", "---@return string|nil err"]
        );
        assert_eq!(
            returns("none"),
            ["---@return nil", "---@return string|nil err"]
        );
        assert_eq!(
            returns("two"),
            [
                "---@return integer|nil",
                "---@return boolean|string # the second value, or the error after a nil"
            ]
        );
        assert_eq!(
            returns("pair"),
            [
                "---@return integer",
                "---@return any ... # any number of values"
            ]
        );
        assert_eq!(
            returns("nested"),
            ["---@return ({ Ok: integer|nil }|{ Err: string })[]"]
        );
    }

    #[test]
    fn enums_are_aliases_of_their_lua_forms() {
        let mut types = BTreeMap::new();
        let variant = |name: &str, index, shape| Variant {
            name: String::from(name),
            index,
            shape,
        };
        types.insert(
            "Shape".to_owned(),
            Container::Enum(vec![
                variant("Dot", 0, VariantShape::Unit),
                variant(
                    "Circle",
                    1,
                    VariantShape::Newtype(Shape::Float { bits: 64 }),
                ),
                variant("Rect", 2, VariantShape::Tuple(vec![int(), int()])),
                variant(
                    "Named",
                    3,
                    VariantShape::Struct(vec![Field {
                        name: "n".into(),
                        shape: Shape::Any {
                            why: "because\nreasons".into(),
                        },
                    }]),
                ),
            ]),
        );
        let stub = lua_stub(&schema(
            vec![method(
                "draw",
                vec![("s", Shape::Named("Shape".into()))],
                Shape::Unit,
            )],
            types,
        ))
        .unwrap();
        assert!(stub.contains(
            "---@alias battle_mgr.Shape \"Dot\"|{ Circle: number }|{ Rect: [integer, integer] }\
             |{ Named: battle_mgr.Shape.Named }"
        ), "{stub}");
        assert!(
            stub.contains("---@class battle_mgr.Shape.Named\n---@field n any # because reasons"),
            "{stub}"
        );
        assert!(stub.contains("---@param s battle_mgr.Shape\n"), "{stub}");
    }

    #[test]
    fn a_newtype_reply_keeps_its_name_unless_it_is_several_values() {
        let mut types = BTreeMap::new();
        types.insert("Id".to_owned(), Container::Newtype(int()));
        types.insert(
            "Pair".to_owned(),
            Container::Newtype(Shape::Tuple(vec![int(), Shape::Bool])),
        );
        let stub = lua_stub(&schema(
            vec![
                method("id", vec![], Shape::Named("Id".into())),
                method("pair", vec![], Shape::Named("Pair".into())),
            ],
            types,
        ))
        .unwrap();
        assert!(
            stub.contains("\t---@return battle_mgr.Id\n\tfunction proxy.id()"),
            "{stub}"
        );
        assert!(
            stub.contains("\t---@return integer\n\t---@return boolean\n\tfunction proxy.pair()"),
            "{stub}"
        );
    }

    #[test]
    fn the_same_schema_gives_the_same_text() {
        let s = schema(
            vec![method("a", vec![("x", int())], int())],
            BTreeMap::new(),
        );
        assert_eq!(lua_stub(&s).unwrap(), lua_stub(&s.clone()).unwrap());
    }
}
