//! Golden tests of the parsed filter tree. Each `golden/filter/NAME.txt`
//! holds filters, one per line; `NAME.golden` holds, for each, its tree as
//! an S-expression and its canonical print (or the error). Run with
//! `BLESS=1` to regenerate the `.golden` files after reviewing a change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests may fail loudly

use scim_core::Filter;
use scim_core::filter::{CompareOp, Mode};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn sexpr(f: &Filter) -> String {
    match f {
        Filter::Compare { path, op, value } => format!("({} {path} {value})", op_name(*op)),
        Filter::Present(path) => format!("(pr {path})"),
        Filter::ValuePath { path, filter, then } => match then {
            Some(t) => format!("(value-path {path} {} then {})", sexpr(filter), sexpr(t)),
            None => format!("(value-path {path} {})", sexpr(filter)),
        },
        Filter::And(a, b) => format!("(and {} {})", sexpr(a), sexpr(b)),
        Filter::Or(a, b) => format!("(or {} {})", sexpr(a), sexpr(b)),
        Filter::Not(a) => format!("(not {})", sexpr(a)),
    }
}

fn op_name(op: CompareOp) -> &'static str {
    op.as_str()
}

fn render(input: &str) -> String {
    let mut out = String::new();
    for line in input.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let _ = writeln!(out, "filter:  {line}");
        match Filter::parse(line) {
            Ok(f) => {
                let _ = writeln!(out, "tree:    {}", sexpr(&f));
                let _ = writeln!(out, "print:   {f}");
                assert_eq!(Filter::parse(&f.to_string()).as_ref(), Ok(&f), "print-then-parse changed {line}");
            }
            Err(e) => {
                let _ = writeln!(out, "error:   {}", e.detail);
                if let Ok(f) = Filter::parse_with(line, Mode::Lenient) {
                    let _ = writeln!(out, "lenient: {}", sexpr(&f));
                }
            }
        }
        out.push('\n');
    }
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/filter")
}

#[test]
fn filter_trees_match_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 3, "golden inputs are missing");
    let mut stale = Vec::new();
    for input in inputs {
        let actual = render(&std::fs::read_to_string(&input).unwrap());
        let golden = input.with_extension("golden");
        if bless {
            std::fs::write(&golden, &actual).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(actual.as_str()) {
            stale.push(format!("{}:\n{actual}", golden.display()));
        }
    }
    assert!(stale.is_empty(), "golden files differ (review, then rerun with BLESS=1):\n{}", stale.join("\n"));
}
