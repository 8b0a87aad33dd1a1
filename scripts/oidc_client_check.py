"""Signs in to a running Lanyard as a product would, with Authlib as the OIDC client.

Authlib builds the authorization request (state, nonce, PKCE S256), redeems the code with
client_secret_basic, validates the ID token (signature from the published JWKS; iss, aud, exp,
iat, nonce, auth_time by Authlib's own OIDC rules), calls userinfo, refreshes and revokes. The
browser and the IdP in between are played here: the AuthnRequest is read from Lanyard's page, and
the Response is signed by the xmlsec1 command line tool with the test IdP's key.

Prints one line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import re
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # authlib.jose is kept until Authlib 2.0; its OIDC claim rules still live on it.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.oidc.core import CodeIDToken

IDP_ISSUER = "https://idp.interop.test/metadata"
REDIRECT = "http://127.0.0.1:9/callback"


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok {what}")


def instant(offset_s: int = 0) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset_s)
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_response(request_id: str, audience: str, acs: str, name_id: str, key: Path) -> str:
    aid = f"_a{uuid.uuid4().hex}"
    now, before, after = instant(), instant(-60), instant(300)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{aid}" Version="2.0" IssueInstant="{now}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{IDP_ISSUER}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{IDP_ISSUER}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{aid}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{acs}" InResponseTo="{request_id}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{instant(-5)}" SessionIndex="_s{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion></samlp:Response>"""
    with tempfile.TemporaryDirectory() as td:
        src, dst = Path(td) / "in.xml", Path(td) / "out.xml"
        src.write_text(xml)
        subprocess.run(
            ["xmlsec1", "--sign", "--privkey-pem", str(key),
             "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
             "--output", str(dst), str(src)],
            check=True, capture_output=True,
        )
        return base64.b64encode(dst.read_bytes()).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--operator-key", required=True)
    parser.add_argument("--keys", required=True, help="crates/saml/tests/fixtures/keys")
    args = parser.parse_args()
    base, keys = args.base.rstrip("/"), Path(args.keys)
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {args.operator_key}"

    def post(path: str, body: dict) -> dict:
        r = admin.post(f"{base}/api/v1{path}", json=body)
        check(r.status_code == 201, f"POST {path} -> {r.status_code}")
        return r.json()

    post("/orgs", {"short_name": "interop", "display_name": "Interop"})
    post("/orgs/interop/sso-connections", {
        "name": "IdP", "idp_entity_id": IDP_ISSUER, "sso_url": "https://idp.interop.test/sso",
        "certificates": [(keys / "idp1.cert.pem").read_text()],
    })
    app = post("/orgs/interop/oauth-clients", {"name": "Product", "redirect_uris": [REDIRECT]})
    scim = post("/orgs/interop/scim-tokens", {"name": "idp"})
    r = requests.post(f"{base}/scim/v2/Users", headers={"Authorization": f"Bearer {scim['token']}"},
                      json={"userName": "ada@interop.example", "emails": [{"value": "ada@interop.example"}]})
    check(r.status_code == 201, "SCIM user created")
    user_id = r.json()["id"]

    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    check(meta["issuer"] == base, "discovery issuer is the public URL")
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())

    client = OAuth2Session(
        app["client_id"], app["client_secret"], scope="openid email profile",
        redirect_uri=REDIRECT, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode()
    nonce = uuid.uuid4().hex
    uri, state = client.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier)

    # The browser: Lanyard's sign-in page asks for the e-mail (the pending sign-in sealed in a
    # cookie that ties it to this browser); the organization has SSO, so the next page carries
    # the AuthnRequest to the IdP.
    browser = requests.Session()
    page = browser.get(uri, allow_redirects=False)
    check(page.status_code == 200 and 'name="email"' in page.text, "the sign-in page asks for the e-mail")
    pending = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    login_cookie = page.headers["set-cookie"].split(";")[0]
    page = browser.post(f"{base}/auth/login", data={"request": pending, "email": "ada@interop.example",
                                                    "method": "sso"},
                        headers={"Cookie": login_cookie}, allow_redirects=False)
    check(page.status_code == 200, "continuing with single sign-on sends the browser to the IdP")
    saml_request = re.search(r'name="SAMLRequest" value="([^"]+)"', page.text).group(1)
    authn = base64.b64decode(saml_request).decode()
    request_id = re.search(r' ID="([^"]+)"', authn).group(1)
    audience = re.search(r"<saml:Issuer>([^<]+)<", authn).group(1)
    acs = re.search(r'AssertionConsumerServiceURL="([^"]+)"', authn).group(1)
    login_cookie = page.headers["set-cookie"].split(";")[0]

    # The IdP answers; the browser posts the Response (with its cookie, as a browser on
    # localhost keeps Secure cookies).
    response = signed_response(request_id, audience, acs, "ada@interop.example", keys / "idp1.key.pem")
    back = browser.post(acs, data={"SAMLResponse": response}, headers={"Cookie": login_cookie},
                        allow_redirects=False)
    check(back.status_code == 303, "the ACS accepts the signed Response")
    location = back.headers["location"]
    check(parse_qs(urlparse(location).query).get("state") == [state], "state comes back")

    token = client.fetch_token(meta["token_endpoint"], authorization_response=location,
                               code_verifier=verifier)
    check("id_token" in token and "refresh_token" in token, "code redeemed by Authlib")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = JsonWebToken(["RS256"]).decode(
            token["id_token"], jwks, claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
            claims_params={"nonce": nonce, "client_id": app["client_id"]},
        )
        claims.validate()
    check(claims["sub"] == user_id and claims["org"] == "interop",
          "ID token verified and validated by Authlib (iss, aud, exp, iat, nonce, auth_time)")

    info = client.get(meta["userinfo_endpoint"]).json()
    check(info.get("sub") == user_id and info.get("email") == "ada@interop.example", "userinfo")

    refreshed = client.refresh_token(meta["token_endpoint"])
    check(refreshed["refresh_token"] != token["refresh_token"], "refresh rotates the refresh token")
    r = client.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                            token_type_hint="refresh_token")
    check(r.status_code == 200, "revocation")
    r = requests.get(meta["userinfo_endpoint"],
                     headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    check(r.status_code == 401, "the grant's access token ends with its refresh token")


if __name__ == "__main__":
    main()
