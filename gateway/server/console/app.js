// The scim-gateway admin console: plain JavaScript, no dependencies, no
// network access beyond the admin API of the listener that served it.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { token: sessionStorage.getItem("scim-gateway-admin") || "", next: null, newest: null, timer: null, samples: [] };

// ---- the admin API ----------------------------------------------------

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + state.token }, options.headers || {});
  const resp = await fetch("/admin/api/" + path, Object.assign({}, options, { headers }));
  if (resp.status === 401 || resp.status === 403) {
    const body = await resp.json().catch(() => ({}));
    signOut(body.error || "The admin token was refused.");
    throw new Error("unauthorized");
  }
  return resp;
}

async function apiJson(path, options) {
  const resp = await api(path, options);
  const body = await resp.json().catch(() => ({ error: "the answer is not JSON" }));
  if (!resp.ok) {
    const err = new Error(body.error || resp.statusText);
    err.body = body;
    throw err;
  }
  return body;
}

// ---- signing in -------------------------------------------------------

function signOut(message) {
  state.token = "";
  sessionStorage.removeItem("scim-gateway-admin");
  stopLive();
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.textContent = message || "";
  err.hidden = !message;
  $("#token").focus();
}

async function signIn(token) {
  state.token = token;
  try {
    await apiJson("routes");
  } catch (e) {
    if (e.message !== "unauthorized") signOut("The admin API did not answer: " + e.message);
    return;
  }
  sessionStorage.setItem("scim-gateway-admin", token);
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#logout").hidden = false;
  show(location.hash.slice(1) || "log");
}

// ---- navigation -------------------------------------------------------

