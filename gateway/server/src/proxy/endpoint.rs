//! What a request is about, told from its path (after the base path).

use http::Method;
use std::borrow::Cow;

const GET_POST: &[Method] = &[Method::GET, Method::POST];
const ONE: &[Method] = &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE];
const POST: &[Method] = &[Method::POST];
const GET: &[Method] = &[Method::GET];
const ANY: &[Method] = &[Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// The SCIM endpoints the pipeline treats differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/Users`, `/Groups[/id]`.
    Resource {
        resource_type: &'static str,
        id: Option<String>,
    },
    /// `/.search` or `/Users/.search`.
    Search {
        resource_type: Option<&'static str>,
    },
    Bulk,
    Me,
    /// `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` and below.
    Discovery,
    /// Anything else under the base path; forwarded unmapped.
    Other,
}

impl Endpoint {
    /// Classifies a checked path such as `/Users/123`.
    pub fn classify(path: &str) -> Self {
        // The first two segments, and whether more follow: no list made.
        let mut segs = path.split('/').skip(1);
        let (first, second) = (segs.next(), segs.next());
        let two_at_most = segs.next().is_none();
        match (first, second) {
            (Some(".search"), None) => Self::Search { resource_type: None },
            (Some("Bulk"), None) => Self::Bulk,
            (Some("Me"), _) => Self::Me,
            (Some("ServiceProviderConfig" | "ResourceTypes" | "Schemas"), _) => Self::Discovery,
            (Some(e), Some(".search")) if two_at_most => {
                resource_type(e).map_or(Self::Other, |rt| Self::Search { resource_type: Some(rt) })
            }
            (Some(e), None) => {
                resource_type(e).map_or(Self::Other, |rt| Self::Resource { resource_type: rt, id: None })
            }
            (Some(e), Some(id)) if two_at_most => resource_type(e).map_or(Self::Other, |rt| Self::Resource {
                resource_type: rt,
                id: Some(match super::paths::decoded(id) {
                    Cow::Borrowed(_) => id.to_owned(),
                    Cow::Owned(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                }),
            }),
            _ => Self::Other,
        }
    }

    /// The methods the endpoint takes, as an `Allow` header lists them;
    /// any other is answered 405 and never forwarded.
    pub fn allow(&self) -> &'static str {
        match self {
            Self::Resource { id: None, .. } => "GET, POST",
            Self::Resource { id: Some(_), .. } => "GET, PUT, PATCH, DELETE",
            Self::Search { .. } | Self::Bulk => "POST",
            Self::Discovery => "GET",
            Self::Me | Self::Other => "GET, POST, PUT, PATCH, DELETE",
        }
    }

    /// Whether the endpoint takes `method` ([`Endpoint::allow`] lists it).
    pub fn allows(&self, method: &Method) -> bool {
        self.methods().contains(method)
    }

    /// The methods the endpoint takes, as [`Endpoint::allow`] lists them
    /// (a test holds the two together).
    fn methods(&self) -> &'static [Method] {
        match self {
            Self::Resource { id: None, .. } => GET_POST,
            Self::Resource { id: Some(_), .. } => ONE,
            Self::Search { .. } | Self::Bulk => POST,
            Self::Discovery => GET,
            Self::Me | Self::Other => ANY,
        }
    }

    /// The resource type of an endpoint that is one resource: `/Users/{id}`,
    /// `/Groups/{id}`, and `/Me` (the authenticated user's own).
    pub fn one_resource(&self) -> Option<&'static str> {
        match self {
            Self::Resource { resource_type, id: Some(_) } => Some(resource_type),
            Self::Me => Some("User"),
            _ => None,
        }
    }

    /// A bounded label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Resource { resource_type, .. } => resource_type,
            Self::Search { .. } => "Search",
            Self::Bulk => "Bulk",
            Self::Me => "Me",
            Self::Discovery => "Discovery",
            Self::Other => "Other",
        }
    }
}

/// The resource type served at an endpoint segment.
pub fn resource_type(segment: &str) -> Option<&'static str> {
    match segment {
        "Users" => Some("User"),
        "Groups" => Some("Group"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_scim_endpoints() {
        assert_eq!(Endpoint::classify("/Users"), Endpoint::Resource { resource_type: "User", id: None });
        assert_eq!(
            Endpoint::classify("/Groups/a%20b"),
            Endpoint::Resource { resource_type: "Group", id: Some("a b".into()) }
        );
        assert_eq!(Endpoint::classify("/Users/.search"), Endpoint::Search { resource_type: Some("User") });
        assert_eq!(Endpoint::classify("/.search"), Endpoint::Search { resource_type: None });
        assert_eq!(Endpoint::classify("/Bulk"), Endpoint::Bulk);
        assert_eq!(Endpoint::classify("/Me"), Endpoint::Me);
        assert_eq!(Endpoint::classify("/Schemas/urn:x"), Endpoint::Discovery);
        assert_eq!(Endpoint::classify("/Users/1/extra"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/Users/.search/extra"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/.search/x"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/Bulk/x"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/Me/x/y"), Endpoint::Me);
        assert_eq!(Endpoint::classify("/Schemas"), Endpoint::Discovery);
        assert_eq!(Endpoint::classify("/Nonesuch"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/"), Endpoint::Other);
        assert_eq!(Endpoint::classify(""), Endpoint::Other);
    }

    #[test]
    fn an_endpoint_takes_exactly_the_methods_its_allow_header_lists() {
        let endpoints =
            ["/Users", "/Users/1", "/.search", "/Bulk", "/Me", "/Schemas", "/Nonesuch"].map(Endpoint::classify);
        let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "GE", "GETS", "get", " GET"];
        for endpoint in &endpoints {
            let listed: Vec<&str> = endpoint.allow().split(", ").collect();
            assert_eq!(listed, endpoint.methods().iter().map(Method::as_str).collect::<Vec<_>>(), "{endpoint:?}");
            for name in methods {
                let Ok(method) = Method::from_bytes(name.as_bytes()) else { continue };
                assert_eq!(endpoint.allows(&method), listed.contains(&name), "{endpoint:?} {name}");
            }
        }
        assert!(Endpoint::classify("/Users/1").allows(&Method::PATCH));
        assert!(!Endpoint::classify("/Users").allows(&Method::DELETE));
        assert!(!Endpoint::classify("/Bulk").allows(&Method::GET));
    }
}
