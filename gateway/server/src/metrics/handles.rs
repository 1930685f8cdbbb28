//! One route's per-request metrics as handles: each label combination is
//! resolved (`with_label_values`) the first time it is counted and kept
//! in a cell found by its labels' positions, so that counting reads the
//! cell instead of hashing the labels and taking the vector's lock. A
//! combination appears in the exposition when it is first counted, as it
//! did before; a label outside the tables is counted the slow way. The
//! normalizations' counter has no route label: each route's table holds
//! handles to the same children.

use super::{CLASS_LABELS, METHOD_LABELS, Metrics, STATUS_LABELS, method_index, status_index};
use http::Method;
use prometheus::{Histogram, IntCounter, IntGauge};
use scim_core::Direction;
use scim_core::normalize::Normalization;
use std::sync::OnceLock;

/// The resources a request is counted under (`Endpoint::label`).
const RESOURCES: [&str; 7] = ["User", "Group", "Search", "Bulk", "Me", "Discovery", "Other"];

/// The most upstream call purposes (`Purpose`) the table holds.
const PURPOSES: usize = 8;

/// The most write translations (`pipeline::translate::Translation`) the
/// table holds.
const TRANSLATIONS: usize = 4;

/// The children of one metric, by position.
#[derive(Debug)]
struct Cells<M>(Box<[OnceLock<M>]>);

impl<M> Cells<M> {
    fn new(len: usize) -> Self {
        Self((0..len).map(|_| OnceLock::new()).collect())
    }

    /// Counts on the child at `at`, resolved by `make` the first time;
    /// without a cell there, on a child resolved now.
    fn count(&self, at: Option<usize>, make: impl FnOnce() -> M, count: impl FnOnce(&M)) {
        match at.and_then(|at| self.0.get(at)) {
            Some(cell) => count(cell.get_or_init(make)),
            None => count(&make()),
        }
    }
}

/// The metrics one route counts on every request and upstream call.
#[derive(Debug)]
pub struct RouteMetrics {
    route: String,
    /// By resource, method and status.
    requests: Cells<IntCounter>,
    /// By resource and method.
    request_duration: Cells<Histogram>,
    /// By purpose.
    upstream_requests: Cells<IntCounter>,
    /// By method.
    upstream_duration: Cells<Histogram>,
    upstream_up: Cells<IntGauge>,
    /// By class.
    upstream_responses: Cells<IntCounter>,
    /// By resource and direction.
    rules_applied: Cells<IntCounter>,
    /// By kind (gateway-wide: the same child in every route's table).
    normalizations: Cells<IntCounter>,
    /// By translation.
    translated_writes: Cells<IntCounter>,
    /// Attributes, then members.
    unmanaged_kept: Cells<IntCounter>,
}

/// What [`UNMANAGED_KEPT`] counts, by position.
const UNMANAGED_KEPT: [&str; 2] = ["attribute", "member"];

impl RouteMetrics {
    /// Empty tables for the route named `route`.
    pub fn new(route: &str) -> Self {
        let methods = METHOD_LABELS.len();
        Self {
            route: route.to_owned(),
            requests: Cells::new(RESOURCES.len() * methods * STATUS_LABELS.len()),
            request_duration: Cells::new(RESOURCES.len() * methods),
            upstream_requests: Cells::new(PURPOSES),
            upstream_duration: Cells::new(methods),
            upstream_up: Cells::new(1),
            upstream_responses: Cells::new(CLASS_LABELS.len()),
            rules_applied: Cells::new(RESOURCES.len() * 2),
            normalizations: Cells::new(Normalization::ALL.len()),
            translated_writes: Cells::new(TRANSLATIONS),
            unmanaged_kept: Cells::new(UNMANAGED_KEPT.len()),
        }
    }

