//! Lua literals: `Display` for [`Value`] and a parser back.
//!
//! Printing gives Lua source: `{1, 2.0, name = "orc", [true] = 'x'}` reads
//! back in Lua and here as the same value. Integers print without a point
//! and floats always with one (or an exponent), so `1` and `1.0` stay apart;
//! infinities print as `math.huge` / `-math.huge` and NaN as `0/0`. Strings
//! print in double quotes, with bytes that are not printable UTF-8 as
//! `\ddd`. `{:#}` prints one field per line.
//!
//! The parser reads that output and the usual hand-written forms: decimal,
//! hex and float numerals, unary minus and `/` between numbers (`-1/0`),
//! single, double and long-bracket strings with Lua's escapes, `nil`,
//! `true`, `false`, `math.huge`, `math.maxinteger`, `math.mininteger`,
//! table constructors, and `--` comments. A light userdata, which has no
//! Lua literal, prints and parses as `lightuserdata(0x...)`.
//!
//! `print` holds the printing half, `parse` the parser.

mod parse;
mod print;

#[cfg(test)]
mod tests {
    use crate::codec::luaseri::error::ErrorKind;
    use crate::codec::luaseri::value::Value;

    fn parse(s: &str) -> Value {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn integers_and_floats_print_apart() {
        assert_eq!(Value::Integer(1).to_string(), "1");
        assert_eq!(Value::Real(1.0).to_string(), "1.0");
        assert_eq!(Value::Real(-0.0).to_string(), "-0.0");
        assert_eq!(Value::Real(1e300).to_string(), "1e300");
        assert_eq!(Value::Real(f64::INFINITY).to_string(), "math.huge");
        assert_eq!(Value::Real(f64::NEG_INFINITY).to_string(), "-math.huge");
        assert_eq!(Value::Real(f64::NAN).to_string(), "0/0");
        assert_eq!(Value::Integer(i64::MIN).to_string(), "math.mininteger");
    }

    #[test]
    fn strings_escape_like_lua() {
        assert_eq!(Value::from("a\"b\\c\nd").to_string(), r#""a\"b\\c\nd""#);
        assert_eq!(Value::from(vec![0xff, b'1']).to_string(), r#""\2551""#);
        assert_eq!(Value::from("\u{1}2").to_string(), r#""\0012""#);
        assert_eq!(Value::from("héllo").to_string(), "\"héllo\"");
    }

    #[test]
    fn keys_print_as_names_when_they_can() {
        let v = parse(r#"{["end"] = 1, ok = 2, ["a b"] = 3, [1.5] = 4}"#);
        assert_eq!(
            v.to_string(),
            r#"{["end"] = 1, ok = 2, ["a b"] = 3, [1.5] = 4}"#
        );
        assert_eq!(
            format!("{v:#}"),
            "{\n  [\"end\"] = 1,\n  ok = 2,\n  [\"a b\"] = 3,\n  [1.5] = 4,\n}"
        );
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        for text in [
            "nil",
            "{}",
            r#"{1, 2.0, nil, x = "y", [true] = false, [-3] = {0/0, math.huge, -math.huge}}"#,
            "math.mininteger",
            "lightuserdata(0x00007fff00001234)",
            r#""\000\255\u{85}""#,
        ] {
            let v = parse(text);
            assert_eq!(parse(&v.to_string()), v, "{text}");
            assert_eq!(parse(&format!("{v:#}")), v, "{text}");
        }
    }

    #[test]
    fn numerals_follow_lua() {
        assert_eq!(parse("0x10"), Value::Integer(16));
        assert_eq!(parse("0xffffffffffffffff"), Value::Integer(-1));
        assert_eq!(
            parse("9223372036854775808"),
            Value::Real(9.223_372_036_854_776e18)
        );
        assert_eq!(parse("-2"), Value::Integer(-2));
        assert_eq!(parse("- 2.5"), Value::Real(-2.5));
        assert_eq!(parse("1e2"), Value::Real(100.0));
        assert_eq!(parse(".5"), Value::Real(0.5));
        assert_eq!(parse("0x1p4"), Value::Real(16.0));
        assert_eq!(parse("0x.8"), Value::Real(0.5));
        assert_eq!(parse("1/0"), Value::Real(f64::INFINITY));
        assert!(matches!(parse("-(0/0)"), Value::Real(x) if x.is_nan()));
    }

    #[test]
    fn strings_parse_every_escape() {
        assert_eq!(parse(r"'a\tb\x41\65\u{e9}\z   c'"), Value::from("a\tbAAéc"));
        assert_eq!(parse("[[\nline]]"), Value::from("line"));
        assert_eq!(parse("[==[a]]b]==]"), Value::from("a]]b"));
        assert_eq!(parse("-- comment\n 'x' --[[ block ]]"), Value::from("x"));
    }

    #[test]
    fn tables_take_every_field_form() {
        let t = parse("{1, 2; a = 'b', [3] = 4, 'c',}");
        let t = t.as_table().unwrap_or_else(|| panic!("not a table"));
        assert_eq!(
            t.array,
            [Value::Integer(1), Value::Integer(2), Value::from("c")]
        );
        assert_eq!(t.hash.len(), 2);
        assert_eq!(t.get(&Value::Integer(3)), Some(&Value::Integer(4)));
    }

    #[test]
    fn errors_name_the_position() {
        let err = "{\n  1,\n  @}".parse::<Value>().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Syntax {
                    line: 3,
                    column: 3,
                    offset: 9,
                    ..
                }
            ),
            "{err}"
        );
        assert!("'abc".parse::<Value>().is_err());
        assert!("{[nil] = 1}".parse::<Value>().is_err());
        assert!("12abc".parse::<Value>().is_err());
        assert!("1 2".parse::<Value>().is_err());
        assert!("'\\300'".parse::<Value>().is_err());
        assert!("foo".parse::<Value>().is_err());
        assert!("".parse::<Value>().is_err());
    }

    #[test]
    fn deep_input_is_refused_not_overflowed() {
        let deep = "{".repeat(100_000);
        assert!(deep.parse::<Value>().is_err());
        let minus = "-".repeat(100_000) + "1";
        assert!(minus.parse::<Value>().is_err());
        let parens = "(".repeat(100_000);
        assert!(parens.parse::<Value>().is_err());
    }
}
