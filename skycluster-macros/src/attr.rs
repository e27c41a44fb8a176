//! The `key = value, ...` arguments of `#[service(...)]` and
//! `#[cluster_main(...)]`, read the same way for both.
//!
//! [`parse_args`] hands each key to the macro as an [`Arg`]; the macro
//! matches on [`Arg::key`], one arm per option, and calls
//! [`Arg::set_once`] with a value parser such as [`path_value`], or
//! [`Arg::unknown`]. Every mistake (an unknown key, a repeated one, a value
//! that does not parse) is recorded in the [`Ctxt`] and reading goes on at
//! the next `,`, so one compile reports them all, as serde's attributes do.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::{parse_quote, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// Reads `args`, calling `each` once per key in order. Only a list that is
/// not `key ...` separated by commas at all (such as a leading literal)
/// stops the reading; that error is recorded too.
pub(crate) fn parse_args(cx: &Ctxt, args: TokenStream, mut each: impl FnMut(&Arg<'_, '_>)) {
    // The keys seen so far: a repeat is caught even when the first value
    // was rejected, so both mistakes show in one compile.
    let mut seen: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.to_token_stream().to_string().replace(' ', "");
        let repeated = seen.contains(&key);
        if !repeated {
            seen.push(key.clone());
        }
        each(&Arg {
            cx,
            meta: &meta,
            key,
            repeated,
        });
        Ok(())
    });
    if let Err(e) = parser.parse2(args) {
        cx.syn_error(e);
    }
}

/// One key of the list, with the input positioned just after it.
pub(crate) struct Arg<'m, 'a> {
    cx: &'m Ctxt,
    meta: &'m ParseNestedMeta<'a>,
    key: String,
    repeated: bool,
}

impl Arg<'_, '_> {
    /// The key as written, `a::b` for a path: what the macro matches on.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Reads `= value` with `parse` into `slot`. A repeated key is an error
    /// on the repeat, and the first value stays; a value `parse` rejects
    /// leaves `slot` as it was. The value is read, and errors in it are
    /// reported, either way.
    pub(crate) fn set_once<T>(
        &self,
        slot: &mut Option<T>,
        parse: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
    ) {
        if self.repeated {
            repeated(self.cx, &self.meta.path, &self.key);
        }
        let value = self.meta.value().and_then(|input| {
            let value = parse(input)?;
            // Caught here rather than by syn's list parser, which would
            // stop at it.
            if !input.is_empty() && !input.peek(Token![,]) {
                return Err(input.error("expected `,`"));
            }
            Ok(value)
        });
        match value {
            Ok(value) if slot.is_none() => *slot = Some(value),
            Ok(_) => {}
            Err(e) => {
                self.cx.syn_error(e);
                skip_to_comma(self.meta.input);
            }
        }
    }

    /// Records "unknown `macro_name` argument" on the key, listing the
    /// `expected` keys, and moves past its value.
    pub(crate) fn unknown(&self, macro_name: &str, expected: &[&str]) {
        self.cx.error_spanned_by(
            &self.meta.path,
            format!(
                "unknown `{macro_name}` argument `{}`; expected {}",
                self.key,
                one_of(expected)
            ),
        );
        skip_value(self.meta.input);
    }
}

/// Records "`key` set multiple times" on `at`, the repeat (tokio's words).
pub(crate) fn repeated<A: ToTokens>(cx: &Ctxt, at: A, key: &str) {
    cx.error_spanned_by(at, format!("`{key}` set multiple times"));
}

/// A path, bare or in a string: `crate = "sc"`, `crate = ::sc`,
/// `codec = my::Json`. The string form is what tokio-macros documents;
/// the bare one is what a user types without thinking.
pub(crate) fn path_value(input: ParseStream<'_>) -> syn::Result<Path> {
    if input.peek(LitStr) {
        input.parse::<LitStr>()?.parse()
    } else {
        input.call(Path::parse_mod_style)
    }
}

/// The path the generated code names the runtime by: `crate = ...`, or
/// `::skycluster`.
pub(crate) fn crate_or_default(krate: Option<Path>) -> Path {
    krate.unwrap_or_else(|| parse_quote!(::skycluster))
}

/// "`a`, `b` or `c`".
fn one_of(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Moves past an unknown key's `= value` or `(...)`. An expression is read
/// whole, so a comma inside one (`x = f::<A, B>`) does not end it.
fn skip_value(input: ParseStream<'_>) {
    if input.peek(Token![=]) && input.parse::<Token![=]>().is_ok() {
        let is_expr = {
            let fork = input.fork();
            fork.parse::<syn::Expr>().is_ok() && (fork.is_empty() || fork.peek(Token![,]))
        };
        if is_expr {
            let _ = input.parse::<syn::Expr>();
        }
    }
    skip_to_comma(input);
}

/// Moves to the next `,` outside any brackets, or the end.
fn skip_to_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::LitInt;

    #[derive(Debug, Default)]
    struct Args {
        krate: Option<Path>,
        n: Option<u64>,
    }

    /// A two-key attribute, `crate` and `n`, read like the real ones.
    fn read(tokens: TokenStream) -> (Args, Vec<String>) {
        let cx = Ctxt::new();
        let mut args = Args::default();
        parse_args(&cx, tokens, |arg| match arg.key() {
            "crate" => arg.set_once(&mut args.krate, path_value),
            "n" => arg.set_once(&mut args.n, |input| input.parse::<LitInt>()?.base10_parse()),
            _ => arg.unknown("test", &["crate", "n"]),
        });
        let errors = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, errors)
    }

    #[test]
    fn reads_every_key_and_both_path_forms() {
        let (args, errors) = read(quote!(crate = "sc", n = 3));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.krate.to_token_stream().to_string(), "sc");
        assert_eq!(args.n, Some(3));

        let (args, errors) = read(quote!(crate = ::a::b,));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.krate.to_token_stream().to_string(), ":: a :: b");
    }

    #[test]
    fn every_mistake_is_recorded_and_reading_goes_on() {
        let (args, errors) = read(quote!(
            bogus = f::<A, B>,
            n = "x",
            n = 2,
            other(1, 2),
            crate = a b,
            crate = "c",
            n = 3
        ));
        assert_eq!(
            errors,
            [
                "unknown `test` argument `bogus`; expected `crate` or `n`",
                "expected integer literal",
                "`n` set multiple times",
                "unknown `test` argument `other`; expected `crate` or `n`",
                "expected `,`",
                "`crate` set multiple times",
                "`n` set multiple times",
            ]
        );
        // The first value that parsed stays.
        assert_eq!(args.n, Some(2));
        assert_eq!(args.krate.to_token_stream().to_string(), "c");
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_stop() {
        let (_, errors) = read(quote!(n, n(1), crate = "a"));
        assert_eq!(
            errors,
            ["expected `=`", "`n` set multiple times", "expected `=`"]
        );
    }

    #[test]
    fn the_default_crate_is_skycluster() {
        let path = crate_or_default(None);
        assert_eq!(path.to_token_stream().to_string(), ":: skycluster");
    }

    #[test]
    fn expected_keys_read_as_a_list() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
