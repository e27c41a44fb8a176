//! `#[service]`'s output: one generator method per generated item, joined
//! in [`ToTokens`], so that `cargo expand` reads like hand-written code.
//!
//! For `trait BattleMgr` the items are, in order: the trait rewritten by
//! async-trait (`trait_item`), a static check that every argument and return
//! type is a serde type (`assert_serde`), for a codec that may be lua-seri
//! one that no parameter but the last is `Values` (`assert_values_last`),
//! `BattleMgrClient` (`struct_client`, `impl_client`), `ServeBattleMgr`
//! (`struct_server`, `impl_server`, `impl_handler`), `impl Service for dyn
//! BattleMgr` (`impl_service`) and the two `ServiceFrom` impls that let
//! `spawn` take an implementation or an `Arc` of one (`impl_service_from`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{parse_quote, Ident, LitByteStr, Path, TypeParamBound};

use super::parse::{CodecArg, RpcMethod, Service, ServiceArgs};

/// Everything the items are generated from.
#[derive(Debug)]
pub(crate) struct ServiceGenerator<'a> {
    service: &'a Service,
    /// `::skycluster`, or the `crate = "..."` path.
    krate: &'a Path,
    /// The type implementing `Codec`.
    codec: TokenStream,
    /// Whether the codec may be lua-seri, where a `Values` parameter takes
    /// every argument left (not bincode or postcard).
    may_take_values: bool,
    /// The cluster name (`Service::NAME`).
    name: String,
    trait_ident: &'a Ident,
    client_ident: Ident,
    server_ident: Ident,
}

