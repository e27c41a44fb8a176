//! Lua stubs generated from `#[service(codec = lua)]` traits: the stub of
//! `Arena` (`golden/arena.rs`), which uses every type a stub expresses, is
//! pinned byte for byte in `golden/arena.lua`; the schema it comes from;
//! writing stubs to a directory; and the services that get none.
//!
//! After a deliberate change to the stub generator or to `Arena`,
//! regenerate the golden file and read its diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test -p tests --test lua_stubs
//! ```

#[path = "golden/arena.rs"]
mod arena;

use std::path::PathBuf;

use skycluster::schema::{
    lua_module_name, lua_stub, write_lua_stubs, CodecKind, Container, Shape, StubError,
    VariantShape,
};
use skycluster::Service;

use arena::Arena;

fn golden_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/golden/arena.lua"))
}

fn arena_stub() -> String {
    let schema = <dyn Arena as Service>::schema().expect("#[service] provides a schema");
    lua_stub(&schema).expect("a codec = lua service has a stub")
}

#[test]
fn the_arena_stub_matches_its_golden_file() {
    let stub = arena_stub();
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &stub).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); make it with UPDATE_GOLDEN=1 cargo test -p tests --test \
             lua_stubs",
            path.display()
        )
    });
    if stub != golden {
        let line = stub
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| stub.lines().count().min(golden.lines().count()));
        panic!(
            "the stub differs from {} from line {}:\n  now:    {:?}\n  golden: {:?}\n\
             If the change is meant, run UPDATE_GOLDEN=1 cargo test -p tests --test lua_stubs \
             and read the diff.",
            path.display(),
            line + 1,
            stub.lines().nth(line),
            golden.lines().nth(line),
        );
    }
}

#[test]
fn the_same_trait_gives_the_same_bytes() {
    assert_eq!(arena_stub(), arena_stub());
}

#[test]
fn the_arena_schema_holds_every_method_and_type() {
    let schema = <dyn Arena as Service>::schema().expect("schema");
    assert_eq!(schema.name, "Arena");
    assert_eq!(schema.trait_name, "Arena");
    assert_eq!(schema.codec, CodecKind::Lua);
    let names: Vec<&str> = schema.methods.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create_room",
            "room",
            "sum",
            "mixed",
            "blob",
            "tally",
            "corners",
            "length",
            "route",
            "join",
            "mark",
            "anything",
            "note"
        ]
    );
    let types: Vec<&str> = schema.types.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        [
            "Chain",
            "Mode",
            "Nothing",
            "Point",
            "Room",
            "RoomError",
            "RoomId"
        ]
    );
    let method = |name: &str| {
        schema
            .methods
            .iter()
            .find(|m| m.name == name)
            .expect("method")
    };
    assert!(matches!(
        method("create_room").returns,
        Shape::Outcome { .. }
    ));
    assert!(method("join").raises);
    assert!(method("note").push);
    assert_eq!(method("route").params[1].shape, Shape::Values);
    assert_eq!(method("route").returns, Shape::Values);
    assert_eq!(method("blob").returns, Shape::Bytes);
    assert_eq!(method("mark").params[0].name, "__arg0");
    assert!(matches!(method("anything").returns, Shape::Any { .. }));
    // Every variant of every enum, the recursive one too.
    let Container::Enum(mode) = &schema.types["Mode"] else {
        panic!("Mode is an enum")
    };
    let kinds: Vec<&str> = mode
        .iter()
        .map(|v| match v.shape {
            VariantShape::Unit => "unit",
            VariantShape::Newtype(_) => "newtype",
            VariantShape::Tuple(_) => "tuple",
            VariantShape::Struct(_) => "struct",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["unit", "newtype", "tuple", "struct"]);
    let Container::Enum(chain) = &schema.types["Chain"] else {
        panic!("Chain is an enum")
    };
    assert_eq!(chain.len(), 2);
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("skycluster-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[skycluster::service(codec = lua, name = "callee")]
pub trait Callee {
    async fn echo(
        &self,
        args: skycluster::codec::luaseri::Values,
    ) -> skycluster::codec::luaseri::Values;
}

#[test]
fn stubs_are_written_one_file_per_service_and_left_alone_when_unchanged() {
    let dir = TempDir::new("lua-stubs");
    let schemas = [
        <dyn Arena as Service>::schema().expect("schema"),
        <dyn Callee as Service>::schema().expect("schema"),
    ];
    let written = write_lua_stubs(dir.0.join("lua"), &schemas).expect("written");
    assert_eq!(
        written,
        [dir.0.join("lua/arena.lua"), dir.0.join("lua/callee.lua")]
    );
    assert_eq!(
        std::fs::read_to_string(&written[0]).expect("read"),
        arena_stub()
    );
    let callee = std::fs::read_to_string(&written[1]).expect("read");
    assert!(callee.contains("M.NAME = \"callee\""), "{callee}");
    assert!(
        callee.contains("from the Rust trait\n-- `Callee`"),
        "{callee}"
    );
    assert_eq!(lua_module_name(&schemas[1]), "callee");

    // Unchanged: not written again.
    let before = std::fs::metadata(&written[0])
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(&written[1], "stale").expect("spoil");
    write_lua_stubs(dir.0.join("lua"), &schemas).expect("written again");
    let after = std::fs::metadata(&written[0])
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after);
    assert_eq!(std::fs::read_to_string(&written[1]).expect("read"), callee);
}

#[skycluster::service]
pub trait Ledger {
    async fn balance(&self, account: u64) -> i64;
}

mod again {
    #[skycluster::service(codec = lua, name = "Arena2")]
    pub(crate) trait Arena {
        async fn ping(&self);
    }
}

#[test]
fn only_lua_services_get_stubs_and_nothing_is_written_otherwise() {
    let ledger = <dyn Ledger as Service>::schema().expect("schema");
    assert_eq!(ledger.codec, CodecKind::Bincode);
    let err = lua_stub(&ledger).expect_err("bincode");
    assert!(
        matches!(&err, StubError::NotLua { service, .. } if service == "Ledger"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "service `Ledger` (trait `Ledger`) uses the bincode codec, which Lua nodes cannot \
         speak: Lua stubs are made for `#[service(codec = lua)]` services only"
    );

    let dir = TempDir::new("lua-stubs-refused");
    let arena = <dyn Arena as Service>::schema().expect("schema");
    let err = write_lua_stubs(&dir.0, &[arena.clone(), ledger]).expect_err("bincode");
    assert!(matches!(err, StubError::NotLua { .. }), "{err}");
    let err = write_lua_stubs(
        &dir.0,
        &[
            arena,
            <dyn again::Arena as Service>::schema().expect("schema"),
        ],
    )
    .expect_err("one module name");
    assert!(
        matches!(&err, StubError::SameModule { module, .. } if module == "arena"),
        "{err}"
    );
    assert!(!dir.0.exists(), "nothing is written when a stub is refused");
}

#[test]
fn a_file_that_cannot_be_written_names_the_service_and_path() {
    let dir = TempDir::new("lua-stubs-blocked");
    std::fs::create_dir_all(&dir.0).expect("mkdir");
    // A file where the directory should be.
    let blocked = dir.0.join("lua");
    std::fs::write(&blocked, "not a directory").expect("write");
    let err = write_lua_stubs(
        &blocked,
        &[<dyn Arena as Service>::schema().expect("schema")],
    )
    .expect_err("not a directory");
    let StubError::Write { service, path, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(service, "Arena");
    assert_eq!(path, &blocked);
    assert!(std::error::Error::source(&err).is_some());
}
