//! `#[cluster_main]`: turns `async fn main(cluster: Cluster)` into a
//! synchronous `main` that starts a node and runs the body on it.
//!
//! The work is at run time, in `skycluster::__private::run_main`: this only
//! checks the signature, reads the options into a [`Config`] and emits the
//! call.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{parse_quote, FnArg, ItemFn, LitInt, LitStr, Path};

use crate::ctxt::Ctxt;

/// The attribute's options, each settable once.
#[derive(Debug, Default)]
struct Config {
    krate: Option<Path>,
    grace_ms: Option<u64>,
    worker_threads: Option<usize>,
}

impl Config {
    fn from_args(cx: &Ctxt, args: TokenStream) -> Config {
        let mut config = Config::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                let value = meta.value()?;
                let path = if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse()?
                } else {
                    value.call(Path::parse_mod_style)?
                };
                config.set_crate(&meta, path)
            } else if meta.path.is_ident("grace_ms") {
                let ms = meta.value()?.parse::<LitInt>()?.base10_parse()?;
                config.set_grace_ms(&meta, ms)
            } else if meta.path.is_ident("worker_threads") {
                let lit = meta.value()?.parse::<LitInt>()?;
                let n: usize = lit.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`worker_threads` must be at least 1",
                    ));
                }
                config.set_worker_threads(&meta, n)
            } else {
                let key = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown `cluster_main` argument `{key}`; expected `crate`, `grace_ms` or \
                     `worker_threads`"
                )))
            }
        });
        if let Err(e) = parser.parse2(args) {
            cx.syn_error(e);
        }
        config
    }

    fn set_crate(&mut self, meta: &ParseNestedMeta<'_>, path: Path) -> syn::Result<()> {
        set_once(meta, &mut self.krate, path, "crate")
    }

    fn set_grace_ms(&mut self, meta: &ParseNestedMeta<'_>, ms: u64) -> syn::Result<()> {
        set_once(meta, &mut self.grace_ms, ms, "grace_ms")
    }

    fn set_worker_threads(&mut self, meta: &ParseNestedMeta<'_>, n: usize) -> syn::Result<()> {
        set_once(meta, &mut self.worker_threads, n, "worker_threads")
    }
}

fn set_once<T>(
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<T>,
    value: T,
    key: &str,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{key}` set multiple times")));
    }
    *slot = Some(value);
    Ok(())
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

    let krate = config.krate.unwrap_or_else(|| parse_quote!(::skycluster));
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
    let body_ident = &body_sig.ident;
    // Naming the return type makes an unsupported one an error on the type.
    let output_ty = match output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let run_main = quote! {
        #krate::__private::run_main::<_, _, #output_ty>(
            #krate::__private::MainOptions::new() #grace #workers,
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
        assert!(errors(quote!(grace_ms = 500, worker_threads = 2), item).is_empty());
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
}
