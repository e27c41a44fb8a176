//! The schema check: what a connection has learned of the services at the
//! addresses its typed calls go to.
//!
//! Before the first typed call to an address on a connection, the sender
//! asks the remote node for the fingerprints of the service there, with a
//! name query (address 0) for a reserved name: `skynet.pack(SCHEMA_QUERY,
//! address)`. A Rust node answers with the fingerprints; a Lua node looks
//! the reserved name up among its registered names, finds nothing, and
//! answers with its ordinary "name not found", as does a Rust node with no
//! typed service at the address. Any such answer means "nothing to check".
//! Either way, nothing else about the connection's bytes changes, and the
//! answer is kept until the connection is replaced.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{Payload, Sender};
use crate::codec::luaseri::{self, Value};
use crate::node::clock::Deadline;
use crate::schema::{CodecKind, Fingerprint, Fingerprints};
use crate::wire::Address;
use crate::ErrorKind;

/// The reserved name a schema check queries. A Lua node never registers
/// it (`cluster.register` names are the service's own), so it answers
/// "name not found".
pub(crate) const SCHEMA_QUERY: &str = "skycluster/schema/1";

/// What a connection learned of one address: the remote service's
/// fingerprints, or nothing to check against.
pub(crate) type Remote = Option<Fingerprints>;

/// One address's check on one connection (`generation`).
#[derive(Debug)]
pub(crate) struct Check {
    generation: u64,
    answer: OnceCell<Remote>,
}

impl Sender {
    /// What the remote node says of the service at `address`, asked once
    /// per connection: the first caller sends the query, the others wait
    /// for its answer. An error is the query's own (the connection failed,
    /// or `deadline` passed) and is not kept: the next call asks again.
    pub(crate) async fn remote_schema(
        self: &Arc<Self>,
        address: &Address,
        deadline: Deadline,
    ) -> Result<Arc<Check>, ErrorKind> {
        let check = {
            let mut st = self.lock();
            let generation = st.generation;
            let check = st
                .schemas
                .entry(address.clone())
                .or_insert_with(|| Arc::new(Check::new(generation)));
            if check.generation != generation {
                *check = Arc::new(Check::new(generation));
            }
            Arc::clone(check)
        };
        check
            .answer
            .get_or_try_init(|| self.ask_schema(address, deadline))
            .await?;
        Ok(check)
    }

    /// What this connection already knows of `address`, without asking:
    /// `None` while nothing is known.
    pub(crate) fn known_schema(&self, address: &Address) -> Option<Arc<Check>> {
        let st = self.lock();
        st.schemas
            .get(address)
            .filter(|check| check.generation == st.generation && check.answer.initialized())
            .cloned()
    }

