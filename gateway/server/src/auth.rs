//! Inbound bearer tokens: several valid at once (rotation), each optionally
//! named, compared in constant time. Tokens are never logged; only names are.
//!
//! A connection remembers the last `Authorization` header a token list
//! accepted on it ([`Remembered`]): the next request on that connection
//! that presents the same bytes to the same list is accepted by comparing
//! them, in constant time, instead of hashing the token again. A list is
//! told apart by an id given when it is made (a reload makes new lists), so
//! a token revoked by a reload is checked afresh and refused.

use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Shortest token accepted in the config: guessable tokens are refused.
pub const MIN_TOKEN_LEN: usize = 16;

/// One accepted token: its name and a digest (so comparisons take the same
/// time whatever the length of the presented token).
#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

/// The tokens of a route.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
    /// This list's id ([`new_list_id`]): the same entries as the list a
    /// connection remembers a header for, when the ids are equal.
    id: u64,
}

/// A token list's id, never given twice in a process (0 is an empty
/// list's, which accepts nothing).
fn new_list_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
}

impl Tokens {
    /// Parses entries, one per item: `token` or `name:token`, where a name is
    /// letters, digits, `-` and `_`. Unnamed tokens are called `token-N`.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, TokenError> {
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
            entries.push(Entry { name, digest: Sha256::digest(token.as_bytes()).into() });
        }
        if entries.is_empty() {
            return Err(TokenError::None);
        }
        Ok(Self { entries, id: new_list_id() })
    }

    /// Adds the entries of `other` (the list is then a new one).
    pub fn extend(&mut self, other: Tokens) {
        self.entries.extend(other.entries);
        self.id = new_list_id();
    }

    /// The name of the token an `Authorization` header presents, if valid.
    /// Every configured token is compared, so timing tells nothing.
    pub fn check(&self, authorization: Option<&[u8]>) -> Option<&str> {
        self.name(self.entry_of(authorization?)?)
    }

    /// [`Tokens::check`] on a connection that remembers the last header a
    /// list accepted on it: the same header to the same list is accepted
    /// again without hashing it, and a header this list accepts afresh is
    /// remembered in its place.
    pub fn check_on(&self, authorization: Option<&[u8]>, connection: &Remembered) -> Option<&str> {
        let header = authorization?;
        let entry = match connection.recall(self.id, header) {
            Some(entry) => entry,
            None => {
                let entry = self.entry_of(header)?;
                connection.keep(self.id, header, entry);
                entry
            }
        };
        self.name(entry)
    }

    /// Which entry accepts the token `header` presents: its digest is
    /// compared with every entry's.
    fn entry_of(&self, header: &[u8]) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(bearer(header)?).into();
        let mut found = None;
        for (at, e) in self.entries.iter().enumerate() {
            if bool::from(e.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(at);
            }
        }
        found
    }

    fn name(&self, entry: usize) -> Option<&str> {
        self.entries.get(entry).map(|e| e.name.as_str())
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

/// What a connection remembers of the last `Authorization` header a token
/// list accepted on it (see the module text). The header's copy is wiped
/// when it is replaced and when the connection ends.
#[derive(Default)]
pub struct Remembered(Mutex<Option<Accepted>>);

struct Accepted {
    list: u64,
    entry: usize,
    header: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Remembered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Remembered")
    }
}

impl Remembered {
    /// The entry of the list `list` that accepted `header`, when it is the
    /// header remembered for that list (the bytes compared in constant
    /// time). Another request of the connection holding the memory (HTTP/2)
    /// makes this one check afresh.
    fn recall(&self, list: u64, header: &[u8]) -> Option<usize> {
        let held = self.0.try_lock().ok()?;
        let accepted = held.as_ref().filter(|a| a.list == list)?;
        bool::from(accepted.header.as_slice().ct_eq(header)).then_some(accepted.entry)
    }

    /// Remembers that the list `list` accepted `header` by its entry `entry`.
    fn keep(&self, list: u64, header: &[u8], entry: usize) {
        if let Ok(mut held) = self.0.try_lock() {
            *held = Some(Accepted { list, entry, header: Zeroizing::new(header.to_vec()) });
        }
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

    fn bearer_of(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn a_connection_accepts_the_header_it_presented_before_and_checks_any_other_afresh() {
        let tokens = Tokens::parse([A, format!("okta:{B}").as_str()]).unwrap();
        let connection = Remembered::default();
        assert_eq!(tokens.check_on(Some(&bearer_of(A)), &connection), Some("token-1"));
        assert_eq!(connection.recall(tokens.id, &bearer_of(A)), Some(0), "remembered");
        assert_eq!(tokens.check_on(Some(&bearer_of(A)), &connection), Some("token-1"));
        assert_eq!(tokens.check_on(Some(b"Bearer wrong-token-0123456789"), &connection), None);
        assert_eq!(tokens.check_on(Some(&bearer_of(&A[..A.len() - 1])), &connection), None);
        assert_eq!(tokens.check_on(Some(&[bearer_of(A), b"x".to_vec()].concat()), &connection), None);
        assert_eq!(tokens.check_on(None, &connection), None);
        assert_eq!(connection.recall(tokens.id, &bearer_of(A)), Some(0), "a refused header forgets nothing");
        assert_eq!(tokens.check_on(Some(&bearer_of(B)), &connection), Some("okta"));
        assert_eq!(connection.recall(tokens.id, &bearer_of(A)), None, "one header at a time");
        assert_eq!(connection.recall(tokens.id, &bearer_of(B)), Some(1));
    }

    #[test]
    fn a_remembered_header_counts_only_for_the_list_that_accepted_it() {
        let first = Tokens::parse([A]).unwrap();
        let connection = Remembered::default();
        assert_eq!(first.check_on(Some(&bearer_of(A)), &connection), Some("token-1"));
        // A reload that revokes A: a new list, whose first entry is B.
        let reloaded = Tokens::parse([B]).unwrap();
        assert_eq!(reloaded.check_on(Some(&bearer_of(A)), &connection), None);
        assert_eq!(reloaded.check_on(Some(&bearer_of(B)), &connection), Some("token-1"));
        assert_eq!(first.check_on(Some(&bearer_of(B)), &connection), None);
        // The same entries parsed again are a new list too; a copy is the same one.
        assert_ne!(Tokens::parse([A]).unwrap().id, first.id);
        assert_eq!(first.clone().id, first.id);
        let mut grown = first.clone();
        grown.extend(Tokens::parse([B]).unwrap());
        assert_ne!(grown.id, first.id, "a list extended is a new one");
    }

    #[test]
    fn debug_shows_names_never_tokens() {
        let tokens = Tokens::parse([format!("entra:{A}").as_str()]).unwrap();
        let shown = format!("{tokens:?}");
        assert!(shown.contains("entra") && !shown.contains(A), "{shown}");
        let connection = Remembered::default();
        tokens.check_on(Some(&bearer_of(A)), &connection).unwrap();
        let shown = format!("{connection:?}");
        assert!(!shown.contains(A), "{shown}");
    }
}