function show(view) {
  if (!["log", "playground", "routes"].includes(view)) view = "log";
  for (const b of document.querySelectorAll("#nav button")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + view;
  history.replaceState(null, "", "#" + view);
  stopLive();
  if (view === "log") loadLog();
  if (view === "playground") loadPlayground();
  if (view === "routes") loadRoutes();
}

// ---- the provisioning log ---------------------------------------------

function filterQuery() {
  const params = new URLSearchParams();
  for (const el of $("#filters").elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") { if (el.checked) params.set(el.name, "true"); }
    else if (el.value.trim()) params.set(el.name, el.value.trim());
  }
  return params;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null || text === "" ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function row(r) {
  const tr = document.createElement("tr");
  tr.tabIndex = 0;
  tr.dataset.id = r.id;
  tr.append(
    cell(r.time.replace("T", " ").replace("Z", "")),
    cell(r.route + (r.mode === "shadow" ? " (shadow)" : "")),
    cell(r.method + (r.bulk ? " (bulk #" + r.bulk.index + ")" : "")),
    cell(r.resource_type),
    cell(r.subject || r.resource_id),
    cell(r.status, r.status >= 400 ? "bad" : "good"),
    cell(r.fault),
    cell(r.changes.length + (r.deprovisioning ? " · deprovisioning" : "")),
  );
  if (r.deprovisioning) tr.classList.add("deprov");
  const open = () => showDetail(r.id);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
  return tr;
}

async function loadLog(append) {
  const params = filterQuery();
  if (append && state.next) params.set("cursor", state.next);
  $("#log-status").textContent = "Loading…";
  let body;
  try {
    body = await apiJson("audit?" + params.toString());
  } catch (e) {
    if (e.message !== "unauthorized") $("#log-status").textContent = "Could not read the trail: " + e.message;
    return;
  }
  const tbody = $("#log-table tbody");
  if (!append) tbody.replaceChildren();
  for (const r of body.records) tbody.append(row(r));
  if (!append) state.newest = body.records.length ? body.records[0].id : null;
  state.next = body.next;
  $("#more").hidden = !body.next;
  const count = tbody.children.length;
  const filtered = [...params.keys()].some((k) => k !== "cursor");
  const empty = $("#log-empty");
  empty.hidden = count > 0;
  empty.textContent = filtered ? "No records match these filters." : "No provisioning writes recorded yet. Create a user through the gateway and it shows here.";
  $("#log-status").textContent = count + " record" + (count === 1 ? "" : "s") + " shown, newest first.";
  startLive();
}

async function refreshLive() {
  if (!state.newest) return loadLog();
  const params = filterQuery();
  params.set("after", state.newest);
  try {
    const body = await apiJson("audit?" + params.toString());
    const tbody = $("#log-table tbody");
    for (const r of body.records) tbody.prepend(row(r));
    if (body.records.length) {
      state.newest = body.records[body.records.length - 1].id;
      $("#log-empty").hidden = true;
    }
  } catch (e) { /* the next tick tries again */ }
}

function startLive() {
  stopLive();
  if ($("#live").checked && !$("#view-log").hidden) state.timer = setInterval(refreshLive, 3000);
}

function stopLive() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function dl(pairs) {
  const d = document.createElement("dl");
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v == null || v === "" ? "–" : String(v);
    d.append(dt, dd);
  }
  return d;
}

function changesTable(changes, id) {
  if (!changes.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "The gateway changed nothing on the way.";
    return p;
  }
  const t = document.createElement("table");
  if (id) t.id = id;
  t.innerHTML = "<thead><tr><th>Path</th><th>Change</th><th>Stage</th><th>Author</th><th>Value</th></tr></thead>";
  const tb = document.createElement("tbody");
  for (const c of changes) {
    const tr = document.createElement("tr");
    const value = c.after !== undefined ? JSON.stringify(c.after) : c.before !== undefined ? "was " + JSON.stringify(c.before) : "";
    const author = cell(c.author.replace(/^.*\//, ""));
    author.title = c.author;
    tr.append(cell(c.path, "path"), cell(c.kind), cell(c.stage), author, cell(value));
    tb.append(tr);
  }
  t.append(tb);
  return t;
}

function heading(text) {
  const h = document.createElement("h3");
  h.textContent = text;
  return h;
}

async function showDetail(id) {
  const box = $("#detail");
  box.hidden = false;
  box.textContent = "Loading…";
  let r;
  try {
    r = await apiJson("audit/" + encodeURIComponent(id));
  } catch (e) {
    box.textContent = "Could not read this record: " + e.message;
    return;
  }
  const title = document.createElement("h2");
  title.textContent = r.method + " " + r.resource_type + " · " + (r.subject || r.resource_id || "unknown") + " → " + r.status;
  title.tabIndex = -1;
  const c = r.calls;
  const outcome = dl([
    ["Time", r.time], ["Record id", r.id], ["Request id", r.request_id], ["Route", r.route + " (" + r.mode + ")"],
    ["Replica", r.replica], ["Token", r.token], ["IdP preset", r.preset], ["Resource id", r.resource_id],
    ["External id", r.external_id], ["Deprovisioning", r.deprovisioning ? "yes" : "no"],
    ["Answered", r.status], ["Backend answered", r.backend_statuses.join(", ")], ["Fault", r.fault],
    ["scimType", r.scim_type], ["Error", r.error],
    ...(r.mode === "shadow" ? [["Shadow: the mapping would have refused", r.shadow_error || "no"]] : []),
    ["Duration", r.duration_ms.toFixed(1) + " ms"], ["Mapping version", r.mapping_version],
    ["Upstream calls", "forward " + c.forward + ", current read " + c.current_read + ", lookup " + c.lookup + ", page " + c.page],
  ]);
  const asked = document.createElement("p");
  asked.className = "paths";
  asked.textContent = r.requested.length ? r.requested.join(", ") : "nothing (a delete, or values are not recorded)";
  const actions = document.createElement("div");
  actions.className = "actions";
  if (r.resource_id) {
    const same = document.createElement("button");
    same.type = "button";
    same.id = "same-resource";
    same.textContent = "Other records of this resource";
    same.addEventListener("click", () => {
      $("#filters").reset();
      $("#filter-resource_id").value = r.resource_id;
      loadLog();
    });
    actions.append(same);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "quiet";
  close.textContent = "Close";
  close.addEventListener("click", () => { box.hidden = true; });
  actions.append(close);
  const changed = r.mode === "shadow" ? "What the gateway would have changed (" : "What the gateway changed (";
  box.replaceChildren(title, actions, heading(changed + r.changes.length + ")"), changesTable(r.changes, "changes"),
    heading("What the IdP asked to change"), asked, heading("Outcome"), outcome);
  title.focus();
}

async function exportLines() {
  try {
    const resp = await api("audit/export?" + filterQuery().toString());
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "scim-gateway-audit.jsonl";
    a.click();
    URL.revokeObjectURL(a.href);
  } catch (e) {
    if (e.message !== "unauthorized") $("#log-status").textContent = "Export failed: " + e.message;
  }
}

// ---- the mapping playground -------------------------------------------

async function loadPlayground() {
  if ($("#pg-route").options.length) return;
  try {
    const [routes, samples] = await Promise.all([apiJson("routes"), apiJson("samples")]);
    for (const r of routes.routes) $("#pg-route").append(new Option(r.name + " (" + r.preset + ", " + r.mapping_version + ")", r.name));
    state.samples = samples.samples;
    samples.samples.forEach((s, i) => $("#pg-sample").append(new Option(s.name, String(i))));
  } catch (e) {
    $("#pg-output").textContent = "Could not load the routes: " + e.message;
  }
}

function pickSample() {
  const s = state.samples[Number($("#pg-sample").value)];
  if (!s) return;
  $("#pg-payload").value = JSON.stringify(s.payload, null, 2);
  $("#pg-resource").value = s.resource;
  $("#pg-operation").value = s.operation;
  $("#pg-preset").value = s.preset || "";
}

function parseField(id, label, optional) {
  const text = $(id).value.trim();
  if (!text && optional) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(label + " is not JSON: " + e.message);
  }
}

async function runPlayground(event) {
  if (event) event.preventDefault();
  const problems = $("#pg-problems");
  problems.hidden = true;
  problems.replaceChildren();
  let ask;
  try {
    ask = {
      route: $("#pg-route").value || undefined,
      resource: $("#pg-resource").value,
      operation: $("#pg-operation").value,
      preset: $("#pg-preset").value || undefined,
      payload: parseField("#pg-payload", "The payload"),
      current: parseField("#pg-current", "The current resource", true),
      mapping: $("#pg-mapping").value.trim() || undefined,
    };
  } catch (e) {
    return showProblems([{ message: e.message }]);
  }
  $("#pg-output").textContent = "Mapping…";
  try {
    const out = await apiJson("playground", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(ask) });
    $("#pg-output").textContent = out.output === null ? "No operations left: the gateway would answer without calling the backend." : JSON.stringify(out.output, null, 2);
    $("#pg-changes").replaceChildren(changesTable(out.changes, "pg-changes-table"));
    $("#pg-trace").replaceChildren(traceList(out.report));
    $("#pg-messages").replaceChildren(messageList(out.messages || []));
  } catch (e) {
    if (e.message === "unauthorized") return;
    $("#pg-output").textContent = "Not mapped.";
    $("#pg-changes").replaceChildren();
    $("#pg-trace").replaceChildren();
    $("#pg-messages").replaceChildren();
    showProblems(e.body && e.body.diagnostics ? e.body.diagnostics : [{ message: e.message }]);
  }
}

function showProblems(list) {
  const ul = $("#pg-problems");
  ul.replaceChildren();
  for (const d of list) {
    const li = document.createElement("li");
    const where = d.line ? "line " + d.line + ", col " + d.col + " (" + d.line + ":" + d.col + "): " : "";
    li.textContent = where + d.message + (d.hint ? " — " + d.hint : "");
    ul.append(li);
  }
  ul.hidden = false;
}

// What the route's plugins logged while mapping, in order (a refusal's
// messages come with its error, in the problems list).
function messageList(messages) {
  if (!messages.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No plugin logged anything.";
    return p;
  }
  const ol = document.createElement("ol");
  ol.className = "trace";
  for (const m of messages) {
    const li = document.createElement("li");
    if (m.level === "warn" || m.level === "error" || m.level === "dropped") li.className = "bad";
    li.textContent = m.plugin + " [" + m.level + "]: " + m.text;
    ol.append(li);
  }
  return ol;
}

function traceList(report) {
  const ol = document.createElement("ol");
  ol.className = "trace";
  for (const t of report.traces) {
    const li = document.createElement("li");
    li.textContent = t.rule + " (" + t.at.replace(/^.*\//, "") + "): " + t.outcome.replace(/_/g, " ") + (t.output !== undefined && t.output !== null ? " → " + JSON.stringify(t.output) : "");
    ol.append(li);
  }
  for (const f of report.failures) {
    const li = document.createElement("li");
    li.className = "bad";
    li.textContent = "failed: " + f.rule + " (" + f.target + "): " + f.message;
    ol.append(li);
  }
  if (!ol.children.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "This route has no rules for this resource: the payload passes as normalized.";
    return p;
  }
  return ol;
}

// ---- routes and health ------------------------------------------------

async function loadRoutes() {
  let body;
  try {
    body = await apiJson("routes");
  } catch (e) {
    if (e.message !== "unauthorized") $("#routes-status").textContent = "Could not read the routes: " + e.message;
    return;
  }
  const tbody = $("#routes-table tbody");
  tbody.replaceChildren();
  for (const r of body.routes) {
    const tr = document.createElement("tr");
    const plugins = r.plugins.length ? r.plugins.map((p) => p.name + " (" + p.breaker + ")").join(", ") : "none";
    const up = r.upstream_up === null ? "not called yet" : r.upstream_up ? "up" : "DOWN";
    tr.append(cell(r.name + " " + r.base_path), cell(r.mode), cell(r.upstream), cell(up, r.upstream_up === 0 ? "bad" : ""),
      cell(r.profile), cell(r.preset), cell(r.mapping_version), cell(plugins), cell(r.rate_limit_queue ?? 0));
    tbody.append(tr);
  }
  const cards = [];
  const reload = body.last_reload;
  cards.push(["Last reload", reload ? reload.outcome + " at " + reload.time + (reload.error ? ": " + reload.error : "") : "none since start"]);
  cards.push(["Audit trail", body.audit ? body.audit.store + ", queue " + body.audit.queue + ", written " + body.audit.written + ", replica " + body.audit.replica : "off (no [audit] section)"]);
  cards.push(["Cluster state (Redis)", body.cluster ? (body.cluster.up ? "up" : "DOWN: writes follow on_cluster_error") + ", replica " + body.cluster.replica : "off (one replica, no [cluster] section)"]);
  cards.push(["Version", body.version]);
  $("#health").replaceChildren(...cards.map(([k, v]) => { const d = dl([[k, v]]); d.className = "card"; return d; }));
  $("#routes-status").textContent = body.routes.length + " route" + (body.routes.length === 1 ? "" : "s") + ".";
}

// ---- wiring -----------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value.trim()); });
  $("#logout").addEventListener("click", () => signOut(""));
  for (const b of document.querySelectorAll("#nav button")) b.addEventListener("click", () => show(b.dataset.view));
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); $("#detail").hidden = true; loadLog(); });
  $("#filters").addEventListener("reset", () => setTimeout(() => loadLog(), 0));
  $("#live").addEventListener("change", startLive);
  $("#more").addEventListener("click", () => loadLog(true));
  $("#export").addEventListener("click", exportLines);
  $("#pg-form").addEventListener("submit", runPlayground);
  $("#pg-sample").addEventListener("change", pickSample);
  $("#view-playground").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runPlayground(e); });
  if (state.token) signIn(state.token);
  else signOut("");
});
