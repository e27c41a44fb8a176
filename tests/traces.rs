//! Trace tags across nodes: a tag sent with a call is in scope in the
//! callee's handler (`skycluster::trace_tag()`), as the `trace` field of
//! the `traced` span it runs in, and the calls that handler makes carry it
//! on, so game → battle → db is one trace.

mod support;

use std::sync::{Arc, Mutex};

use skycluster::wire::TraceTag;
use skycluster::{Cluster, Config, Options};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};

use support::node::{bounded, client, named_node};

#[skycluster::service]
trait Db {
    /// The trace tag this call came with, as text.
    async fn tag(&self) -> Option<String>;
}

#[skycluster::service]
trait Battle {
    /// Its own tag, and db's.
    async fn tags(&self) -> (Option<String>, Option<String>);
}

fn text(tag: Option<TraceTag>) -> Option<String> {
    tag.map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
}

struct DbImpl;

#[skycluster::async_trait]
impl Db for DbImpl {
    async fn tag(&self) -> Option<String> {
        text(skycluster::trace_tag())
    }
}

struct BattleImpl(Cluster);

#[skycluster::async_trait]
impl Battle for BattleImpl {
    async fn tags(&self) -> (Option<String>, Option<String>) {
        let own = text(skycluster::trace_tag());
        let db = self.0.proxy::<dyn Db>("db", "@Db");
        (own, db.tag().await.ok().flatten())
    }
}

/// The `trace` field of every span opened, as text.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

struct TraceField<'a>(&'a mut Option<String>);

impl Visit for TraceField<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "trace" {
            *self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut trace = None;
        span.record(&mut TraceField(&mut trace));
        let mut spans = self.0.lock().expect("spans");
        if let Some(trace) = trace {
            spans.push(trace);
        }
        Id::from_u64(spans.len() as u64 + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn a_tag_travels_game_to_battle_to_db_and_names_their_spans() {
    let spans = Spans::default();
    let _subscriber = tracing::subscriber::set_default(spans.clone());

    let (db, db_addr) = named_node("db", Config::new()).await;
    let handle = db.spawn::<dyn Db>(DbImpl);
    db.register::<dyn Db>(handle).expect("register");
    let (battle, battle_addr) =
        named_node("battle", Config::new().with_node("db", db_addr.to_string())).await;
    let handle = battle.spawn::<dyn Battle>(BattleImpl(battle.clone()));
    battle.register::<dyn Battle>(handle).expect("register");
    let game = client(&[("battle", battle_addr)], Options::default());
    game.set_name("game").expect("fresh");

    // Untraced, nothing is tagged.
    let plain = game.proxy::<dyn Battle>("battle", "@Battle");
    assert_eq!(
        bounded("tags", plain.tags()).await.expect("tags"),
        (None, None)
    );

    let traced = plain.with_trace(TraceTag::new("create_room").expect("a tag"));
    let (own, at_db) = bounded("tags", traced.tags()).await.expect("tags");
    // Skynet's form: `(<caller>-<callee>-<session>)<tag>`, made once by
    // the first caller and passed on as it is.
    let own = own.expect("battle's handler sees the tag");
    assert!(
        own.starts_with("(game-battle-") && own.ends_with(")create_room"),
        "{own}"
    );
    assert_eq!(at_db.as_deref(), Some(own.as_str()), "db sees battle's tag");

    // Both handlers ran in a `traced` span carrying it.
    let seen = spans.0.lock().expect("spans").clone();
    let carrying = seen.iter().filter(|t| **t == own).count();
    assert_eq!(carrying, 2, "spans with the tag: {seen:?}");
}
