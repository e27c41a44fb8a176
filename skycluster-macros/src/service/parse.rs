//! `#[service]`'s input: the attribute's arguments and the trait, read and
//! checked.
//!
//! Every check records its error in the [`Ctxt`] and carries on, so one
//! compile reports every mistake, each spanned on the token at fault.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    parse_quote, Attribute, FnArg, GenericArgument, Ident, ItemTrait, LitStr, Pat, Path,
    PathArguments, ReturnType, Signature, TraitItem, TraitItemFn, Type,
};

use crate::attr;
use crate::ctxt::Ctxt;

/// The longest service name: on the wire a name is at most 255 bytes, and
/// the registered form carries a leading `@`.
const MAX_NAME_LEN: usize = 254;

/// The methods every generated client has; a service method may not take
/// one of these names.
pub(crate) const CLIENT_RESERVED: &[&str] = &["new", "endpoint", "with_timeout", "with_trace"];

/// `#[service(name = "...", codec = lua, crate = "...")]`.
#[derive(Debug)]
pub(crate) struct ServiceArgs {
    /// The cluster name, when not the trait's name.
    pub(crate) name: Option<LitStr>,
    pub(crate) codec: CodecArg,
    /// The path of the skycluster crate, `::skycluster` unless renamed.
    pub(crate) krate: Path,
}

/// The `codec = ...` argument.
#[derive(Debug, PartialEq)]
pub(crate) enum CodecArg {
    /// `bincode`, the default.
    Bincode,
    /// `postcard`: `skycluster::codec::Postcard` (its `postcard` feature).
    Postcard,
    /// `lua`: lua-seri with Skynet's calling convention.
    Lua,
    /// Any other path: a type implementing `skycluster::codec::Codec`.
    Custom(Path),
}

impl ServiceArgs {
    /// Parses the attribute's arguments, recording mistakes in `cx`. A key
    /// in error keeps its default, so the trait can still be expanded for
    /// the IDE.
    pub(crate) fn parse(cx: &Ctxt, args: TokenStream) -> ServiceArgs {
        let mut name: Option<LitStr> = None;
        let mut codec: Option<CodecArg> = None;
        let mut krate: Option<Path> = None;
        attr::parse_args(cx, args, |arg| match arg.key() {
            "name" => arg.set_once(&mut name, |input| {
                let lit: LitStr = input.parse()?;
                match invalid_name(&lit.value()) {
                    Some(reason) => Err(syn::Error::new(
                        lit.span(),
                        format!("invalid service name: {reason}"),
                    )),
                    None => Ok(lit),
                }
            }),
            "codec" => arg.set_once(&mut codec, |input| {
                let path = attr::path_value(input)?;
                Ok(if path.is_ident("bincode") {
                    CodecArg::Bincode
                } else if path.is_ident("postcard") {
                    CodecArg::Postcard
                } else if path.is_ident("lua") {
                    CodecArg::Lua
                } else {
                    CodecArg::Custom(path)
                })
            }),
            "crate" => arg.set_once(&mut krate, attr::path_value),
            _ => arg.unknown("service", &["name", "codec", "crate"]),
        });

        ServiceArgs {
            name,
            codec: codec.unwrap_or(CodecArg::Bincode),
            krate: attr::crate_or_default(krate),
        }
    }
}

/// Why `name` cannot be registered, if it can't.
pub(crate) fn invalid_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 254 bytes")
    } else if name.contains('@') {
        Some("it contains `@` (the `@` is added when the name is registered)")
    } else if name.starts_with('.') || name.starts_with(':') {
        Some("it starts with `.` or `:`, which Skynet reads as a local name or a handle")
    } else {
        None
    }
}

/// The trait, checked.
#[derive(Debug)]
pub(crate) struct Service {
    /// The trait as the user wrote it, minus the `#[push]` and
    /// `#[idempotent]` attributes.
    pub(crate) item: ItemTrait,
    pub(crate) methods: Vec<RpcMethod>,
}

/// One method of the service.
#[derive(Debug)]
pub(crate) struct RpcMethod {
    /// Its name in Rust (possibly raw, `r#type`).
    pub(crate) ident: Ident,
    /// Its name on the wire: the identifier without `r#`.
    pub(crate) name: String,
    /// `#[doc]` attributes, copied onto the client's method.
    pub(crate) docs: Vec<Attribute>,
    /// `#[cfg]` attributes, copied onto everything generated for it.
    pub(crate) cfgs: Vec<Attribute>,
    pub(crate) args: Vec<RpcArg>,
    /// The return type; `()` when the method has none.
    pub(crate) output: Type,
    /// `T` when the return type is written `Result<T, HandlerError>`: the
    /// method fails like Lua's `error(...)`, its `Err` answered with an
    /// error frame, and the client returns `Result<T, CallError>`.
    pub(crate) raises: Option<Type>,
    /// Marked `#[push]`: the client sends without waiting for a reply.
    pub(crate) push: bool,
    /// Marked `#[idempotent]`: running it twice does no harm, so a pool
    /// retries it once on another node when the first fails before any
    /// reply.
    pub(crate) idempotent: bool,
}

