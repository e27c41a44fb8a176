//! `#[service]`: a trait in, the trait plus a typed client, a dispatcher and
//! an `impl Service` out.
//!
//! [`parse`] reads and checks the attribute and the trait, recording every
//! mistake; [`expand`] generates the items. When a mistake was found, the
//! output is the trait alone (so the rest of the crate and the IDE still see
//! it) followed by the errors.

mod expand;
mod parse;

use proc_macro2::TokenStream;
use quote::ToTokens;

use self::expand::ServiceGenerator;
use self::parse::{Service, ServiceArgs};
use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Trait(item)) => item,
        Ok(other) => {
            let e = syn::Error::new_spanned(
                item_keyword(&other),
                "`#[service]` goes on a trait: `#[service] trait MyService { ... }`",
            );
            return crate::token_stream_with_error(input, e);
        }
        Err(e) => return crate::token_stream_with_error(input, e),
    };

    let cx = Ctxt::new();
    let args = ServiceArgs::parse(&cx, args);
    let service = Service::from_trait(&cx, item);
    let generator = ServiceGenerator::new(&args, &service);
    match cx.check() {
        Ok(()) => generator.into_token_stream(),
        Err(e) => {
            let mut out = generator.trait_item();
            out.extend(e.into_compile_error());
            out
        }
    }
}

/// The token an error about the wrong kind of item should point at.
fn item_keyword(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Struct(i) => i.struct_token.into_token_stream(),
        syn::Item::Enum(i) => i.enum_token.into_token_stream(),
        syn::Item::Fn(i) => i.sig.fn_token.into_token_stream(),
        syn::Item::Impl(i) => i.impl_token.into_token_stream(),
        other => other.into_token_stream(),
    }
}
