//! A real Lua Skynet node calling a Rust `codec = lua` service through
//! the Lua stub generated from its trait (`skycluster::schema::lua_stub`):
//! the stub of `Arena` (`golden/arena.rs`) is written into a directory the
//! Lua node `require`s it from, and every method is called through it,
//! each result checked on both sides. A misspelt method raises in Lua,
//! naming the method and the service, and nothing reaches the Rust side.
//!
//! Needs `SKYNET_HOME` (see `tests/lua/README.md`); without it every test
//! here is ignored with that reason.

mod support;

#[path = "golden/arena.rs"]
mod arena;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use skycluster::codec::luaseri::{Value, Values};
use skycluster::{HandlerError, Service};
use tokio::sync::mpsc;

use arena::{Arena, Chain, Mode, Nothing, Point, Room, RoomError, RoomId};
use support::skynet::{bounded, pcall_ok, s, show_all, Fixture};

/// The Rust side of `Arena`: rooms in memory, and a count of the calls
/// that reached it.
struct Rooms {
    rooms: Mutex<BTreeMap<RoomId, Room>>,
    next: AtomicU32,
    calls: AtomicUsize,
    notes: mpsc::UnboundedSender<String>,
}

impl Rooms {
    fn called(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, BTreeMap<RoomId, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[skycluster::async_trait]
impl Arena for Rooms {
    async fn create_room(
        &self,
        mode: Mode,
        players: Vec<u64>,
        owner: Option<String>,
    ) -> Result<Room, RoomError> {
        self.called();
        if let Mode::Custom(a, b) = mode {
            return Err(RoomError::NoSuchMode(format!("custom {a}x{b}")));
        }
        if players.len() > 4 {
            return Err(RoomError::Full);
        }
        let id = RoomId(self.next.fetch_add(1, Ordering::SeqCst) + 1);
        let scores = owner.iter().map(|o| (o.clone(), 100)).collect();
        let room = Room {
            id,
            mode,
            players,
            owner,
            scores,
            spawn: Point(10, -20),
            ratio: 0.5,
            open: true,
        };
        self.rooms().insert(id, room.clone());
        Ok(room)
    }

    async fn room(&self, id: RoomId) -> Option<Room> {
        self.called();
        self.rooms().get(&id).cloned()
    }

    async fn sum(&self, a: i8, b: i16, c: i32, d: i64, e: u8, f: u16) -> i64 {
        self.called();
        i64::from(a) + i64::from(b) + i64::from(c) + d + i64::from(e) + i64::from(f)
    }

    async fn mixed(
        &self,
        g: u32,
        h: u64,
        x: f32,
        y: f64,
        flag: bool,
        letter: char,
    ) -> (u64, f64, bool, String) {
        self.called();
        (
            u64::from(g) + h,
            f64::from(x) + y,
            !flag,
            [letter, letter].iter().collect(),
        )
    }

    async fn blob(&self, data: Bytes) -> Bytes {
        self.called();
        data.iter().rev().copied().collect::<Vec<u8>>().into()
    }

    async fn tally(&self, counts: HashMap<String, u32>) -> u32 {
        self.called();
        counts.values().sum()
    }

    async fn corners(&self, square: [Point; 2], pair: (String, u8)) -> Vec<Point> {
        self.called();
        let len = i32::try_from(pair.0.len()).unwrap_or(i32::MAX);
        vec![square[0], square[1], Point(i32::from(pair.1), len)]
    }

    async fn length(&self, chain: Chain) -> u32 {
        self.called();
        let mut n = 0;
        let mut at = Some(chain);
        while let Some(Chain::Link { next, .. }) = at {
            n += 1;
            at = *next;
        }
        n
    }

    async fn route(&self, cmd: String, rest: Values) -> Values {
        self.called();
        let mut out = vec![Value::from(cmd.as_str())];
        out.extend(rest.into_vec().into_iter().rev());
        Values::from(out)
    }

    async fn join(&self, id: RoomId, player: u64) -> Result<u32, HandlerError> {
        self.called();
        let mut rooms = self.rooms();
        let room = rooms
            .get_mut(&id)
            .ok_or_else(|| HandlerError::new(format!("no room {}", id.0)))?;
        room.players.push(player);
        Ok(u32::try_from(room.players.len()).unwrap_or(u32::MAX))
    }

    async fn mark(&self, _: Nothing) -> Nothing {
        self.called();
        Nothing
    }

    async fn anything(&self, v: Value) -> Value {
        self.called();
        v
    }

    async fn note(&self, text: String) {
        self.called();
        let _ = self.notes.send(text);
    }
}

/// A Lua node and a Rust node serving `Arena` as `@Arena`, with the stub
/// written where the Lua side will `require` it.
struct Stubbed {
    f: Fixture,
    rooms: std::sync::Arc<Rooms>,
    notes: mpsc::UnboundedReceiver<String>,
    dir: PathBuf,
}

impl Stubbed {
    async fn start(label: &str) -> Stubbed {
        let f = Fixture::start(label).await;
        let (tx, notes) = mpsc::unbounded_channel();
        let rooms = std::sync::Arc::new(Rooms {
            rooms: Mutex::new(BTreeMap::new()),
            next: AtomicU32::new(0),
            calls: AtomicUsize::new(0),
            notes: tx,
        });
        let handle = f.rust.spawn::<dyn Arena>(std::sync::Arc::clone(&rooms));
        f.rust
            .register::<dyn Arena>(handle)
            .expect("register @Arena");
        let dir = f.names.dir().join("stubs");
        let schema = <dyn Arena as Service>::schema().expect("schema");
        let written = skycluster::schema::write_lua_stubs(&dir, &[schema]).expect("stub written");
        assert_eq!(written, [dir.join("arena.lua")]);
        Stubbed {
            f,
            rooms,
            notes,
            dir,
        }
    }

    /// Runs `body` on the Lua node with `arena`, a proxy of `rust1`'s
    /// `@Arena` made by the generated module, in scope; its return values.
    async fn lua(&self, what: &str, body: &str) -> Vec<Value> {
        let code = format!(
            "local dir = ...\n\
             if not package.path:find(dir, 1, true) then\n\
             \tpackage.path = dir .. \"/?.lua;\" .. package.path\n\
             end\n\
             local arena = require(\"arena\").proxy(\"rust1\")\n\
             {body}"
        );
        let dir = self.dir.to_str().expect("a UTF-8 scratch path");
        let reply = self.f.control("eval", &[s(&code), s(dir)]).await;
        pcall_ok(what, reply)
    }

    fn calls(&self) -> usize {
        self.rooms.calls.load(Ordering::SeqCst)
    }
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn yes(b: bool) -> Value {
    Value::Boolean(b)
}

/// Checks `got` against `want`, value by value.
fn check(what: &str, got: &[Value], want: &[Value]) {
    assert_eq!(
        got,
        want,
        "{what}: got {}, want {}",
        show_all(got),
        show_all(want)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_lua_service_calls_every_method_through_the_generated_stub() {
    let mut t = Stubbed::start("sk-stubs-all").await;

    // A struct with a newtype, a tuple struct, a map and an enum in it.
    let got = t
        .lua(
            "create_room",
            r#"local room, err = arena.create_room("Duel", {1, 2}, "ann")
            return room.id, room.mode, #room.players, room.players[2], room.owner,
                room.spawn[1], room.spawn[2], room.ratio, room.open, room.scores.ann, err == nil"#,
        )
        .await;
    check(
        "create_room",
        &got,
        &[
            int(1),
            s("Duel"),
            int(2),
            int(2),
            s("ann"),
            int(10),
            int(-20),
            Value::Real(0.5),
            yes(true),
            int(100),
            yes(true),
        ],
    );
    // A struct variant and a newtype variant as arguments; an optional
    // argument left out.
    let got = t
        .lua(
            "create_room ranked",
            r#"local ranked = arena.create_room({Ranked = {tier = 3, season = 7}}, {5})
            local team = arena.create_room({Team = 2}, {})
            return ranked.mode.Ranked.tier, ranked.mode.Ranked.season, ranked.owner == nil,
                ranked.id, team.mode.Team"#,
        )
        .await;
    check(
        "create_room ranked",
        &got,
        &[int(3), int(7), yes(true), int(2), int(2)],
    );
    // `Result`'s `Err`: `nil, err`, the error a tuple variant or a name.
    let got = t
        .lua(
            "create_room errors",
            r#"local r1, e1 = arena.create_room({Custom = {2, 3}}, {})
            local r2, e2 = arena.create_room("Duel", {1, 2, 3, 4, 5})
            return r1 == nil, e1.NoSuchMode, r2 == nil, e2"#,
        )
        .await;
    check(
        "create_room errors",
        &got,
        &[yes(true), s("custom 2x3"), yes(true), s("Full")],
    );

    let got = t
        .lua(
            "room",
            r#"local r, none = arena.room(1), arena.room(99)
            return r.owner, none == nil"#,
        )
        .await;
    check("room", &got, &[s("ann"), yes(true)]);

    let got = t.lua("sum", "return arena.sum(-1, -2, -3, -4, 5, 6)").await;
    check("sum", &got, &[int(1)]);

    // A tuple reply: four values.
    let got = t
        .lua("mixed", r#"return arena.mixed(7, 8, 1.5, 2.25, true, "z")"#)
        .await;
    check(
        "mixed",
        &got,
        &[int(15), Value::Real(3.75), yes(false), s("zz")],
    );

    let got = t
        .lua(
            "blob",
            r#"local b = arena.blob("ab\0c")
            return b == "c\0ba", #b"#,
        )
        .await;
    check("blob", &got, &[yes(true), int(4)]);

    let got = t
        .lua("tally", "return arena.tally({a = 1, b = 2, c = 39})")
        .await;
    check("tally", &got, &[int(42)]);

    let got = t
        .lua(
            "corners",
            r#"local c = arena.corners({{0, 0}, {2, 3}}, {"xyz", 9})
            return #c, c[2][1], c[2][2], c[3][1], c[3][2]"#,
        )
        .await;
    check("corners", &got, &[int(3), int(2), int(3), int(9), int(3)]);

    // The recursive enum, its struct variant's `next` left out for None.
    let got = t
        .lua(
            "length",
            r#"return arena.length({Link = {value = 1, next = {Link = {value = 2}}}}),
                arena.length("End")"#,
        )
        .await;
    check("length", &got, &[int(2), int(0)]);

    // `Values` both ways: `...` in, any number of values out, nils kept.
    let got = t
        .lua(
            "route",
            r#"local t = table.pack(arena.route("go", 1, nil, "x"))
            return t.n, t[1], t[2], t[3] == nil, t[4]"#,
        )
        .await;
    check("route", &got, &[int(4), s("go"), s("x"), yes(true), int(1)]);

    // A method that raises: a value, or a Lua error (Skynet's `call
    // failed`; its sender logs the service's text).
    let mark = t.f.lua.mark();
    let got = t
        .lua(
            "join",
            r#"local n = arena.join(1, 7)
            local ok, err = pcall(arena.join, 99, 7)
            return n, ok, err"#,
        )
        .await;
    assert_eq!(got[..2], [int(3), yes(false)], "join: {}", show_all(&got));
    let err = match got.get(2) {
        Some(Value::String(text)) => String::from_utf8_lossy(text).into_owned(),
        other => panic!("join: no error text: {other:?}"),
    };
    assert!(err.ends_with("call failed"), "{err}");
    t.f.lua.wait_line(mark, "no room 99").await;

    let got = t
        .lua(
            "mark",
            r#"local t = table.pack(arena.mark(nil))
            return t.n, t[1] == nil"#,
        )
        .await;
    check("mark", &got, &[int(1), yes(true)]);

    let got = t
        .lua(
            "anything",
            r#"local v = arena.anything({k = "v", 1})
            return v.k, v[1]"#,
        )
        .await;
    check("anything", &got, &[s("v"), int(1)]);

    // A push: nothing comes back; the Rust side gets it.
    let got = t
        .lua(
            "note",
            r#"local t = table.pack(arena.note("hello"))
            return t.n"#,
        )
        .await;
    check("note", &got, &[int(0)]);
    let note = bounded("the note", t.notes.recv()).await;
    assert_eq!(note.as_deref(), Some("hello"));

    // The address can be given; the default is `"@" .. NAME`.
    let got = t
        .lua(
            "explicit address",
            r#"local mod = require("arena")
            return mod.NAME, mod.proxy("rust1", "@Arena").sum(1, 1, 1, 1, 1, 1)"#,
        )
        .await;
    check("explicit address", &got, &[s("Arena"), int(6)]);
    // Every call above reached the service once (the push too).
    assert_eq!(t.calls(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(skynet),
    ignore = "needs SKYNET_HOME: a built Skynet tree (see tests/lua/README.md)"
)]
async fn a_misspelt_method_raises_in_lua_and_nothing_is_sent() {
    let t = Stubbed::start("sk-stubs-misspelt").await;
    let got = t
        .lua(
            "misspelt",
            r#"local ok, err = pcall(function()
                return arena.craete_room("Duel", {1})
            end)
            -- Reading it is enough: the error comes before any call.
            local read_ok, read_err = pcall(function() local f = arena.creat_room end)
            return ok, err, read_ok, read_err"#,
        )
        .await;
    let text = |v: Option<&Value>| match v {
        Some(Value::String(text)) => String::from_utf8_lossy(text).into_owned(),
        other => panic!("misspelt: no error text: {other:?} in {}", show_all(&got)),
    };
    assert_eq!(got.first(), Some(&yes(false)), "{}", show_all(&got));
    let err = text(got.get(1));
    assert!(
        err.contains(r#"service "Arena" has no method "craete_room""#),
        "{err}"
    );
    assert!(err.contains("generated from trait Arena"), "{err}");
    // Raised at the caller's line, not inside the stub.
    assert!(err.starts_with("eval:"), "{err}");
    assert_eq!(got.get(2), Some(&yes(false)));
    assert!(text(got.get(3)).contains(r#"no method "creat_room""#));
    assert_eq!(t.calls(), 0, "nothing reached the Rust service");

    // The spelt method works on the same proxy module.
    let got = t.lua("spelt", "return arena.sum(1, 2, 3, 4, 5, 6)").await;
    check("spelt", &got, &[int(21)]);
    assert_eq!(t.calls(), 1);
}
