"""Follows seed guides 001 and 002 against a real `lanyard serve`, with Authlib as Okta's OAuth
client and a real SMTP listener (aiosmtpd) on loopback for the invitation e-mail.

Seed 001: an integration client registered with the developer portal's fields; Okta's
"Authenticate with <product>" (authorization request, an admin signs in with a password,
consents); the code redeemed with client_secret_post; SCIM with the access token; a refresh;
a user whose role has neither `scim` nor an employees permission refused by SCIM.

Seed 002: a role with employees create + edit, a service account, its access key with Okta's
redirect URI, the invitation e-mailed through the SMTP listener, the link opened and a
password set, the code flow with the access key as the client, then SCIM create, update and
deactivate with the token; the same flow signing in as another user refused.

Prints one line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import email
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from aiosmtpd.controller import Controller
from authlib.integrations.requests_client import OAuth2Session

OKTA = "https://system-admin.okta.com/admin/app/cpc/acme-scim/oauth/callback"
PASSWORD = "correct horse battery staple"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok {what}")


class Inbox:
    """aiosmtpd handler keeping every message delivered."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lanyard(binary: str, database_url: str, smtp_port: int, work: Path) -> tuple[subprocess.Popen, str, str]:
    base_args = [binary, "--data-dir", str(work), "--database-url", database_url]
    out = subprocess.run(base_args + ["--json", "operator-key", "create"], check=True,
                         capture_output=True, text=True)
    operator_key = json.loads(out.stdout)["key"]
    log = open(work / "server.log", "w")
    server = subprocess.Popen(
        base_args + ["--log-format", "json", "serve", "--listen", "127.0.0.1:0",
                     "--smtp-url", f"smtp://127.0.0.1:{smtp_port}",
                     "--smtp-from", "Lanyard <no-reply@lanyard.test>"],
        stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(300):
        for line in open(work / "server.log"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "listening":
                return server, f"http://{entry['address']}", operator_key
        if server.poll() is not None:
            break
        time.sleep(0.1)
    print(open(work / "server.log").read())
    sys.exit("the server did not start")


class Browser:
    """A browser on localhost: keeps Lanyard's cookies (Secure ones too, as browsers do for
    http://localhost) and follows no redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}

    def _keep(self, r: requests.Response) -> requests.Response:
        for header in r.raw.headers.getlist("Set-Cookie"):
            name, value = header.split(";")[0].split("=", 1)
            if "Max-Age=0" in header:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def _cookie(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str) -> requests.Response:
        return self._keep(self.http.get(url, headers=self._cookie(), allow_redirects=False))

    def post(self, path: str, data: dict) -> requests.Response:
        return self._keep(self.http.post(self.base + path, data=data, headers=self._cookie(),
                                         allow_redirects=False))

    def sign_in(self, authorize_url: str, login: str) -> requests.Response:
        """Lanyard's sign-in page: the e-mail, then the password; consents when asked."""
        page = self.get(authorize_url)
        if page.status_code == 303:
            return page
        check(page.status_code == 200 and 'name="email"' in page.text, "the sign-in page asks for the e-mail")
        request = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
        page = self.post("/auth/login", {"request": request, "email": login, "method": "password"})
        check('type="password"' in page.text, "then for the password")
        answer = self.post("/auth/login/password", {"request": request, "email": login, "password": PASSWORD})
        if answer.status_code == 200 and "wants to manage" in answer.text:
            check("Allow" in answer.text, "an integration asks for consent")
            answer = self.post("/auth/consent", {"request": request, "decision": "allow"})
        return answer


def api(base: str, key: str):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def call(method: str, path: str, body: dict | None = None, expect: int = 201) -> dict:
        r = session.request(method, f"{base}/api/v1{path}", json=body)
        check(r.status_code == expect, f"{method} {path} -> {r.status_code} {r.text[:200]}")
        return r.json() if r.text else {}

    return call


def seed_001(base: str, call) -> None:
    call("POST", "/orgs", {"short_name": "acme", "display_name": "Acme"})
    call("POST", "/orgs/acme/users", {"user_name": "admin@acme.test", "email": "admin@acme.test",
                                      "roles": ["Admin"], "password": PASSWORD})
    call("POST", "/orgs/acme/users", {"user_name": "agent@acme.test", "roles": ["Agent"],
                                      "password": PASSWORD})
    app = call("POST", "/orgs/acme/oauth-clients", {
        "name": "Okta provisioning", "description": "Provisioning from Okta",
        "contacts": ["it@acme.test"], "kind": "integration", "type": "confidential",
        "token_endpoint_auth_method": "client_secret_post", "scopes": ["openid"],
        "redirect_uris": [OKTA], "fedramp": False,
    })
    okta = OAuth2Session(app["client_id"], app["client_secret"], scope="openid",
                         redirect_uri=OKTA, token_endpoint_auth_method="client_secret_post")
    uri, state = okta.create_authorization_url(f"{base}/auth/authorize")
    browser = Browser(base)
    back = browser.sign_in(uri, "admin@acme.test")
    check(back.status_code == 303 and back.headers["location"].startswith(OKTA), "the code goes to Okta's callback")
    location = back.headers["location"]
    check(parse_qs(urlparse(location).query).get("state") == [state], "state comes back")
    token = okta.fetch_token(f"{base}/auth/token", authorization_response=location)
    check("access_token" in token and "refresh_token" in token, "Authlib redeems the code with client_secret_post")
    r = okta.get(f"{base}/scim/v2/Users?startIndex=1&count=2")
    check(r.status_code == 200 and r.json()["itemsPerPage"] <= 2, "GET /scim/v2/Users with the access token")
    refreshed = okta.refresh_token(f"{base}/auth/token")
    check(refreshed["refresh_token"] != token["refresh_token"], "the refresh token rotates")
    r = okta.get(f"{base}/scim/v2/Users?startIndex=1&count=2")
    check(r.status_code == 200, "the refreshed access token works")

    # An agent (no scim, no employees permission) gets tokens, and SCIM refuses them.
    other = OAuth2Session(app["client_id"], app["client_secret"], scope="openid",
                          redirect_uri=OKTA, token_endpoint_auth_method="client_secret_post")
    uri, _ = other.create_authorization_url(f"{base}/auth/authorize")
    back = Browser(base).sign_in(uri, "agent@acme.test")
    other.fetch_token(f"{base}/auth/token", authorization_response=back.headers["location"])
    r = other.get(f"{base}/scim/v2/Users")
    check(r.status_code == 403 and "employees.view" in r.json()["detail"],
          "SCIM refuses a user whose role has neither scim nor employees permissions (403)")


def seed_002(base: str, call, inbox: Inbox) -> None:
    call("POST", "/orgs", {"short_name": "globex", "display_name": "Globex"})
    call("POST", "/orgs/globex/roles", {"name": "SCIM Access Key",
                                        "permissions": ["employees.create", "employees.edit"]})
    account = call("POST", "/orgs/globex/service-accounts", {
        "user_name": "scim-key@globex.test", "email": "scim-key@globex.test",
        "display_name": "SCIM AccessKey", "roles": ["SCIM Access Key"]})
    key = call("POST", f"/orgs/globex/service-accounts/{account['id']}/access-keys",
               {"redirect_uris": [OKTA]})
    sent = call("POST", f"/orgs/globex/users/{account['id']}/invitation")
    check(sent["sent_to"] == "scim-key@globex.test" and sent["activation_url"] is None,
          "the invitation is e-mailed, not returned")
    for _ in range(50):
        if inbox.messages:
            break
        time.sleep(0.1)
    check(len(inbox.messages) == 1, "the SMTP listener received the invitation")
    message = inbox.messages[0]
    check(message["To"] == "scim-key@globex.test", "addressed to the service account")
    body = message.get_payload(decode=True).decode()
    link = re.search(r"(http://\S+/auth/activate\?token=\S+)", body).group(1)
    browser = Browser(base)
    page = browser.get(link)
    check(page.status_code == 200 and 'name="password"' in page.text, "the link opens the password form")
    token = parse_qs(urlparse(link).query)["token"][0]
    done = browser.post("/auth/activate", {"token": token, "password": PASSWORD, "confirm": PASSWORD})
    check(done.status_code == 200 and "active" in done.text, "the password is set and the account active")

    okta = OAuth2Session(key["access_key_id"], key["secret"], scope="openid",
                         redirect_uri=OKTA, token_endpoint_auth_method="client_secret_post")
    uri, _ = okta.create_authorization_url(f"{base}/auth/authorize")
    back = browser.sign_in(uri, "scim-key@globex.test")
    check(back.status_code == 303 and "code=" in back.headers["location"], "the service account signs in through its key")
    okta.fetch_token(f"{base}/auth/token", authorization_response=back.headers["location"])
    r = okta.post(f"{base}/scim/v2/Users", json={"schemas": [USER_SCHEMA], "userName": "kim@globex.test",
                                                 "name": {"givenName": "Kim"}, "active": True})
    check(r.status_code == 201, "SCIM create with the access key's token")
    user = r.json()
    r = okta.patch(f"{base}/scim/v2/Users/{user['id']}", json={"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "replace", "path": "name.givenName", "value": "Kimberly"}]})
    check(r.status_code == 200 and r.json()["name"]["givenName"] == "Kimberly", "SCIM update")
    r = okta.patch(f"{base}/scim/v2/Users/{user['id']}", json={"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    check(r.status_code == 200 and r.json()["active"] is False, "SCIM deactivate")

    # Someone else signing in through the key is refused back to Okta.
    call("POST", "/orgs/globex/users", {"user_name": "ada@globex.test", "roles": ["Admin"],
                                        "password": PASSWORD})
    uri, _ = okta.create_authorization_url(f"{base}/auth/authorize")
    refused = Browser(base).sign_in(uri, "ada@globex.test")
    location = refused.headers.get("location", "")
    error = parse_qs(urlparse(location).query).get("error")
    check(refused.status_code == 303 and error == ["access_denied"],
          "another user signing in through the access key is refused (access_denied)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as work:
        server, base, operator_key = start_lanyard(args.bin, args.database_url, port, Path(work))
        try:
            call = api(base, operator_key)
            seed_001(base, call)
            seed_002(base, call, inbox)
        finally:
            server.terminate()
            server.wait()
            controller.stop()


if __name__ == "__main__":
    main()