    /// Counts a request answered with `status`, and its duration.
    pub fn request(&self, m: &Metrics, resource: &'static str, method: &Method, status: u16, seconds: f64) {
        let (method_at, status_at) = (method_index(method), status_index(status));
        let method = METHOD_LABELS.get(method_at).copied().unwrap_or("other");
        let status = STATUS_LABELS.get(status_at).copied().unwrap_or("5xx");
        let by_resource = RESOURCES.iter().position(|r| *r == resource).map(|r| r * METHOD_LABELS.len() + method_at);
        let labels = [self.route.as_str(), resource, method, status];
        let at = by_resource.map(|at| at * STATUS_LABELS.len() + status_at);
        self.requests.count(at, || m.requests.with_label_values(&labels), IntCounter::inc);
        let timed = || m.request_duration.with_label_values(&[self.route.as_str(), resource, method]);
        self.request_duration.count(by_resource, timed, |h| h.observe(seconds));
    }

    /// Counts an upstream call for `purpose` (its position and label).
    pub fn upstream_call(&self, m: &Metrics, purpose: (usize, &'static str)) {
        let make = || m.upstream_requests.with_label_values(&[self.route.as_str(), purpose.1]);
        self.upstream_requests.count(Some(purpose.0), make, IntCounter::inc);
    }

    /// Counts an upstream call's outcome: its duration by method, whether
    /// the upstream is up, and the answer's class (a position in
    /// [`CLASS_LABELS`]; `None` for no answer to count).
    pub fn upstream_done(&self, m: &Metrics, method: &Method, seconds: f64, up: bool, class: Option<usize>) {
        let method_at = method_index(method);
        let method = METHOD_LABELS.get(method_at).copied().unwrap_or("other");
        let timed = || m.upstream_duration.with_label_values(&[self.route.as_str(), method]);
        self.upstream_duration.count(Some(method_at), timed, |h| h.observe(seconds));
        let gauge = || m.upstream_up.with_label_values(&[self.route.as_str()]);
        self.upstream_up.count(Some(0), gauge, |g| g.set(i64::from(up)));
        let Some(class_at) = class else { return };
        let class = CLASS_LABELS.get(class_at).copied().unwrap_or("error");
        let answered = || m.upstream_responses.with_label_values(&[self.route.as_str(), class]);
        self.upstream_responses.count(Some(class_at), answered, IntCounter::inc);
    }

    /// Counts `n` mapping rules applied to resources of type `rt` in the
    /// direction `dir`.
    pub fn rules_applied(&self, m: &Metrics, rt: &str, dir: Direction, n: u64) {
        let at = RESOURCES.iter().position(|r| *r == rt).map(|r| r * 2 + usize::from(dir == Direction::Response));
        let make = || m.rules_applied.with_label_values(&[self.route.as_str(), rt, dir.as_str()]);
        self.rules_applied.count(at, make, |c| c.inc_by(n));
    }

    /// Counts a write translated by `translation` (its position and
    /// label), and what it kept that the IdP does not manage: `kept`
    /// attributes and `kept_members` members (both counted, if zero).
    pub fn translated(&self, m: &Metrics, translation: (usize, &'static str), kept: u64, kept_members: u64) {
        let make = || m.translated_writes.with_label_values(&[self.route.as_str(), translation.1]);
        self.translated_writes.count(Some(translation.0), make, IntCounter::inc);
        for (at, (kind, n)) in UNMANAGED_KEPT.into_iter().zip([kept, kept_members]).enumerate() {
            let make = || m.unmanaged_kept.with_label_values(&[self.route.as_str(), kind]);
            self.unmanaged_kept.count(Some(at), make, |c| c.inc_by(n));
        }
    }

    /// Counts one normalization of the kind `kind`.
    pub fn normalized(&self, m: &Metrics, kind: Normalization) {
        let make = || m.normalizations.with_label_values(&[kind.as_str()]);
        self.normalizations.count(Some(kind.index()), make, IntCounter::inc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::render;
    use prometheus::Registry;

    /// The exposition after counting the same things through the handles
    /// and through `with_label_values` must be the same text.
    #[test]
    fn counting_through_the_handles_exposes_what_the_labels_would() {
        let (by_handles, by_labels) = (Registry::new(), Registry::new());
        let (h, l) = (Metrics::register(&by_handles).unwrap(), Metrics::register(&by_labels).unwrap());
        let route = RouteMetrics::new("r1");
        let calls: [(&'static str, Method, u16); 8] = [
            ("User", Method::POST, 201),
            ("User", Method::POST, 201),
            ("User", Method::POST, 409),
            ("User", Method::PUT, 201),
            ("Group", Method::PATCH, 418),
            ("Other", Method::from_bytes(b"PROPFIND").unwrap(), 404),
            ("Nonesuch", Method::GET, 200),
            ("Search", Method::POST, 599),
        ];
        for (resource, method, status) in &calls {
            route.request(&h, resource, method, *status, 0.002);
            let (m, s) = (crate::metrics::method_label(method), crate::metrics::status_label(*status));
            l.requests.with_label_values(&["r1", resource, m, s]).inc();
            l.request_duration.with_label_values(&["r1", resource, m]).observe(0.002);
        }
        for (purpose, method, up, class) in [
            ((0, "forward"), Method::POST, true, Some(1)),
            ((1, "current_read"), Method::GET, false, None),
            ((0, "forward"), Method::PUT, true, Some(5)),
            ((9, "page"), Method::GET, true, Some(3)),
        ] {
            route.upstream_call(&h, purpose);
            route.upstream_done(&h, &method, 0.001, up, class);
            let m = crate::metrics::method_label(&method);
            l.upstream_requests.with_label_values(&["r1", purpose.1]).inc();
            l.upstream_duration.with_label_values(&["r1", m]).observe(0.001);
            l.upstream_up.with_label_values(&["r1"]).set(i64::from(up));
            if let Some(c) = class {
                l.upstream_responses.with_label_values(&["r1", CLASS_LABELS[c]]).inc();
            }
        }
        for (rt, dir, n) in
            [("User", Direction::Request, 3), ("User", Direction::Response, 0), ("Group", Direction::Request, 2)]
                .into_iter()
                .chain([("User", Direction::Request, 4), ("Device", Direction::Response, 1)])
        {
            route.rules_applied(&h, rt, dir, n);
            l.rules_applied.with_label_values(&["r1", rt, dir.as_str()]).inc_by(n);
        }
        for (translation, kept, members) in
            [((0, "put_to_patch"), 2, 0), ((2, "members_to_ops"), 0, 3), ((0, "put_to_patch"), 1, 1)]
        {
            route.translated(&h, translation, kept, members);
            l.translated_writes.with_label_values(&["r1", translation.1]).inc();
            l.unmanaged_kept.with_label_values(&["r1", "attribute"]).inc_by(kept);
            l.unmanaged_kept.with_label_values(&["r1", "member"]).inc_by(members);
        }
        for kind in [Normalization::NullValue, Normalization::OpNameCase, Normalization::NullValue] {
            route.normalized(&h, kind);
            l.normalizations.with_label_values(&[kind.as_str()]).inc();
        }
        let (a, b) = (String::from_utf8(render(&by_handles)).unwrap(), String::from_utf8(render(&by_labels)).unwrap());
        let rules = "scim_gateway_mapping_rules_applied_total{direction=\"request\",resource=\"User\",route=\"r1\"} 7";
        assert!(a.contains(rules), "{a}");
        assert!(a.contains("scim_gateway_normalizations_total{kind=\"null_value\"} 2"), "{a}");
        assert!(a.contains("resource=\"Device\""), "a resource type outside the table is still counted");
        assert!(
            a.contains("scim_gateway_requests_total{method=\"POST\",resource=\"User\",route=\"r1\",status=\"201\"} 2"),
            "{a}"
        );
        assert!(a.contains("resource=\"Nonesuch\""), "a resource outside the table is still counted");
        let kept = "scim_gateway_unmanaged_kept_total{kind=\"member\",route=\"r1\"} 4";
        assert!(a.contains(kept), "{a}");
        assert_eq!(a, b);
    }
}
