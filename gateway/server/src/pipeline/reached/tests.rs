use super::*;

fn request(host: Option<&str>, uri: &str) -> http::request::Parts {
    let mut req = http::Request::builder().uri(uri);
    if let Some(h) = host {
        req = req.header(HOST, HeaderValue::from_bytes(h.as_bytes()).unwrap());
    }
    req.body(()).unwrap().into_parts().0
}

fn conn() -> Conn {
    Conn::new(([10, 0, 0, 1], 4000).into(), false)
}

fn remembered(conn: &Conn) -> Option<HeaderValue> {
    conn.hosts.last.lock().unwrap().clone()
}

#[test]
fn the_public_host_is_the_first_one_named_when_it_is_an_authority() {
    let named = request(Some("idp.example.com"), "/scim/v2/Users");
    assert_eq!(public_host(None, &conn(), &named), "idp.example.com");
    assert_eq!(public_host(Some("proxy.example"), &conn(), &named), "proxy.example", "a trusted proxy's first");
    assert_eq!(public_host(Some("bad/host"), &conn(), &named), "localhost", "no falling back past a bad one");
    let bad = request(Some("bad/host"), "http://uri.example/scim/v2/Users");
    assert_eq!(public_host(None, &conn(), &bad), "localhost");
    let none = request(None, "http://uri.example:8080/scim/v2/Users");
    assert_eq!(public_host(None, &conn(), &none), "uri.example:8080", "the URI's authority");
    assert_eq!(public_host(None, &conn(), &request(None, "/scim/v2/Users")), "localhost");
}

#[test]
fn a_connection_remembers_the_last_host_that_was_an_authority_and_checks_any_other() {
    let conn = conn();
    let good = request(Some("idp.example.com:8443"), "/scim/v2/Users");
    assert_eq!(public_host(None, &conn, &good), "idp.example.com:8443");
    assert_eq!(remembered(&conn).unwrap(), "idp.example.com:8443");
    let (kept, sent) = (remembered(&conn).unwrap(), good.headers[HOST].clone());
    assert_ne!(kept.as_bytes().as_ptr(), sent.as_bytes().as_ptr(), "a copy: the request's buffer is not held");
    // A request's clone of the connection shares what it remembers.
    assert_eq!(public_host(None, &conn.clone(), &good), "idp.example.com:8443");
    for bad in ["evil.example/path", "a b", "x@", "[::1", "h?q"] {
        assert_eq!(public_host(None, &conn, &request(Some(bad), "/scim/v2/Users")), "localhost", "{bad}");
        assert_eq!(remembered(&conn).unwrap(), "idp.example.com:8443", "{bad} is not remembered");
    }
    assert_eq!(public_host(None, &conn, &request(Some("other.example"), "/")), "other.example");
    assert_eq!(remembered(&conn).unwrap(), "other.example", "a changed host is checked anew");
    assert_eq!(public_host(Some("fwd/bad"), &conn, &request(Some("other.example"), "/")), "localhost");
}
