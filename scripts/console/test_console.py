"""The admin console in a real headless Chromium (Debian's chromium and
chromium-driver, driven with Selenium).

Starts scim2-server and the gateway binary (audit on SQLite, an admin
token), creates a user through the gateway, then checks in the browser:
without the token nothing but the login prompt; after signing in the log
shows the create; a filter narrows it; the detail view lists the changed
paths; the playground maps Okta's sample (userName from the primary email),
shows what the JavaScript full-name plugin logged, and shows an invalid
mapping's line:col; the routes page lists the route;
the browser logs no errors. A screenshot of each page is kept in
target/console-screenshots/ (the test artifacts).

Usage: test_console.py GATEWAY_BINARY
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
from gateway_process import free_port, wait_ready  # noqa: E402

IDP_TOKEN = "console-idp-token-0123456789"
ADMIN_TOKEN = "console-admin-token-0123456789"
UPSTREAM_TOKEN = "console-upstream-token-0123456789"
SHOTS = ROOT / "target" / "console-screenshots"


def plugin_dir(binary):
    """Where `cargo xtask plugin` put the components: `$SCIM_PLUGIN_DIR`
    when set (scripts/test sets it), else the nearest ancestor of `binary`
    that cargo tagged (`CACHEDIR.TAG`) and that holds `plugins/`, the rule
    of gateway/testing/plugin_dir.rs for the Rust tests."""
    if os.environ.get("SCIM_PLUGIN_DIR"):
        return Path(os.environ["SCIM_PLUGIN_DIR"])
    for a in Path(binary).resolve().parents:
        if (a / "CACHEDIR.TAG").is_file() and (a / "plugins").is_dir():
            return a / "plugins"
    raise RuntimeError(f"no plugins/ in the target directory of {binary}: run `cargo xtask plugin`")


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def scim(method, url, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/scim+json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read() or b"null")


def start(binary, tmp):
    up_port, gw_port, admin_port = free_port(), free_port(), free_port()
    scim2 = subprocess.Popen(
        [str(Path(sys.executable).parent / "scim2-server"), "--hostname", "127.0.0.1", "--port", str(up_port),
         "--bearer-token", UPSTREAM_TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(up_port)
    (tmp / "tokens").write_text(f"okta:{IDP_TOKEN}\n")
    (tmp / "admin-tokens").write_text(f"ops:{ADMIN_TOKEN}\n")
    # The JavaScript full-name plugin (built by `cargo xtask plugin` into
    # the target directory's plugins/), whose messages the playground shows.
    plugins = plugin_dir(binary)
    (tmp / "gateway.toml").write_text(f"""