/// One argument of a method (`&self` excluded).
#[derive(Debug)]
pub(crate) struct RpcArg {
    /// The name the user gave it, or `__argN` for `_`.
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

impl Service {
    /// Reads the trait, recording every mistake in `cx`.
    pub(crate) fn from_trait(cx: &Ctxt, mut item: ItemTrait) -> Service {
        if let Some(unsafety) = &item.unsafety {
            cx.error_spanned_by(unsafety, "a service trait cannot be `unsafe`");
        }
        if let Some(auto) = &item.auto_token {
            cx.error_spanned_by(auto, "a service trait cannot be an auto trait");
        }
        if !item.generics.params.is_empty() {
            cx.error_spanned_by(
                &item.generics,
                "a service trait cannot be generic: the remote side must know every type",
            );
        } else if let Some(where_clause) = &item.generics.where_clause {
            cx.error_spanned_by(where_clause, "a service trait cannot have a `where` clause");
        }

        let mut methods = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for trait_item in &mut item.items {
            let TraitItem::Fn(method) = trait_item else {
                cx.error_spanned_by(
                    &*trait_item,
                    "a service trait can only contain methods: move associated types and \
                     constants to another trait",
                );
                continue;
            };
            let push = take_flag(cx, method, "push");
            let idempotent = take_flag(cx, method, "idempotent");
            let mut rpc = RpcMethod::from_fn(cx, method, push, &item.ident);
            if push && idempotent {
                cx.error_spanned_by(
                    &rpc.ident,
                    "`#[idempotent]` is for calls: a `#[push]` is never retried",
                );
            }
            rpc.idempotent = idempotent;
            if seen.insert(rpc.name.clone(), rpc.ident.span()).is_some() {
                cx.error_spanned_by(&rpc.ident, format!("duplicate method `{}`", rpc.name));
            }
            methods.push(rpc);
        }

        Service { item, methods }
    }
}

/// Removes the `#[name]` attributes of `method` (`#[push]`,
/// `#[idempotent]`), saying whether it had one.
fn take_flag(cx: &Ctxt, method: &mut TraitItemFn, name: &str) -> bool {
    let mut found = false;
    method.attrs.retain(|attribute| {
        if !attribute.path().is_ident(name) {
            return true;
        }
        if let Err(e) = attribute.meta.require_path_only() {
            cx.syn_error(syn::Error::new(
                e.span(),
                format!("`#[{name}]` takes no arguments"),
            ));
        } else if found {
            attr::repeated(cx, attribute, name);
        }
        found = true;
        false
    });
    found
}

impl RpcMethod {
    fn from_fn(cx: &Ctxt, method: &TraitItemFn, push: bool, trait_ident: &Ident) -> RpcMethod {
        let sig = &method.sig;
        check_signature(cx, sig);

        let name = sig.ident.unraw().to_string();
        if CLIENT_RESERVED.contains(&name.as_str()) {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "method name conflicts with generated fn `{}Client::{name}`",
                    trait_ident.unraw()
                ),
            );
        }

        let args = sig
            .inputs
            .iter()
            .skip_while(|arg| matches!(arg, FnArg::Receiver(_)))
            .enumerate()
            .filter_map(|(i, arg)| match arg {
                FnArg::Typed(arg) => Some(RpcArg::from_pat_type(cx, i, arg)),
                FnArg::Receiver(_) => None,
            })
            .collect();

        let output = match &sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => {
                reject_impl_trait(cx, ty, "return");
                (**ty).clone()
            }
        };
        if push && !is_unit(&output) {
            cx.error_spanned_by(
                &output,
                "`#[push]` methods cannot return a value: the caller does not wait for a reply",
            );
        }

        let raises = raised_ok(&output);

        let of = |name: &str| -> Vec<Attribute> {
            method
                .attrs
                .iter()
                .filter(|a| a.path().is_ident(name))
                .cloned()
                .collect()
        };
        RpcMethod {
            ident: sig.ident.clone(),
            name,
            docs: of("doc"),
            cfgs: of("cfg"),
            args,
            output,
            raises,
            push,
            idempotent: false,
        }
    }
}

