//! Typed services: the [`Service`] trait `#[service]` implements for
//! `dyn Trait`, tying the trait to its client (over an [`Endpoint`]) and
//! its dispatcher (a [`Handler`]).

use std::sync::Arc;

use super::Endpoint;
use crate::schema::{Fingerprints, ServiceSchema};
use crate::Handler;

/// A service interface, implemented by `#[service]` for `dyn Trait`.
///
/// It ties the trait to its cluster name, its generated client and its
/// generated dispatcher, so that `cluster.proxy::<dyn BattleMgr>(..)` and
/// `cluster.spawn::<dyn BattleMgr>(..)` are typed.
pub trait Service: Send + Sync + 'static {
    /// The name the service registers under (without `@`); the trait's name
    /// unless `#[service(name = "...")]` says otherwise.
    const NAME: &'static str;

    /// The generated client type.
    type Client: Clone + Send + Sync + 'static;

    /// A client that sends its calls to `endpoint`.
    fn client(endpoint: Endpoint) -> Self::Client;

    /// The handler that serves calls with `implementation`.
    fn handler(implementation: Arc<Self>) -> Arc<dyn Handler>;

    /// The service's schema: its methods and the shapes of their
    /// parameters and results, traced from the types' serde impls when
    /// called (so call it once and keep it). `#[service]` provides it; a
    /// hand-written `Service` has none unless it says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::Service;
    ///
    /// #[skycluster::service(codec = lua)]
    /// pub trait Greeter {
    ///     async fn hello(&self, name: String) -> String;
    /// }
    ///
    /// let schema = <dyn Greeter as Service>::schema().expect("made by #[service]");
    /// assert_eq!(schema.name, "Greeter");
    /// assert_eq!(schema.methods[0].name, "hello");
    /// // A Lua module that calls it: skycluster::schema::lua_stub.
    /// assert!(skycluster::schema::lua_stub(&schema)?.contains("function proxy.hello(name)"));
    /// # Ok::<(), skycluster::schema::StubError>(())
    /// ```
    fn schema() -> Option<ServiceSchema> {
        None
    }

    /// The fingerprint of each method ([`Fingerprints`]), made from
    /// [`Service::schema`] on first use and kept. A client checks them
    /// against the remote node's once per connection before its first call
    /// to an address (see [`Options::schema_check`](crate::Options::schema_check)),
    /// so that a call to a method the two builds disagree on fails with
    /// an error naming it instead of decoding garbage. `#[service]`
    /// provides it; `None` means no check.
    ///
    /// # Examples
    ///
    /// ```
    /// use skycluster::Service;
    ///
    /// #[skycluster::service]
    /// pub trait Greeter {
    ///     async fn hello(&self, name: String) -> String;
    /// }
    ///
    /// let fingerprints = <dyn Greeter as Service>::fingerprints().expect("made by #[service]");
    /// assert_eq!(fingerprints.service(), "Greeter");
    /// println!("hello: {}", fingerprints.method("hello").expect("declared"));
    /// ```
    fn fingerprints() -> Option<&'static Fingerprints> {
        None
    }
}

/// What `cluster.spawn::<dyn S>(..)` serves `S` with: an implementation of
/// `S` itself, an `Arc` of one (to keep a reference), or an `Arc<dyn S>`.
///
/// Implemented for every type `#[service]` can turn into the `Arc<dyn S>`
/// its dispatcher holds; there is nothing to implement by hand.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// #[skycluster::service]
/// pub trait Counter {
///     async fn add(&self, n: u64) -> u64;
/// }
///
/// #[derive(Default)]
/// struct Total(std::sync::atomic::AtomicU64);
///
/// #[skycluster::async_trait]
/// impl Counter for Total {
///     async fn add(&self, n: u64) -> u64 {
///         self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n
///     }
/// }
///
/// let cluster = skycluster::Cluster::new(skycluster::Config::new());
/// // The implementation itself...
/// let a = cluster.spawn::<dyn Counter>(Total::default());
/// // ...or shared, to read it from here too...
/// let total = Arc::new(Total::default());
/// let b = cluster.spawn::<dyn Counter>(Arc::clone(&total));
/// // ...or already a trait object.
/// let any: Arc<dyn Counter> = Arc::new(Total::default());
/// let c = cluster.spawn::<dyn Counter>(any);
/// assert!(a != b && b != c);
/// ```
pub trait IntoService<S: ?Sized> {
    /// The implementation, shared, as the dispatcher holds it.
    fn into_service(self) -> Arc<S>;
}

impl<I, S: ?Sized + ServiceFrom<I>> IntoService<S> for I {
    fn into_service(self) -> Arc<S> {
        S::service_from(self)
    }
}

/// How service `Self` (a `dyn Trait`) is made from `I`, for
/// [`IntoService`]: `#[service]` implements it for every implementation of
/// the trait and an `Arc` of one, and this crate for `Arc<dyn Trait>`.
///
/// The other way round from `IntoService`, because a crate may implement
/// skycluster's trait for its own `dyn Trait` with any `I`, but not for
/// any `I` with its own `dyn Trait` as the parameter (the orphan rule).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{I}` is not an implementation of `{Self}`",
    label = "not an implementation of `{Self}`",
    note = "`cluster.spawn::<{Self}>(..)` takes an implementation of the trait, an `Arc` of \
            one, or an `Arc<{Self}>`"
)]
pub trait ServiceFrom<I> {
    /// `implementation`, as the dispatcher holds it.
    fn service_from(implementation: I) -> Arc<Self>;
}

impl<S: ?Sized + Service> ServiceFrom<Arc<S>> for S {
    fn service_from(implementation: Arc<S>) -> Arc<S> {
        implementation
    }
}
