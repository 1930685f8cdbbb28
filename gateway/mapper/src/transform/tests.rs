use super::*;

fn run(t: &Transform, s: &str) -> String {
    t.apply(s.to_owned())
}

#[test]
fn case_and_trimming_in_place_are_what_the_str_methods_give() {
    let samples = [
        "",
        " ",
        "plain",
        "MiXeD Case@Example.COM",
        "  padded\t\n",
        "\u{a0}nbsp\u{2003}",
        "Zoë ÅNGSTRÖM",
        "ΣΑΣ",
        "İstanbul",
        "straße",
        " \u{3000}全角 ",
        "tab\tinside",
        "x",
    ];
    for s in samples {
        assert_eq!(run(&Transform::Lower, s), s.to_lowercase(), "{s:?}");
        assert_eq!(run(&Transform::Upper, s), s.to_uppercase(), "{s:?}");
        assert_eq!(run(&Transform::Trim, s), s.trim(), "{s:?}");
    }
}

#[test]
fn ascii_names_come_out_right() {
    for (input, want) in [
        ("José Núñez", "Jose Nunez"),
        ("Øystein", "Oystein"),
        ("Łukasz", "Lukasz"),
        ("Straße", "Strasse"),
        ("STRAßE", "STRASSE"),
        ("Æsa", "Aesa"),
        ("ÆSA", "AESA"),
        ("æsa", "aesa"),
        ("François Müller", "Francois Muller"),
        ("Zoë Saldaña-Ångström", "Zoe Saldana-Angstrom"),
        ("plain", "plain"),
    ] {
        assert_eq!(to_ascii(input), want, "{input}");
    }
}

#[test]
fn case_and_space_transforms() {
    assert_eq!(run(&Transform::Lower, "Jane@X.COM"), "jane@x.com");
    assert_eq!(run(&Transform::Upper, "jane"), "JANE");
    assert_eq!(run(&Transform::Trim, "  a b  "), "a b");
    assert_eq!(run(&Transform::StripSpaces, " a b\tc "), "abc");
    assert_eq!(run(&Transform::Title, "mary-jane VAN der berg"), "Mary-Jane Van Der Berg");
    assert_eq!(run(&Transform::Title, "josé"), "José");
}

#[test]
fn split_before_after() {
    let split = |index| Transform::Split { sep: ",".into(), index };
    assert_eq!(run(&split(0), "a,b,c"), "a");
    assert_eq!(run(&split(2), "a,b,c"), "c");
    assert_eq!(run(&split(-1), "a,b,c"), "c");
    assert_eq!(run(&split(-3), "a,b,c"), "a");
    assert_eq!(run(&split(3), "a,b,c"), "");
    assert_eq!(run(&split(-4), "a,b,c"), "");
    assert_eq!(run(&Transform::Before("@".into()), "jane@x.com"), "jane");
    assert_eq!(run(&Transform::Before("@".into()), "jane"), "jane");
    assert_eq!(run(&Transform::After("@".into()), "jane@x.com"), "x.com");
    assert_eq!(run(&Transform::After("@".into()), "jane"), "");
}

#[test]
fn regex_replace_and_lookup() {
    let re = Transform::Replace { regex: Regex::new(r"\s+").unwrap(), with: " ".into() };
    assert_eq!(run(&re, "a   b \t c"), "a b c");
    let groups = Transform::Replace { regex: Regex::new(r"^(\w+)\.(\w+)$").unwrap(), with: "$2, $1".into() };
    assert_eq!(run(&groups, "jane.doe"), "doe, jane");
    let table: BTreeMap<String, String> = [("ENG".to_owned(), "Engineering".to_owned())].into();
    let table = Arc::new(table);
    let with_default = Transform::Lookup { table: table.clone(), default: Some("Other".into()) };
    let without = Transform::Lookup { table, default: None };
    assert_eq!(run(&with_default, "ENG"), "Engineering");
    assert_eq!(run(&with_default, "HR"), "Other");
    assert_eq!(run(&without, "HR"), "HR");
}

#[test]
fn chains_apply_in_order_to_scalars_and_arrays() {
    let chain = [Transform::Trim, Transform::Lower];
    assert_eq!(apply_chain(&chain, Value::from(" Jane@X.com ")).unwrap(), Value::from("jane@x.com"));
    assert_eq!(apply_chain(&chain, Value::from(12)).unwrap(), Value::from("12"));
    assert_eq!(apply_chain(&chain, Value::from(true)).unwrap(), Value::from("true"));
    assert_eq!(apply_chain(&chain, serde_json::json!([" A", "B "])).unwrap(), serde_json::json!(["a", "b"]));
    assert!(apply_chain(&chain, serde_json::json!({"a": 1})).is_err());
    assert_eq!(apply_chain(&[], serde_json::json!({"a": 1})).unwrap(), serde_json::json!({"a": 1}));
}

#[test]
fn trimmed_is_what_str_trim_gives_at_every_kind_of_end() {
    // Every ASCII byte and some whitespace outside ASCII (and a letter
    // outside it), alone, at either end and at both.
    let ends: Vec<char> =
        (0_u8..0x80).map(char::from).chain(['\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', 'é']).collect();
    for &a in &ends {
        for s in [a.to_string(), format!("{a}x"), format!("x{a}"), format!("{a}x y{a}"), format!("{a}{a}")] {
            assert_eq!(trimmed(&s), s.trim(), "{s:?}");
            assert_eq!(run(&Transform::Trim, &s), s.trim(), "{s:?}");
        }
        for &b in &ends {
            let s = format!("{a}mid{b}");
            assert_eq!(trimmed(&s), s.trim(), "{s:?}");
        }
    }
    assert_eq!(trimmed(""), "");
}