/// Checks what a remote call can carry: an `async fn` of `&self`, without
/// generics, `unsafe`, `const` or an ABI.
fn check_signature(cx: &Ctxt, sig: &Signature) {
    if let Some(constness) = &sig.constness {
        cx.error_spanned_by(constness, "service methods cannot be `const`");
    }
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "service methods must be `async`: write `async fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, "service methods cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, "service methods cannot have an ABI");
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            "service methods cannot be generic: the remote side must know the argument types",
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(where_clause, "service methods cannot have a `where` clause");
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "service methods cannot be variadic");
    }

    const RECEIVER: &str = "service methods take `&self` as their first argument";
    match sig.inputs.first() {
        None => cx.syn_error(syn::Error::new(
            sig.paren_token.span.join(),
            format!("{RECEIVER}: add `&self`"),
        )),
        Some(FnArg::Typed(arg)) => cx.error_spanned_by(arg, format!("{RECEIVER}, not this")),
        Some(FnArg::Receiver(receiver)) => {
            let plain_ref = receiver.reference.is_some()
                && receiver.mutability.is_none()
                && receiver.colon_token.is_none();
            if !plain_ref {
                cx.error_spanned_by(
                    receiver,
                    format!("{RECEIVER}: calls run concurrently on a shared implementation"),
                );
            }
        }
    }
}

impl RpcArg {
    fn from_pat_type(cx: &Ctxt, index: usize, arg: &syn::PatType) -> RpcArg {
        reject_impl_trait(cx, &arg.ty, "argument");
        let ident = match &*arg.pat {
            Pat::Ident(pat) if pat.subpat.is_none() => pat.ident.clone(),
            // `_`, and the patterns a method without body can't have anyway.
            other => format_ident!("__arg{}", index, span = other.span()),
        };
        RpcArg {
            ident,
            ty: (*arg.ty).clone(),
        }
    }
}

/// `impl Trait` cannot cross the network: the other side needs a type.
fn reject_impl_trait(cx: &Ctxt, ty: &Type, what: &str) {
    struct Find<'a>(Option<&'a syn::TypeImplTrait>);
    impl<'ast> Visit<'ast> for Find<'ast> {
        fn visit_type_impl_trait(&mut self, i: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert(i);
        }
    }
    let mut find = Find(None);
    find.visit_type(ty);
    if let Some(found) = find.0 {
        cx.error_spanned_by(
            found,
            format!("`impl Trait` is not supported in {what} position: use a concrete serde type"),
        );
    }
}

/// `T`, when `ty` is written `Result<T, HandlerError>`: any path ending
/// in `Result` with two type arguments, the second a path ending in
/// `HandlerError`. The generated dispatcher then takes the error as
/// `skycluster::HandlerError`, so another type of that name does not
/// compile rather than being taken for it.
fn raised_ok(ty: &Type) -> Option<Type> {
    let path = match ty {
        Type::Group(group) => return raised_ok(&group.elem),
        Type::Paren(paren) => return raised_ok(&paren.elem),
        Type::Path(path) if path.qself.is_none() => &path.path,
        _ => return None,
    };
    let result = path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &result.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let (Some(ok), Some(Type::Path(err)), None) = (types.next(), types.next(), types.next()) else {
        return None;
    };
    let is_handler_error = err.qself.is_none()
        && err
            .path
            .segments
            .last()
            .is_some_and(|e| e.ident == "HandlerError" && e.arguments.is_none());
    (result.ident == "Result" && is_handler_error).then(|| ok.clone())
}

