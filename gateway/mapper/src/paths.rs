//! Comparing paths the way SCIM does: attribute names ignore case, and a
//! path qualified with the core schema URN is the same as the bare name.

use scim_core::path::{AttrPath, Path};

/// A case-folded, core-URN-free text key for a path, filter included.
pub(crate) fn path_key(path: &Path, core_urn: &str) -> String {
    let mut p = path.clone();
    if p.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(core_urn)) {
        p.urn = None;
    }
    p.to_string().to_lowercase()
}

/// The attribute a path touches, without filter: `(top, sub)`, case-folded
/// and without the core URN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AttrKey {
    pub(crate) top: String,
    pub(crate) sub: Option<String>,
}

impl AttrKey {
    pub(crate) fn of(path: &AttrPath, core_urn: &str) -> Self {
        let urn = path.urn.as_deref().filter(|u| !u.eq_ignore_ascii_case(core_urn));
        let top = match urn {
            Some(u) => format!("{u}:{}", path.name).to_lowercase(),
            None => path.name.to_lowercase(),
        };
        Self { top, sub: path.sub.as_deref().map(str::to_lowercase) }
    }

    pub(crate) fn of_path(path: &Path, core_urn: &str) -> Self {
        Self::of(&path.attr_path(), core_urn)
    }

    /// A key for a whole top-level attribute.
    pub(crate) fn top(top: &str) -> Self {
        Self { top: top.to_lowercase(), sub: None }
    }

    /// Whether one key contains the other (same attribute, and one of them
    /// names the whole attribute or both name the same sub-attribute).
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.top == other.top && (self.sub.is_none() || other.sub.is_none() || self.sub == other.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    #[test]
    fn keys_ignore_case_and_the_core_urn() {
        let a = Path::parse("urn:ietf:params:scim:schemas:core:2.0:User:UserName").unwrap();
        let b = Path::parse("userName").unwrap();
        assert_eq!(path_key(&a, CORE), path_key(&b, CORE));
        let f = Path::parse("emails[type eq \"work\"].value").unwrap();
        assert_ne!(path_key(&f, CORE), path_key(&Path::parse("emails.value").unwrap(), CORE));
    }

    #[test]
    fn overlap_and_containment() {
        let key = |s: &str| AttrKey::of_path(&Path::parse(s).unwrap(), CORE);
        assert!(key("name").overlaps(&key("name.givenName")));
        assert!(key("name.givenName").overlaps(&key("NAME")));
        assert!(!key("name.givenName").overlaps(&key("name.familyName")));
        assert!(key("emails[type eq \"work\"].value").overlaps(&key("emails.value")));
        let ext = key("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
        assert_eq!(ext.top, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department");
    }
}
