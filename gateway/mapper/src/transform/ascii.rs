//! Transliteration to ASCII that keeps the case of the surrounding word.

/// Transliterates `s` to ASCII (`José Núñez` -> `Jose Nunez`, `Straße` ->
/// `Strasse`, `Æsa` -> `Aesa`). A letter that becomes several letters
/// follows its neighbours' case: `STRAßE` -> `STRASSE`, `ÆSA` -> `AESA`.
pub(crate) fn to_ascii(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let expansion = deunicode::deunicode_char(c).unwrap_or("");
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        push_cased(&mut out, expansion, c, prev, next);
    }
    out
}

fn push_cased(out: &mut String, expansion: &str, c: char, prev: Option<char>, next: Option<char>) {
    if expansion.chars().count() < 2 {
        out.push_str(expansion);
        return;
    }
    let upper_word = |n: Option<char>| n.is_none_or(|n| !n.is_lowercase());
    if c.is_uppercase() {
        if next.is_some_and(char::is_lowercase) {
            // Title case: first letter upper, the rest lower.
            let mut chars = expansion.chars();
            out.extend(chars.next().map(|f| f.to_ascii_uppercase()));
            out.extend(chars.map(|r| r.to_ascii_lowercase()));
        } else {
            out.push_str(&expansion.to_ascii_uppercase());
        }
    } else if c.is_lowercase() && prev.is_some_and(char::is_uppercase) && upper_word(next) {
        out.push_str(&expansion.to_ascii_uppercase());
    } else {
        out.push_str(expansion);
    }
}
