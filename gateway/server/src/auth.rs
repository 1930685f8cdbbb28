//! Inbound bearer tokens: several valid at once (rotation), each optionally
//! named, compared in constant time. Tokens are never logged; only names are.
//!
//! A token is kept only as its digest: SipHash-2-4 with a 128-bit output,
//! keyed by a random key the process makes once ([`process_key`]). A keyed
//! PRF is all the comparison needs: the presented token's digest is
//! compared with every entry's, so the time taken says nothing of how much
//! of a token matched, and without the key no token can be made to match
//! another's digest. It costs a few hundred instructions a request where
//! SHA-256 in software cost over 3,000.

use siphasher::sip128::SipHasher24;
use std::fmt;
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

/// Shortest token accepted in the config: guessable tokens are refused.
pub const MIN_TOKEN_LEN: usize = 16;

/// One accepted token: its name and its digest ([`digest`]: comparisons
/// take the same time whatever the presented token is).
#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 16],
}

/// The tokens of a route.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

/// Why a token list was refused. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("entry {0} is shorter than {MIN_TOKEN_LEN} characters")]
    TooShort(usize),
    #[error("entry {0} is empty")]
    Empty(usize),
    #[error("no tokens are configured")]
    None,
    #[error("the operating system gave no random bytes for the tokens' key")]
    NoRandomness,
}

/// The key of every token digest this process makes: 16 bytes from the
/// operating system's random source, drawn when the first token list is
/// read and kept until the process ends. `None` until then, or when the
/// source failed.
fn process_key() -> Option<&'static [u8; 16]> {
    static KEY: OnceLock<[u8; 16]> = OnceLock::new();
    if let Some(key) = KEY.get() {
        return Some(key);
    }
    let mut key = [0; 16];
    getrandom::fill(&mut key).ok()?;
    Some(KEY.get_or_init(|| key))
}

/// A token's digest under `key`.
fn digest(key: &[u8; 16], token: &[u8]) -> [u8; 16] {
    SipHasher24::new_with_key(key).hash(token).as_bytes()
}

impl Tokens {
    /// Parses entries, one per item: `token` or `name:token`, where a name is
    /// letters, digits, `-` and `_`. Unnamed tokens are called `token-N`.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, TokenError> {
        let key = process_key().ok_or(TokenError::NoRandomness)?;
        let mut entries = Vec::new();
        for (i, item) in items.into_iter().map(str::trim).filter(|s| !s.is_empty() && !s.starts_with('#')).enumerate() {
            let (name, token) = split_name(item).unwrap_or((None, item));
            if token.is_empty() {
                return Err(TokenError::Empty(i + 1));
            }
            if token.chars().count() < MIN_TOKEN_LEN {
                return Err(TokenError::TooShort(i + 1));
            }
            let name = name.map_or_else(|| format!("token-{}", i + 1), str::to_owned);
            entries.push(Entry { name, digest: digest(key, token.as_bytes()) });
        }
        if entries.is_empty() {
            return Err(TokenError::None);
        }
        Ok(Self { entries })
    }

    /// Adds the entries of `other` (its digests have the same key).
    pub fn extend(&mut self, other: Tokens) {
        self.entries.extend(other.entries);
    }

    /// The name of the token an `Authorization` header presents, if valid.
    /// Every configured token is compared, so timing tells nothing.
    pub fn check(&self, authorization: Option<&[u8]>) -> Option<&str> {
        let token = bearer(authorization?)?;
        let digest = digest(process_key()?, token);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(e.name.as_str());
            }
        }
        found
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn split_name(item: &str) -> Option<(Option<&str>, &str)> {
    let (name, token) = item.split_once(':')?;
    let named = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    named.then_some((Some(name), token.trim()))
}

/// The credentials of `Bearer <token>` (scheme case-insensitive).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let scheme = header.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header.get(7..)?.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "alpha-token-0123456789";
    const B: &str = "bravo-token-0123456789";

    #[test]
    fn accepts_each_rotated_token_and_names_it() {
        let named = format!("okta:{B}");
        let tokens = Tokens::parse([A, named.as_str()]).unwrap();
        assert_eq!(tokens.check(Some(format!("Bearer {A}").as_bytes())), Some("token-1"));
        assert_eq!(tokens.check(Some(format!("bearer  {B} ").as_bytes())), Some("okta"));
    }

    #[test]
    fn refuses_wrong_missing_and_non_bearer_credentials() {
        let tokens = Tokens::parse([A]).unwrap();
        assert_eq!(tokens.check(None), None);
        assert_eq!(tokens.check(Some(b"Bearer wrong-token-0123456789")), None);
        assert_eq!(tokens.check(Some(format!("Basic {A}").as_bytes())), None);
        assert_eq!(tokens.check(Some(A.as_bytes())), None);
        assert_eq!(tokens.check(Some(b"Bearer ")), None);
        assert_eq!(tokens.check(Some(format!("Bearer {}", &A[..10]).as_bytes())), None);
    }

    #[test]
    fn refuses_short_and_empty_lists_and_skips_comments() {
        assert_eq!(Tokens::parse(["short"]).unwrap_err(), TokenError::TooShort(1));
        assert_eq!(Tokens::parse(["# only a comment", ""]).unwrap_err(), TokenError::None);
        assert_eq!(Tokens::parse(["name:"]).unwrap_err(), TokenError::Empty(1));
        assert_eq!(Tokens::parse(["# c", A]).unwrap().len(), 1);
    }

    #[test]
    fn lists_read_apart_and_joined_accept_each_others_tokens() {
        let mut tokens = Tokens::parse([A]).unwrap();
        tokens.extend(Tokens::parse([format!("file:{B}").as_str()]).unwrap());
        assert_eq!(tokens.check(Some(format!("Bearer {A}").as_bytes())), Some("token-1"));
        assert_eq!(tokens.check(Some(format!("Bearer {B}").as_bytes())), Some("file"));
        assert_eq!(tokens.len(), 2);
    }

    #[test]
    fn a_digest_is_keyed_and_tells_tokens_apart() {
        let key = process_key().unwrap();
        assert_eq!(digest(key, A.as_bytes()), digest(key, A.as_bytes()));
        assert_ne!(digest(key, A.as_bytes()), digest(key, B.as_bytes()));
        assert_ne!(digest(key, A.as_bytes()), digest(&[0; 16], A.as_bytes()), "the key counts");
        assert_ne!(key, &[0; 16], "a key was drawn");
    }

    #[test]
    fn debug_shows_names_never_tokens() {
        let tokens = Tokens::parse([format!("entra:{A}").as_str()]).unwrap();
        let shown = format!("{tokens:?}");
        assert!(shown.contains("entra") && !shown.contains(A), "{shown}");
    }
}