impl<'a> ServiceGenerator<'a> {
    pub(crate) fn new(args: &'a ServiceArgs, service: &'a Service) -> ServiceGenerator<'a> {
        let krate = &args.krate;
        let trait_ident = &service.item.ident;
        let codec = match &args.codec {
            CodecArg::Bincode => quote!(#krate::codec::Bincode),
            CodecArg::Postcard => quote!(#krate::codec::Postcard),
            CodecArg::Lua => quote!(#krate::codec::Lua),
            CodecArg::Custom(path) => path.to_token_stream(),
        };
        let name = match &args.name {
            Some(name) => name.value(),
            None => trait_ident.unraw().to_string(),
        };
        ServiceGenerator {
            service,
            krate,
            codec,
            may_take_values: matches!(args.codec, CodecArg::Lua | CodecArg::Custom(_)),
            name,
            trait_ident,
            client_ident: format_ident!("{}Client", trait_ident.unraw()),
            server_ident: format_ident!("Serve{}", trait_ident.unraw()),
        }
    }

    /// The user's trait, made dyn compatible: async-trait boxes each
    /// method's future, and the supertraits let `Arc<dyn Trait>` cross tasks.
    pub(crate) fn trait_item(&self) -> TokenStream {
        let krate = self.krate;
        let mut item = self.service.item.clone();
        if item.colon_token.is_none() {
            item.colon_token = Some(Default::default());
        }
        let bounds: [TypeParamBound; 3] = [
            parse_quote!(::core::marker::Send),
            parse_quote!(::core::marker::Sync),
            parse_quote!('static),
        ];
        item.supertraits.extend(bounds);
        quote! {
            #[#krate::__private::async_trait]
            #item
        }
    }

    /// A function that is never called, whose body fails to compile when an
    /// argument or return type is not `Serialize + DeserializeOwned`. Each
    /// check carries the type's span, so the error points at the type.
    fn assert_serde(&self) -> TokenStream {
        let krate = self.krate;
        let checks = self.service.methods.iter().map(|method| {
            let cfgs = &method.cfgs;
            // A method that raises sends `T` of `Result<T, HandlerError>`.
            let output = method.raises.as_ref().unwrap_or(&method.output);
            let types = method.args.iter().map(|arg| &arg.ty).chain(Some(output));
            let asserts = types.map(|ty| quote_spanned!(ty.span()=> must_be_serde::<#ty>();));
            quote! {
                #(#cfgs)*
                {
                    #(#asserts)*
                }
            }
        });
        quote! {
            const _: () = {
                fn must_be_serde<T: #krate::__private::ServiceType>() {}
                #[allow(dead_code)]
                fn argument_and_return_types_are_serde() {
                    #(#checks)*
                }
            };
        }
    }

    /// Compile-time checks that no parameter but the last is
    /// `luaseri::Values`, which would take every argument left. Told by
    /// type, not by name: `IsValues<Values>` has an inherent `IS_VALUES`
    /// (true), which path resolution prefers over the `false` the
    /// `NotValues` trait gives every other type. Only for codecs that may
    /// be lua-seri, and without borrowed types (which fail already).
    fn assert_values_last(&self) -> TokenStream {
        if !self.may_take_values {
            return TokenStream::new();
        }
        let krate = self.krate;
        let checks: Vec<TokenStream> = self
            .service
            .methods
            .iter()
            .filter_map(|method| {
                let (_last, fixed) = method.args.split_last()?;
                let asserts: Vec<TokenStream> = fixed
                    .iter()
                    .filter(|arg| !borrows(arg.ty.to_token_stream()))
                    .map(|arg| {
                        let ty = &arg.ty;
                        quote_spanned! {ty.span()=>
                            ::core::assert!(
                                !<#krate::__private::IsValues<#ty>>::IS_VALUES,
                                "a `Values` parameter takes every argument left, so only the \
                                 last parameter can be one",
                            );
                        }
                    })
                    .collect();
                if asserts.is_empty() {
                    return None;
                }
                let cfgs = &method.cfgs;
                Some(quote! {
                    #(#cfgs)*
                    {
                        #(#asserts)*
                    }
                })
            })
            .collect();
        if checks.is_empty() {
            return TokenStream::new();
        }
        quote! {
            const _: () = {
                #[allow(unused_imports)]
                use #krate::__private::NotValues as _;
                #(#checks)*
            };
        }
    }

    fn struct_client(&self) -> TokenStream {
        let Self {
            krate,
            trait_ident,
            client_ident,
            ..
        } = self;
        let vis = &self.service.item.vis;
        let doc = format!(
            "The client of [`{trait_ident}`]: each method calls the service on a remote node \
             and waits for its reply.\n\n\
             Get one from `cluster.proxy::<dyn {trait_ident}>(node, address)`, or wrap an \
             `Endpoint` with [`{client_ident}::new`]. Cloning is cheap."
        );
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #vis struct #client_ident {
                endpoint: #krate::Endpoint,
            }
        }
    }

    fn impl_client(&self) -> TokenStream {
        let Self {
            krate,
            client_ident,
            ..
        } = self;
        let vis = &self.service.item.vis;
        let methods = self.service.methods.iter().map(|m| self.client_method(m));
        quote! {
            #[allow(dead_code)]
            impl #client_ident {
                /// A client that sends its calls to `endpoint`.
                #vis fn new(endpoint: #krate::Endpoint) -> Self {
                    Self { endpoint }
                }

                /// The node and address this client calls.
                #vis fn endpoint(&self) -> &#krate::Endpoint {
                    &self.endpoint
                }

                /// The same client, with `timeout` for each call instead of
                /// the cluster's default.
                #vis fn with_timeout(&self, timeout: ::core::time::Duration) -> Self {
                    Self {
                        endpoint: ::core::clone::Clone::clone(&self.endpoint).with_timeout(timeout),
                    }
                }

                /// The same client, sending `tag` as the trace tag before each
                /// request.
                #vis fn with_trace(&self, tag: #krate::wire::TraceTag) -> Self {
                    Self {
                        endpoint: ::core::clone::Clone::clone(&self.endpoint).with_trace(tag),
                    }
                }

                #(#methods)*
            }
        }
    }

    /// One client method: encode the arguments, call (or push), decode the
    /// reply.
    fn client_method(&self, method: &RpcMethod) -> TokenStream {
        let Self {
            krate,
            codec,
            trait_ident,
            ..
        } = self;
        let vis = &self.service.item.vis;
        let RpcMethod {
            ident, name, cfgs, ..
        } = method;
        // A method that raises: its `Err` arrives as a `CallError`.
        let output = method.raises.as_ref().unwrap_or(&method.output);
        let args = method.args.iter().map(|a| {
            let (ident, ty) = (&a.ident, &a.ty);
            quote!(#ident: #ty)
        });
        let arg_idents = method.args.iter().map(|a| &a.ident);
        let mut docs = method.docs.iter().map(ToTokens::to_token_stream).collect();
        if method.docs.is_empty() {
            let doc = format!("Calls `{name}` on the remote service.");
            docs = quote!(#[doc = #doc]);
        }
        if method.raises.is_some() {
            docs.extend(quote! {
                ///
                /// The service fails this method with an error frame: its
                /// `HandlerError` arrives as `ErrorKind::Remote`, with its text.
            });
        }
        // A type that is not serde fails these calls too: point them at the
        // method (for the arguments) and at the return type.
        let fingerprints = quote!(<dyn #trait_ident as #krate::Service>::fingerprints());
        let send = quote_spanned!(ident.span()=> #krate::__private::send::<#codec, _>);
        let call = quote_spanned!(ident.span()=> #krate::__private::call::<#codec, _, #output>);
        // Whether a pool may run it again on another node.
        let retry = if method.idempotent {
            quote!(#krate::__private::Retry::OnceElsewhere)
        } else {
            quote!(#krate::__private::Retry::Never)
        };
        if method.push {
            quote! {
                #docs
                ///
                /// A push: the request is queued for sending and nothing waits
                /// for a reply, so an error means it was not sent.
                #(#cfgs)*
                #vis fn #ident(&self, #(#args),*) -> ::core::result::Result<(), #krate::CallError> {
                    #send(&self.endpoint, #fingerprints, #name, &(#(#arg_idents,)*))
                }
            }
        } else if method.args.iter().any(|a| borrows(a.ty.to_token_stream())) {
            // Never compiles: a borrowed argument is not `DeserializeOwned`,
            // which the type's own check reports. An `async fn` may hold
            // the borrow, so that report is the only error.
            quote! {
                #docs
                #(#cfgs)*
                #vis async fn #ident(&self, #(#args),*)
                    -> ::core::result::Result<#output, #krate::CallError>
                {
                    #call(&self.endpoint, #fingerprints, #name, #retry, (#(#arg_idents,)*)).await
                }
            }
        } else {
            quote! {
                #docs
                #(#cfgs)*
                #vis fn #ident(&self, #(#args),*)
                    -> impl ::core::future::Future<
                        Output = ::core::result::Result<#output, #krate::CallError>,
                    > + '_
                {
                    // One future: encoded and queued when first polled (the
                    // arguments are dropped then, not held across the
                    // wait), decoded when the reply comes.
                    #call(&self.endpoint, #fingerprints, #name, #retry, (#(#arg_idents,)*))
                }
            }
        }
    }

    fn struct_server(&self) -> TokenStream {
        let Self {
            trait_ident,
            server_ident,
            ..
        } = self;
        let vis = &self.service.item.vis;
        let doc = format!(
            "Serves [`{trait_ident}`] with an implementation: decodes each request, runs the \
             method it names and encodes the reply.\n\n\
             `cluster.spawn::<dyn {trait_ident}>(implementation)` builds one; it is public for \
             hand-made handlers and tests."
        );
        let name = server_ident.to_string();
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone)]
            #vis struct #server_ident {
                service: ::std::sync::Arc<dyn #trait_ident>,
            }

            impl ::core::fmt::Debug for #server_ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(#name).finish_non_exhaustive()
                }
            }
        }
    }

    fn impl_server(&self) -> TokenStream {
        let Self {
            krate,
            codec,
            name,
            trait_ident,
            server_ident,
            ..
        } = self;
        let vis = &self.service.item.vis;
        // Mixed-site names can't collide with the user's argument names.
        let service = Ident::new("service", Span::mixed_site());
        let request = Ident::new("request", Span::mixed_site());
        let payload = Ident::new("payload", Span::mixed_site());
        let method = Ident::new("method", Span::mixed_site());
        let args = Ident::new("args", Span::mixed_site());
        let reply = Ident::new("reply", Span::mixed_site());

        let arms = self.service.methods.iter().map(|m| {
            let RpcMethod {
                ident,
                name: method_name,
                cfgs,
                output,
                ..
            } = m;
            let bindings: Vec<Ident> = (0..m.args.len())
                .map(|i| format_ident!("arg{}", i, span = Span::mixed_site()))
                .collect();
            // The name arrives as bytes (`Codec::decode_method`).
            let pattern = LitByteStr::new(method_name.as_bytes(), ident.span());
            let types = m.args.iter().map(|a| &a.ty);
            let decode_args = quote_spanned!(ident.span()=>
                #krate::__private::decode_args::<#codec, (#(#types,)*)>
            );
            // `Result<T, HandlerError>`: `Ok` is the reply, `Err` an error frame.
            let finish = match &m.raises {
                Some(ok) => {
                    // An error type that is not skycluster's fails here: point
                    // at the return type.
                    let reply = Ident::new("reply", Span::mixed_site().located_at(output.span()));
                    quote_spanned!(output.span()=>
                        |#reply: #output| #krate::__private::encode_or_raise::<#codec, #ok>(
                            #name, #method_name, #reply,
                        )
                    )
                }
                None => quote_spanned!(output.span()=>
                    |#reply: #output| #krate::__private::encode_reply::<#codec, #output>(
                        #name, #method_name, &#reply,
                    )
                ),
            };
            quote! {
                #(#cfgs)*
                #pattern => {
                    let (#(#bindings,)*) = #decode_args(#name, #method_name, #payload, #args)?;
                    ::core::result::Result::Ok(#krate::__private::run_method(
                        #name,
                        #method_name,
                        #service,
                        move |#service| <dyn #trait_ident as #trait_ident>::#ident(#service, #(#bindings),*),
                        #finish,
                    ))
                }
            }
        });
        quote! {
            impl #server_ident {
                /// A dispatcher that serves calls with `service`.
                #vis fn new(service: ::std::sync::Arc<dyn #trait_ident>) -> Self {
                    Self { service }
                }

                /// Decodes one request and runs the method it names, which
                /// answers at once or goes on running; its reply is encoded
                /// when it returns.
                fn dispatch(
                    #service: &::std::sync::Arc<dyn #trait_ident>,
                    #request: #krate::Request,
                ) -> ::core::result::Result<#krate::Handled, #krate::HandlerError> {
                    let #payload = #request.into_payload();
                    let (#method, #args) = #krate::__private::decode_method::<#codec>(#name, &#payload)?;
                    match #method {
                        #(#arms)*
                        _ => ::core::result::Result::Err(
                            #krate::HandlerError::unknown_method(#name, #method),
                        ),
                    }
                }
            }
        }
    }

    fn impl_handler(&self) -> TokenStream {
        let Self {
            krate,
            server_ident,
            trait_ident,
            ..
        } = self;
        quote! {
            impl #krate::Handler for #server_ident {
                fn handle(&self, request: #krate::Request) -> #krate::Handled {
                    Self::dispatch(&self.service, request)
                        .unwrap_or_else(|e| #krate::Handled::ready(::core::result::Result::Err(e)))
                }

                fn fingerprints(
                    &self,
                ) -> ::core::option::Option<&'static #krate::schema::Fingerprints> {
                    <dyn #trait_ident as #krate::Service>::fingerprints()
                }
            }
        }
    }

    fn impl_service(&self) -> TokenStream {
        let Self {
            krate,
            name,
            trait_ident,
            client_ident,
            server_ident,
            ..
        } = self;
        let schema = self.schema_fn();
        quote! {
            impl #krate::Service for dyn #trait_ident {
                const NAME: &'static str = #name;
                type Client = #client_ident;

                fn client(endpoint: #krate::Endpoint) -> #client_ident {
                    #client_ident::new(endpoint)
                }

                fn handler(
                    implementation: ::std::sync::Arc<Self>,
                ) -> ::std::sync::Arc<dyn #krate::Handler> {
                    ::std::sync::Arc::new(#server_ident::new(implementation))
                }

                #schema
            }
        }
    }

    /// `Service::schema`: each method, then the shape of each parameter
    /// and of what it replies (`T` of a `Result<T, HandlerError>`), traced
    /// when called. `(&Trace::<T>::new()).tracer()` is `T`'s tracer for a
    /// serde type and a stand-in otherwise, so that a type that is not
    /// serde is reported once, by `assert_serde`, not here again.
    fn schema_fn(&self) -> TokenStream {
        let Self {
            krate,
            codec,
            name,
            trait_ident,
            ..
        } = self;
        let trait_name = trait_ident.unraw().to_string();
        let schema = Ident::new("schema", Span::mixed_site());
        let tracer = |ty: &syn::Type| quote_spanned!(ty.span()=> (&#krate::__private::Trace::<#ty>::new()).tracer());
        let methods = self.service.methods.iter().map(|method| {
            let RpcMethod {
                name: method_name,
                cfgs,
                push,
                ..
            } = method;
            let raises = method.raises.is_some();
            let params = method.args.iter().map(|arg| {
                let arg_name = arg.ident.unraw().to_string();
                let tracer = tracer(&arg.ty);
                quote!(.param(#arg_name, #tracer))
            });
            let returns = tracer(method.raises.as_ref().unwrap_or(&method.output));
            quote! {
                #(#cfgs)*
                #schema
                    .method(#method_name, #push, #raises)
                    #(#params)*
                    .returns(#returns);
            }
        });
        quote! {
            // The borrow in `(&Trace::<T>::new())` picks the tracer: needed
            // for the fallback, so clippy sees it as needless for a serde type.
            #[allow(clippy::needless_borrow)]
            fn schema() -> ::core::option::Option<#krate::schema::ServiceSchema> {
                #[allow(unused_imports)]
                use #krate::__private::{NotSerde as _, ViaSerde as _};
                let mut #schema =
                    #krate::__private::SchemaBuilder::new::<#codec>(#name, #trait_name);
                #(#methods)*
                ::core::option::Option::Some(#schema.build())
            }

            fn fingerprints() -> ::core::option::Option<&'static #krate::schema::Fingerprints> {
                static FINGERPRINTS: ::std::sync::OnceLock<
                    ::core::option::Option<#krate::schema::Fingerprints>,
                > = ::std::sync::OnceLock::new();
                // Tracing the types runs their serde impls against a
                // tracer: one that panics leaves the service unchecked
                // rather than failing the call that asked.
                FINGERPRINTS
                    .get_or_init(|| {
                        ::std::panic::catch_unwind(<Self as #krate::Service>::schema)
                            .ok()
                            .flatten()
                            .map(|schema| #krate::schema::Fingerprints::of(&schema))
                    })
                    .as_ref()
            }
        }
    }

    /// What `cluster.spawn::<dyn Trait>(..)` accepts besides an
    /// `Arc<dyn Trait>` (which skycluster covers for every service): an
    /// implementation, or an `Arc` of one. Generated because only here is
    /// the trait known, to turn an implementation into a `dyn Trait`.
    fn impl_service_from(&self) -> TokenStream {
        let Self {
            krate, trait_ident, ..
        } = self;
        // Any name but the trait's own.
        let imp = if *trait_ident == "I" {
            format_ident!("Implementation")
        } else {
            format_ident!("I")
        };
        quote! {
            impl<#imp: #trait_ident> #krate::__private::ServiceFrom<#imp> for dyn #trait_ident {
                fn service_from(implementation: #imp) -> ::std::sync::Arc<Self> {
                    ::std::sync::Arc::new(implementation)
                }
            }

            impl<#imp: #trait_ident> #krate::__private::ServiceFrom<::std::sync::Arc<#imp>>
                for dyn #trait_ident
            {
                fn service_from(implementation: ::std::sync::Arc<#imp>) -> ::std::sync::Arc<Self> {
                    implementation
                }
            }
        }
    }
}

impl ToTokens for ServiceGenerator<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend([
            self.trait_item(),
            self.assert_serde(),
            self.assert_values_last(),
            self.struct_client(),
            self.impl_client(),
            self.struct_server(),
            self.impl_server(),
            self.impl_handler(),
            self.impl_service(),
            self.impl_service_from(),
        ]);
    }
}

/// Whether a type's tokens hold a reference or a lifetime other than
/// `'static`.
fn borrows(tokens: TokenStream) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let found = match &token {
            TokenTree::Punct(p) if p.as_char() == '&' => true,
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                !matches!(tokens.peek(), Some(TokenTree::Ident(name)) if name == "static")
            }
            TokenTree::Group(group) => borrows(group.stream()),
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;

    fn expand(args: TokenStream, item: TokenStream) -> syn::File {
        let cx = Ctxt::new();
        let args = ServiceArgs::parse(&cx, args);
        let service = Service::from_trait(&cx, syn::parse2(item).unwrap());
        cx.check().unwrap();
        let tokens = ServiceGenerator::new(&args, &service).into_token_stream();
        syn::parse2(tokens).unwrap()
    }

    fn item_names(file: &syn::File) -> Vec<String> {
        file.items
            .iter()
            .map(|item| match item {
                syn::Item::Trait(i) => format!("trait {}", i.ident),
                syn::Item::Struct(i) => format!("struct {}", i.ident),
                syn::Item::Impl(i) => {
                    let of = i.trait_.as_ref().map(|(_, p, _)| {
                        let last = p.segments.last().unwrap();
                        format!("{} for ", last.ident)
                    });
                    let ty = i.self_ty.to_token_stream().to_string();
                    format!("impl {}{ty}", of.unwrap_or_default())
                }
                syn::Item::Const(_) => "const _".to_owned(),
                other => panic!("unexpected item {}", other.to_token_stream()),
            })
            .collect()
    }

    #[test]
    fn generates_one_item_of_each_kind() {
        let file = expand(
            quote!(),
            quote! {
                pub trait BattleMgr {
                    async fn create_room(&self, mode: u8) -> Result<u32, String>;
                    #[push]
                    async fn player_left(&self, room: u32);
                }
            },
        );
        assert_eq!(
            item_names(&file),
            [
                "trait BattleMgr",
                "const _",
                "struct BattleMgrClient",
                "impl BattleMgrClient",
                "struct ServeBattleMgr",
                "impl Debug for ServeBattleMgr",
                "impl ServeBattleMgr",
                "impl Handler for ServeBattleMgr",
                "impl Service for dyn BattleMgr",
                "impl ServiceFrom for dyn BattleMgr",
                "impl ServiceFrom for dyn BattleMgr",
            ]
        );
    }

    /// The tokens of the item of `file` that `name` (as `item_names` gives
    /// it) names.
    fn item_text(file: &syn::File, name: &str) -> String {
        let names = item_names(file);
        let at = names.iter().position(|n| n == name).expect(name);
        file.items[at].to_token_stream().to_string()
    }

    #[test]
    fn a_method_that_raises_answers_err_with_an_error_frame() {
        let file = expand(
            quote!(),
            quote! {
                pub trait Rooms {
                    async fn join(&self, n: u32) -> Result<u32, HandlerError>;
                    async fn plain(&self) -> Result<u32, String>;
                }
            },
        );
        let client = item_text(&file, "impl RoomsClient");
        // The client returns `T` or the transport's error, the frame included.
        assert!(
            client.contains(
                "Output = :: core :: result :: Result < u32 , :: skycluster :: CallError >"
            ),
            "{client}"
        );
        assert!(client.contains("Result < Result < u32 , String > , :: skycluster :: CallError >"));
        let server = item_text(&file, "impl ServeRooms");
        assert!(
            server.contains("encode_or_raise :: < :: skycluster :: codec :: Bincode , u32 >"),
            "{server}"
        );
        assert!(server.contains(
            "encode_reply :: < :: skycluster :: codec :: Bincode , Result < u32 , String > >"
        ));
        // A panic is answered with an error naming the service and method.
        assert!(
            server.contains("run_method (\"Rooms\" , \"join\" ,"),
            "{server}"
        );
        // The static check covers `T`, not the `Result` (not serde).
        let check = item_text(&file, "const _");
        assert!(check.contains("must_be_serde :: < u32 >"), "{check}");
        assert!(!check.contains("HandlerError"), "{check}");
    }

    #[test]
    fn only_a_lua_service_checks_that_values_come_last() {
        let trait_item = quote! {
            pub trait Router {
                async fn route(&self, cmd: String, n: u8, rest: Values) -> Values;
                async fn one(&self, rest: Values);
            }
        };
        let lua = expand(quote!(codec = lua), trait_item.clone());
        let names = item_names(&lua);
        assert_eq!(names.iter().filter(|n| *n == "const _").count(), 2);
        let checks = lua.items[2].to_token_stream().to_string();
        assert!(checks.contains("IsValues < String >"), "{checks}");
        assert!(checks.contains("IsValues < u8 >"), "{checks}");
        // The last parameter may be one.
        assert!(!checks.contains("IsValues < Values >"), "{checks}");

        let bincode = expand(quote!(), trait_item);
        let names = item_names(&bincode);
        assert_eq!(names.iter().filter(|n| *n == "const _").count(), 1);
    }

    #[test]
    fn the_implementation_parameter_never_takes_the_trait_s_name() {
        let file = expand(
            quote!(),
            quote!(
                trait I {}
            ),
        );
        let text = item_text(&file, "impl ServiceFrom for dyn I");
        assert!(text.starts_with("impl < Implementation : I >"), "{text}");
    }

    #[test]
    fn borrowed_types_are_told_from_owned_ones() {
        for ty in [quote!(&str), quote!(Vec<&'a [u8]>), quote!(Cow<'a, str>)] {
            assert!(borrows(ty.clone()), "{ty}");
        }
        for ty in [
            quote!(String),
            quote!(Cow<'static, str>),
            quote!((u8, [u8; 4])),
        ] {
            assert!(!borrows(ty.clone()), "{ty}");
        }
    }

    #[test]
    fn options_pick_the_name_codec_and_crate() {
        let file = expand(
            quote!(name = "battle", codec = lua, crate = "sc"),
            quote!(
                trait r#Mgr {}
            ),
        );
        let text = file.to_token_stream().to_string();
        assert!(text.contains("const NAME : & 'static str = \"battle\""));
        assert!(text.contains("sc :: codec :: Lua"));
        assert!(!text.contains(":: skycluster"));
    }

    #[test]
    fn the_trait_gains_async_trait_and_thread_safety() {
        let file = expand(
            quote!(),
            quote!(
                trait Echo: Clone {
                    async fn echo(&self);
                }
            ),
        );
        let syn::Item::Trait(item) = &file.items[0] else {
            panic!("the trait comes first")
        };
        assert_eq!(
            item.attrs[0].path().to_token_stream().to_string(),
            ":: skycluster :: __private :: async_trait"
        );
        assert_eq!(
            item.supertraits.to_token_stream().to_string(),
            "Clone + :: core :: marker :: Send + :: core :: marker :: Sync + 'static"
        );
    }
}
