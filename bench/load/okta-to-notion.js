// The okta-to-notion mapping (mappings/okta-to-notion.toml) written by
// hand in njs, for nginx: the alternative the gateway is measured against
// (bench/load/run.py, target `njs`). The request path only, as a
// hand-written rewrite would do it: emails trimmed and lower-cased,
// userName from the primary email (else the work one, else the first),
// name.formatted and displayName from the name parts (Okta's fullName
// first), password and groups dropped, a create without an email
// refused; then the body goes to the upstream through an internal
// location and the answer comes back as it is. bench/load/test_njs.py
// holds it to the gateway's mapping.

const OKTA = "urn:ietf:params:scim:schemas:extension:okta:2.0:User";

function tidy(v) {
    return typeof v === "string" ? v.trim().toLowerCase() : v;
}

function userName(emails) {
    const pick = emails.find((e) => e.primary === true) || emails.find((e) => e.type === "work") || emails[0];
    return pick ? pick.value : undefined;
}

function fullName(user) {
    const okta = user[OKTA];
    if (okta && typeof okta.fullName === "string") {
        return okta.fullName;
    }
    // As the template "{name.givenName} {name.familyName}" renders: a
    // part missing is left out with its space.
    const name = user.name || {};
    const given = typeof name.givenName === "string" ? name.givenName.trim() : "";
    const family = typeof name.familyName === "string" ? name.familyName.trim() : "";
    if (given !== "" && family !== "") {
        return `${given} ${family}`;
    }
    return given || family || undefined;
}

function mapUser(user) {
    const emails = Array.isArray(user.emails) ? user.emails.filter((e) => e && typeof e === "object") : [];
    emails.forEach((e) => {
        e.value = tidy(e.value);
    });
    // userName is required: with no email to take it from, the gateway
    // refuses the create (400), and so does this.
    const login = userName(emails);
    if (typeof login !== "string") {
        throw new Error("no email to take userName from");
    }
    user.userName = login;
    const formatted = fullName(user);
    if (formatted !== undefined) {
        user.name = Object.assign(user.name || {}, { formatted });
        user.displayName = formatted;
    }
    delete user.password;
    delete user.groups;
    // Read-only: the gateway's normalization drops it, so the backend
    // gets the same document from both.
    delete user.meta;
    return user;
}

function map(r) {
    let body;
    try {
        body = JSON.stringify(mapUser(JSON.parse(r.requestText)));
    } catch (e) {
        r.headersOut["Content-Type"] = "application/scim+json";
        r.return(400, JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "400", detail: `${e}` }));
        return;
    }
    const path = "/upstream" + r.uri.slice("/scim/v2".length);
    r.subrequest(path, { method: r.method, body }, (reply) => {
        r.headersOut["Content-Type"] = "application/scim+json";
        r.return(reply.status, reply.responseText);
    });
}

export default { map };