[server]
listen = "127.0.0.1:{gw_port}"
base_path = "/scim/v2"
[server.auth]
tokens_file = "tokens"
[admin]
listen = "127.0.0.1:{admin_port}"
tokens_file = "admin-tokens"
[upstream]
url = "http://127.0.0.1:{up_port}/v2"
token_env = "CONSOLE_UPSTREAM_TOKEN"
[mapping]
files = ["{ROOT}/mappings/okta-to-notion.toml"]
preset = "okta"
[[mapping.plugins]]
name = "full-name-js"
path = "{plugins / 'full-name-js.wasm'}"
position = "before"
resources = ["User"]
[plugin_host]
cache_dir = "{plugins / '.test-cache'}"
[audit]
url = "sqlite://audit.db"
""")
    env = dict(os.environ, CONSOLE_UPSTREAM_TOKEN=UPSTREAM_TOKEN, RUST_LOG="warn")
    log = tmp / "gateway.log"
    with open(log, "wb") as out:
        gw = subprocess.Popen([binary, "serve", "--config", str(tmp / "gateway.toml")], env=env,
                              stdout=subprocess.DEVNULL, stderr=out)
    # A cold start compiles the plugin (seconds in a debug build).
    wait_ready(admin_port, gw, timeout=120, log=log)
    return scim2, gw, f"http://127.0.0.1:{gw_port}/scim/v2", f"http://127.0.0.1:{admin_port}"


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,1000", "--disable-dev-shm-usage"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(binary):
    with tempfile.TemporaryDirectory() as tmp:
        scim2, gw, scim_base, admin = start(binary, Path(tmp))
        driver = browser()
        wait = WebDriverWait(driver, 10)
        try:
            okta = json.loads((ROOT / "examples/payloads/okta-create-user.json").read_text())
            status, created = scim("POST", f"{scim_base}/Users", IDP_TOKEN, okta)
            check(status == 201, f"create: {status}")
            test_login_gate(driver, wait, admin)
            test_live_refresh(driver, scim_base)
            test_log(driver, wait, created)
            test_playground(driver, wait)
            test_routes(driver, wait)
            # Expected: the 401 of the wrong token tried on purpose and the
            # 422 of the invalid mapping; anything else is an error.
            expected = (" 401 ", " 422 ")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                      and not (e["source"] == "network" and any(s in e["message"] for s in expected))]
            check(not errors, f"the browser logged errors: {errors}")
        finally:
            driver.quit()
            for p in (gw, scim2):
                p.terminate()
                p.wait(timeout=10)
    print(f"console: every check passed; screenshots in {SHOTS}")


def test_login_gate(driver, wait, admin):
    driver.get(f"{admin}/admin/")
    wait.until(ec.visibility_of_element_located((By.ID, "token")))
    check(not driver.find_element(By.ID, "view-log").is_displayed(), "the log shows without a token")
    check(not driver.find_element(By.ID, "nav").is_displayed(), "the navigation shows without a token")
    shot(driver, "1-login")
    driver.find_element(By.ID, "token").send_keys("not-the-admin-token-0000")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "login-error")))
    check(not driver.find_element(By.ID, "view-log").is_displayed(), "a wrong token got past the prompt")
    token = driver.find_element(By.ID, "token")
    token.clear()
    token.send_keys(ADMIN_TOKEN + "\n")


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#log-table tbody tr")


def test_live_refresh(driver, scim_base):
    """A write made while the log is open shows up without a reload."""
    WebDriverWait(driver, 10).until(lambda d: len(rows(d)) >= 1)
    before = len(rows(driver))
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Live refresh"}
    status, _ = scim("POST", f"{scim_base}/Groups", IDP_TOKEN, group)
    check(status == 201, f"group create: {status}")
    WebDriverWait(driver, 10).until(lambda d: len(rows(d)) == before + 1)
    check("Live refresh" in rows(driver)[0].text, "the new record is not on top")


def test_log(driver, wait, created):
    wait.until(lambda d: len(rows(d)) >= 2)
    first = rows(driver)[1].text
    check("POST" in first and "Jane.Doe@Example.com" in first and "201" in first, f"the create is not in the log: {first}")
    shot(driver, "2-log")
    subject = driver.find_element(By.ID, "filter-subject")
    subject.send_keys("nobody")
    driver.find_element(By.ID, "apply").click()
    wait.until(lambda d: driver.find_element(By.ID, "log-empty").is_displayed())
    check("No records match" in driver.find_element(By.ID, "log-empty").text, "no empty state")
    subject.clear()
    Select(driver.find_element(By.ID, "filter-method")).select_by_visible_text("POST")
    driver.find_element(By.ID, "filter-resource_id").send_keys(created["id"])
    driver.find_element(By.ID, "apply").click()
    wait.until(lambda d: len(rows(d)) == 1 and not d.find_element(By.ID, "log-empty").is_displayed())
    row = rows(driver)[0]
    row.send_keys("\n")  # the keyboard opens a record
    wait.until(ec.visibility_of_element_located((By.ID, "changes")))
    changes = driver.find_element(By.ID, "changes").text
    for path in ["userName", "password", "name.formatted"]:
        check(path in changes, f"{path} is not in the change list: {changes}")
    check("okta-to-notion.toml:" in changes, "the rules' file:line is not shown")
    check(driver.find_element(By.ID, "same-resource").is_displayed(), "no link to the resource's other records")
    shot(driver, "3-detail")


def test_playground(driver, wait):
    driver.find_element(By.CSS_SELECTOR, "#nav button[data-view=playground]").click()
    wait.until(lambda d: len(Select(d.find_element(By.ID, "pg-sample")).options) > 1)
    Select(driver.find_element(By.ID, "pg-sample")).select_by_index(1)
    driver.find_element(By.ID, "pg-run").click()
    wait.until(lambda d: "jane.doe@example.com" in d.find_element(By.ID, "pg-output").text)
    output = json.loads(driver.find_element(By.ID, "pg-output").text)
    check(output["userName"] == "jane.doe@example.com", f"userName is not the primary email: {output}")
    check("userName" in driver.find_element(By.ID, "pg-changes").text, "the playground shows no changes")
    said = driver.find_element(By.ID, "pg-messages").text
    check("full-name-js [debug]: name.formatted from the format {given} {family}" in said,
          f"the plugin's messages are not shown: {said}")
    shot(driver, "4-playground")
    mapping = driver.find_element(By.ID, "pg-mapping")
    mapping.send_keys('version = 1\n[[User.request]]\ntarget = "userName"\nfrom = "emails[primary eq true.value"\n')
    driver.find_element(By.ID, "pg-run").click()
    wait.until(ec.visibility_of_element_located((By.ID, "pg-problems")))
    problems = driver.find_element(By.ID, "pg-problems").text
    check("line 4, col" in problems and "(4:" in problems, f"no line:col for the invalid mapping: {problems}")
    shot(driver, "5-playground-problem")


def test_routes(driver, wait):
    driver.find_element(By.CSS_SELECTOR, "#nav button[data-view=routes]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#routes-table tbody tr")) == 1)
    text = driver.find_element(By.ID, "routes-table").text
    check("default" in text and "enforce" in text and "okta" in text, f"the route is not listed: {text}")
    check("sqlite" in driver.find_element(By.ID, "health").text, "the audit store is not shown")
    shot(driver, "6-routes")


if __name__ == "__main__":
    run(sys.argv[1])