    async fn ask_schema(
        self: &Arc<Self>,
        address: &Address,
        deadline: Deadline,
    ) -> Result<Remote, ErrorKind> {
        let query = query(address)?;
        let answer = self
            .begin_internal(&Address::QUERY, Payload::Owned(query), deadline)?
            .await;
        match answer {
            Ok(payload) => match read_answer(&payload) {
                Ok(remote) => Ok(Some(remote)),
                Err(why) => {
                    // A node that answered the query with something else
                    // is not one this build can check against.
                    tracing::debug!(node = %self.node, %address, %why, "schema answer not understood; not checked");
                    Ok(None)
                }
            },
            // "name not found" from a Lua node, or a Rust node with no
            // typed service there: nothing to check.
            Err(ErrorKind::Remote { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// The payload of a schema check's query about `address`:
/// `skynet.pack(SCHEMA_QUERY, address)`, a name as a string, a handle as
/// an integer.
pub(crate) fn query(address: &Address) -> Result<Bytes, ErrorKind> {
    let which = match address {
        Address::Handle(h) => Value::Integer(i64::from(*h)),
        Address::Name(name) => Value::String(name.as_bytes().to_vec()),
    };
    luaseri::pack(&[Value::String(SCHEMA_QUERY.into()), which])
        .map(Bytes::from)
        .map_err(|e| ErrorKind::Codec {
            action: "encode",
            reason: e.to_string().into(),
        })
}

impl Check {
    fn new(generation: u64) -> Check {
        Check {
            generation,
            answer: OnceCell::new(),
        }
    }

    /// The connection this answer holds for.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The remote service's fingerprints, `None` if there is nothing to
    /// check against (or no answer yet).
    pub(crate) fn remote(&self) -> Option<&Fingerprints> {
        self.answer.get().and_then(Option::as_ref)
    }
}

/// The answer a node gives for the service at an address:
/// `skynet.pack(service, codec, method, fingerprint, method, fingerprint, ..)`,
/// each fingerprint as its 16 hex digits.
pub(crate) fn answer(fingerprints: &Fingerprints) -> Result<Bytes, String> {
    let mut values = vec![
        Value::String(fingerprints.service().into()),
        Value::String(fingerprints.codec().to_string().into_bytes()),
    ];
    for (method, fingerprint) in fingerprints.methods() {
        values.push(Value::String(method.into()));
        values.push(Value::String(fingerprint.to_string().into_bytes()));
    }
    luaseri::pack(&values)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// Reads what [`answer`] writes.
pub(crate) fn read_answer(payload: &[u8]) -> Result<Fingerprints, String> {
    let values = luaseri::unpack(payload).map_err(|e| e.to_string())?;
    let text = |v: &Value| match v {
        Value::String(s) => {
            String::from_utf8(s.clone()).map_err(|_| "a name is not UTF-8".to_owned())
        }
        other => Err(format!("expected a string, found {other:?}")),
    };
    let [service, codec, methods @ ..] = &values[..] else {
        return Err("no service name and codec".to_owned());
    };
    if methods.len() % 2 != 0 {
        return Err("a method without its fingerprint".to_owned());
    }
    let codec = match text(codec)?.as_str() {
        "bincode" => CodecKind::Bincode,
        "postcard" => CodecKind::Postcard,
        "lua" => CodecKind::Lua,
        other => CodecKind::Other(other.to_owned()),
    };
    let methods = methods
        .chunks_exact(2)
        .map(|pair| Ok((text(&pair[0])?, text(&pair[1])?.parse::<Fingerprint>()?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(Fingerprints::from_parts(text(service)?, codec, methods))
}

/// Reads a schema query's payload: the address asked about, if the
/// payload is one (`None` for an ordinary name query).
pub(crate) fn asked_about(values: &[Value]) -> Option<Result<Address, String>> {
    match values {
        [Value::String(name), which, ..] if name == SCHEMA_QUERY.as_bytes() => Some(match which {
            Value::Integer(h) => u32::try_from(*h)
                .map(Address::Handle)
                .map_err(|_| format!("no handle {h}")),
            Value::String(name) => crate::wire::Name::new(Bytes::copy_from_slice(name))
                .map(Address::Name)
                .map_err(|e| e.to_string()),
            other => Err(format!("the address asked about is {other:?}")),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{MethodSchema, ServiceSchema, Shape};

    fn fingerprints() -> Fingerprints {
        let method = |name: &str| MethodSchema {
            name: name.into(),
            push: false,
            raises: false,
            params: Vec::new(),
            returns: Shape::Unit,
        };
        Fingerprints::of(&ServiceSchema {
            name: "Rooms".into(),
            trait_name: "Rooms".into(),
            codec: CodecKind::Bincode,
            methods: vec![method("open"), method("close")],
            types: BTreeMap::new(),
        })
    }

    #[test]
    fn an_answer_reads_back_as_the_fingerprints_it_was_made_from() {
        let ours = fingerprints();
        let read = read_answer(&answer(&ours).expect("packs")).expect("reads");
        assert_eq!(read, ours);
    }

    #[test]
    fn an_answer_that_is_not_one_is_an_error_not_a_panic() {
        let pack = |values: &[Value]| luaseri::pack(values).expect("packs");
        assert!(read_answer(&[]).is_err());
        assert!(read_answer(&pack(&[Value::Integer(7)])).is_err());
        let s = |t: &str| Value::String(t.into());
        assert!(read_answer(&pack(&[s("Rooms"), s("bincode"), s("open")])).is_err());
        assert!(read_answer(&pack(&[s("Rooms"), s("bincode"), s("open"), s("xyz")])).is_err());
        assert!(read_answer(&pack(&[s("Rooms"), s("bincode")])).is_ok());
    }

    #[test]
    fn a_schema_query_names_its_address_and_an_ordinary_one_does_not() {
        let s = |t: &str| Value::String(t.into());
        assert_eq!(
            asked_about(&[s(SCHEMA_QUERY), s("@Rooms")]),
            Some(Ok("@Rooms".parse().expect("a name")))
        );
        assert_eq!(
            asked_about(&[s(SCHEMA_QUERY), Value::Integer(9)]),
            Some(Ok(Address::Handle(9)))
        );
        assert!(matches!(
            asked_about(&[s(SCHEMA_QUERY), Value::Integer(-1)]),
            Some(Err(_))
        ));
        assert_eq!(asked_about(&[s("Rooms")]), None);
        assert_eq!(asked_about(&[s(SCHEMA_QUERY)]), None);
    }
}