/// Whether `ty` is `()`.
fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Paren(p) => is_unit(&p.elem),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{quote, ToTokens};

    fn parse_service(tokens: TokenStream) -> (Service, Vec<String>) {
        let cx = Ctxt::new();
        let service = Service::from_trait(&cx, syn::parse2(tokens).unwrap());
        (service, errors(cx))
    }

    fn parse_args(tokens: TokenStream) -> (ServiceArgs, Vec<String>) {
        let cx = Ctxt::new();
        let args = ServiceArgs::parse(&cx, tokens);
        (args, errors(cx))
    }

    fn errors(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn methods_keep_their_shape() {
        let (service, errors) = parse_service(quote! {
            trait BattleMgr {
                /// Makes a room.
                async fn create_room(&self, mode: Mode, players: Vec<u64>) -> Result<u32, String>;
                #[push]
                async fn player_left(&self, room: u32, _: u64);
                async fn r#type(&self);
            }
        });
        assert_eq!(errors, Vec::<String>::new());
        let [create, left, ty] = &service.methods[..] else {
            panic!("three methods expected")
        };
        assert_eq!(create.name, "create_room");
        assert_eq!(create.docs.len(), 1);
        assert!(!create.push);
        let args: Vec<String> = create.args.iter().map(|a| a.ident.to_string()).collect();
        assert_eq!(args, ["mode", "players"]);
        assert_eq!(
            create.output.to_token_stream().to_string(),
            "Result < u32 , String >"
        );

        assert!(left.push);
        assert_eq!(left.args[1].ident, "__arg1");
        assert!(is_unit(&left.output));

        assert_eq!(ty.name, "type");
        // `#[push]` does not survive into the emitted trait.
        let TraitItem::Fn(f) = &service.item.items[1] else {
            panic!()
        };
        assert!(f.attrs.is_empty());
    }

    #[test]
    fn a_result_of_handler_error_raises_and_nothing_else_does() {
        let ok_of = |ty: TokenStream| {
            raised_ok(&syn::parse2(ty).unwrap()).map(|t| t.to_token_stream().to_string())
        };
        assert_eq!(
            ok_of(quote!(Result<u32, HandlerError>)).as_deref(),
            Some("u32")
        );
        assert_eq!(
            ok_of(quote!(::core::result::Result<(), skycluster::HandlerError>)).as_deref(),
            Some("()")
        );
        assert_eq!(
            ok_of(quote!(sc::Result<Result<u8, String>, sc::HandlerError>)).as_deref(),
            Some("Result < u8 , String >")
        );
        for ty in [
            quote!(Result<u32, String>),
            quote!(Result<HandlerError, u8>),
            quote!(Result<u32>),
            quote!(Option<HandlerError>),
            quote!(Result<u32, HandlerError<u8>>),
            quote!(Vec<Result<u32, HandlerError>>),
            quote!(<X as Y>::Result<u32, HandlerError>),
            quote!(u32),
        ] {
            assert_eq!(ok_of(ty.clone()), None, "{ty}");
        }
    }

    #[test]
    fn every_mistake_is_reported() {
        let (_, errors) = parse_service(quote! {
            trait Bad {
                fn not_async(&self);
                async fn generic<T>(&self, t: T);
                async fn by_value(self);
                async fn no_receiver();
                #[push]
                async fn push_returns(&self) -> u32;
                async fn new(&self);
                async fn twice(&self);
                async fn twice(&self);
                #[push]
                #[idempotent]
                async fn retried_push(&self);
                #[idempotent(always)]
                async fn idempotent_args(&self);
                type Assoc;
            }
        });
        assert_eq!(
            errors,
            [
                "service methods must be `async`: write `async fn`",
                "service methods cannot be generic: the remote side must know the argument types",
                "service methods take `&self` as their first argument: calls run concurrently on \
                 a shared implementation",
                "service methods take `&self` as their first argument: add `&self`",
                "`#[push]` methods cannot return a value: the caller does not wait for a reply",
                "method name conflicts with generated fn `BadClient::new`",
                "duplicate method `twice`",
                "`#[idempotent]` is for calls: a `#[push]` is never retried",
                "`#[idempotent]` takes no arguments",
                "a service trait can only contain methods: move associated types and constants \
                 to another trait",
            ]
        );
    }

    #[test]
    fn args_default_to_bincode_and_the_skycluster_crate() {
        let (args, errors) = parse_args(quote!());
        assert!(errors.is_empty());
        assert_eq!(args.codec, CodecArg::Bincode);
        assert!(args.name.is_none());
        assert_eq!(args.krate.to_token_stream().to_string(), ":: skycluster");
    }

    #[test]
    fn args_read_every_key() {
        let (args, errors) = parse_args(quote!(name = "battle", codec = lua, crate = "sc"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.codec, CodecArg::Lua);
        assert_eq!(args.name.unwrap().value(), "battle");
        assert_eq!(args.krate.to_token_stream().to_string(), "sc");

        let (args, _) = parse_args(quote!(codec = postcard));
        assert_eq!(args.codec, CodecArg::Postcard);

        let (args, _) = parse_args(quote!(codec = my::Json));
        assert!(matches!(args.codec, CodecArg::Custom(_)));
    }

    #[test]
    fn args_reject_unknown_and_repeated_keys() {
        let (_, errors) = parse_args(quote!(
            nmae = "x",
            codec = lua,
            codec = bincode,
            name = "@x"
        ));
        assert_eq!(
            errors,
            [
                "unknown `service` argument `nmae`; expected `name`, `codec` or `crate`",
                "`codec` set multiple times",
                "invalid service name: it contains `@` (the `@` is added when the name is \
                 registered)",
            ]
        );
    }

    #[test]
    fn names_follow_skynet_register_rules() {
        assert_eq!(invalid_name("battle"), None);
        assert!(invalid_name("").is_some());
        assert!(invalid_name(".local").is_some());
        assert!(invalid_name(&"x".repeat(255)).is_some());
        assert_eq!(invalid_name(&"x".repeat(254)), None);
    }
}
