//! `#[cluster_main]`: turns `async fn main(cluster: Cluster)` into a
//! synchronous `main` that starts a node and runs the body on it.
//!
//! The work is at run time, in `skycluster::__private::run_main`: this only
//! checks the signature, reads the options into a [`Config`] and emits the
//! call. `run_main` prints a body's `Err` itself (with `Display`, each
//! cause once) and exits, instead of returning it for Rust's `Debug`
//! output.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitInt, Path};

use crate::attr;
use crate::ctxt::Ctxt;

/// The attribute's options, each settable once.
#[derive(Debug, Default)]
struct Config {
    krate: Option<Path>,
    grace_ms: Option<u64>,
    worker_threads: Option<usize>,
    /// `options = path::to_fn`: a `fn() -> Options` (or `Result` of them).
    options: Option<Path>,
}

impl Config {
    /// Reads the options, recording every mistake in `cx`; an option in
    /// error keeps its default. A new option is a field, an arm here and
    /// its key in the `unknown` arm's list.
    fn from_args(cx: &Ctxt, args: TokenStream) -> Config {
        let mut config = Config::default();
        attr::parse_args(cx, args, |arg| match arg.key() {
            "crate" => arg.set_once(&mut config.krate, attr::path_value),
            "grace_ms" => arg.set_once(&mut config.grace_ms, |input| {
                input.parse::<LitInt>()?.base10_parse()
            }),
            "worker_threads" => arg.set_once(&mut config.worker_threads, worker_threads),
            "options" => arg.set_once(&mut config.options, options_fn),
            _ => arg.unknown(
                "cluster_main",
                &["crate", "grace_ms", "options", "worker_threads"],
            ),
        });
        config
    }
}

/// `worker_threads = n`: tokio panics at run time on 0, so it is refused
/// here, on the literal.
fn worker_threads(input: ParseStream<'_>) -> syn::Result<usize> {
    let lit = input.parse::<LitInt>()?;
    let n: usize = lit.base10_parse()?;
    if n == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`worker_threads` must be at least 1",
        ));
    }
    Ok(n)
}

/// `options = path::to_fn`, bare or in a string like every path argument.
fn options_fn(input: ParseStream<'_>) -> syn::Result<Path> {
    let span = input.span();
    attr::path_value(input).map_err(|_| {
        syn::Error::new(
            span,
            "`options` names a function: `options = path::to_fn`, \
             a `fn() -> skycluster::Options`",
        )
    })
}

/// Checks the function: `async`, not generic, one argument (the cluster).
fn check(cx: &Ctxt, item: &ItemFn) {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "`#[cluster_main]` goes on an `async fn`: write `async fn main(cluster: Cluster)`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            "`#[cluster_main]` functions cannot be generic",
        );
    }
    match (sig.inputs.len(), sig.inputs.first()) {
        (_, Some(FnArg::Receiver(receiver))) => {
            cx.error_spanned_by(receiver, "`#[cluster_main]` cannot take `self`");
        }
        (1, _) => {}
        (0, _) => cx.syn_error(syn::Error::new(
            sig.paren_token.span.join(),
            "`#[cluster_main]` functions take the cluster: `async fn main(cluster: Cluster)`",
        )),
        _ => cx.error_spanned_by(
            &sig.inputs,
            "`#[cluster_main]` functions take one argument, the cluster: \
             `async fn main(cluster: Cluster)`",
        ),
    }
}

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => return crate::token_stream_with_error(input, e),
    };
    let cx = Ctxt::new();
    let config = Config::from_args(&cx, args);
    check(&cx, &item);
    if let Err(e) = cx.check() {
        // Keep the function, nested where its signature can't clash with
        // what `main` must be, so the only errors are ours.
        let (attrs, vis, ident) = (&item.attrs, &item.vis, &item.sig.ident);
        let body = ItemFn {
            attrs: Vec::new(),
            ..item.clone()
        };
        let mut out = quote! {
            #(#attrs)*
            #vis fn #ident() {
                #[allow(dead_code, unused)]
                #body
            }
        };
        out.extend(e.into_compile_error());
        return out;
    }

    let krate = attr::crate_or_default(config.krate);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let ident = &sig.ident;
    let output = &sig.output;
    let mut body_sig = sig.clone();
    body_sig.ident = syn::Ident::new("body", Span::mixed_site());

    let grace = config
        .grace_ms
        .map(|ms| quote!(.grace(::core::time::Duration::from_millis(#ms))));
    let workers = config.worker_threads.map(|n| quote!(.worker_threads(#n)));
    // Spanned on the path, so a function of the wrong type is an error
    // there.
    let options = config
        .options
        .map(|path| quote_spanned!(path.span()=> .options(#path)));
    let body_ident = &body_sig.ident;
    // Naming the return type makes an unsupported one an error on the type.
    let output_ty = match output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let run_main = quote! {
        #krate::__private::run_main::<_, _, #output_ty, _>(
            #krate::__private::MainOptions::new() #grace #workers #options,
            #body_ident,
        )
    };
    quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            #body_sig #block

            #run_main
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        let cx = Ctxt::new();
        Config::from_args(&cx, args);
        check(&cx, &syn::parse2(item).unwrap());
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_an_async_fn_of_the_cluster() {
        let item = quote!(
            async fn main(cluster: Cluster) -> Result<(), Error> {}
        );
        assert!(errors(
            quote!(grace_ms = 500, worker_threads = 2, options = my::options),
            item
        )
        .is_empty());
    }

    #[test]
    fn rejects_a_repeated_key_and_a_sync_fn() {
        let item = quote!(
            fn main() {}
        );
        assert_eq!(
            errors(quote!(grace_ms = 1, grace_ms = 2), item),
            [
                "`grace_ms` set multiple times",
                "`#[cluster_main]` goes on an `async fn`: write `async fn main(cluster: Cluster)`",
                "`#[cluster_main]` functions take the cluster: `async fn main(cluster: Cluster)`",
            ]
        );
    }

    #[test]
    fn every_argument_mistake_is_reported_with_the_shape_ones() {
        let item = quote!(
            async fn main(a: A, b: B) {}
        );
        assert_eq!(
            errors(
                quote!(
                    flavor = "current_thread",
                    grace_ms = "5",
                    worker_threads = 0,
                    grace_ms = 1,
                    grace_ms = 2,
                    crate = "sc",
                    options = 5,
                    options = a::b,
                    options = c
                ),
                item
            ),
            [
                "unknown `cluster_main` argument `flavor`; expected `crate`, `grace_ms`, \
                 `options` or `worker_threads`",
                "expected integer literal",
                "`worker_threads` must be at least 1",
                "`grace_ms` set multiple times",
                "`grace_ms` set multiple times",
                "`options` names a function: `options = path::to_fn`, a `fn() -> \
                 skycluster::Options`",
                "`options` set multiple times",
                "`options` set multiple times",
                "`#[cluster_main]` functions take one argument, the cluster: \
                 `async fn main(cluster: Cluster)`",
            ]
        );
    }

    #[test]
    fn the_options_reach_the_expansion() {
        let out = expand(
            quote!(
                crate = "sc",
                grace_ms = 250,
                worker_threads = 2,
                options = "node::options"
            ),
            quote!(
                async fn main(cluster: Cluster) {}
            ),
        )
        .to_string();
        assert!(out.contains("sc :: __private :: run_main"), "{out}");
        assert!(out.contains("from_millis (250u64)"), "{out}");
        assert!(out.contains("worker_threads (2usize)"), "{out}");
        assert!(out.contains(". options (node :: options)"), "{out}");
    }
}
