//! Sign-in end to end against the running server: the product's OIDC request, the AuthnRequest
//! to the IdP, a Response signed by xmlsec1 (the reference XML-DSig implementation) with the
//! IdP's key, the code, the tokens (ID tokens checked with jsonwebtoken against the published
//! JWKS), sessions — and what deactivation by SCIM ends. Every attack named is a request that
//! must not get in.

#[path = "../common/mod.rs"]
mod common;
mod jit;
mod provider_page;
mod shared_acs;
mod sp_keys;
mod traces;

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{Server, TestDb};
use lanyard_store::both_backends;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

const IDP_ISSUER: &str = "https://idp.example.test/metadata";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn keys() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../saml/tests/fixtures/keys")
}

fn skip_without_xmlsec() -> bool {
    if std::env::var_os("LANYARD_SKIP_XMLSEC").is_some() {
        eprintln!("xmlsec1 is not installed: sign-in tests skipped");
        return true;
    }
    false
}

fn rfc3339(offset_s: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s);
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// What a Response says; the defaults are those of a good one.
struct Assertion<'a> {
    /// The request answered; none for a sign-in the IdP started.
    in_response_to: Option<&'a str>,
    /// An `OrganizationName` attribute, as IdP-initiated Responses may carry.
    organization_name: Option<&'a str>,
    /// Other attributes, with their values.
    attributes: Vec<(&'a str, Vec<&'a str>)>,
    name_id: &'a str,
    audience: String,
    /// When the IdP says the user authenticated.
    authn_instant: String,
    recipient: String,
    issuer: &'a str,
    /// `idp1` (the configured key) or `attacker` (same subject DN, other key).
    key: &'a str,
    id: String,
}

impl<'a> Assertion<'a> {
    fn new(server: &Server, pending: &'a Pending, name_id: &'a str) -> Self {
        Assertion {
            in_response_to: Some(&pending.id),
            organization_name: None,
            attributes: Vec::new(),
            name_id,
            audience: pending.audience.clone(),
            authn_instant: rfc3339(-30),
            recipient: server.url("/saml"),
            issuer: IDP_ISSUER,
            key: "idp1",
            id: format!("_a{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The Response, its assertion signed by xmlsec1, base64 for the POST binding.
    fn signed(&self) -> String {
        let (now, before, after) = (rfc3339(0), rfc3339(-60), rfc3339(300));
        let Assertion {
            in_response_to,
            name_id,
            audience,
            recipient,
            issuer,
            id,
            authn_instant,
            organization_name,
            attributes,
            ..
        } = self;
        let in_response_to = in_response_to
            .map(|id| format!(" InResponseTo=\"{id}\""))
            .unwrap_or_default();
        let mut all: Vec<(&str, Vec<&str>)> = attributes.clone();
        if let Some(name) = organization_name {
            all.push(("OrganizationName", vec![name]));
        }
        let attributes = if all.is_empty() {
            String::new()
        } else {
            let each: String = all
                .iter()
                .map(|(name, values)| {
                    let values: String = values
                        .iter()
                        .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                        .collect();
                    format!("<saml:Attribute Name=\"{name}\">{values}</saml:Attribute>")
                })
                .collect();
            format!("<saml:AttributeStatement>{each}</saml:AttributeStatement>")
        };
        let xml = format!(
            r##"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{id}" Version="2.0" IssueInstant="{now}" Destination="{recipient}"{in_response_to}><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{recipient}"{in_response_to}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{authn_instant}" SessionIndex="_s{id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{attributes}</saml:Assertion></samlp:Response>"##
        );
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.xml"), dir.path().join("out.xml"));
        std::fs::write(&src, xml).unwrap();
        let key = keys().join(format!("{}.key.pem", self.key));
        let out = Command::new("xmlsec1")
            .args(["--sign", "--privkey-pem"])
            .arg(key)
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--output",
            ])
            .arg(&dst)
            .arg(&src)
            .output()
            .expect("run xmlsec1");
        assert!(
            out.status.success(),
            "xmlsec1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        STANDARD.encode(std::fs::read(&dst).unwrap())
    }
}

/// A sign-in waiting for the IdP, as the AuthnRequest tells it.
struct Pending {
    id: String,
    audience: String,
    force_authn: bool,
}

/// A browser: no redirects followed, the session cookie carried by hand.
struct Browser<'s> {
    server: &'s Server,
    http: reqwest::Client,
    cookie: Option<String>,
    /// The cookies holding this browser's pending sign-ins, as `name=value`, oldest first.
    login_cookies: Vec<String>,
}

/// Where a 303 goes, and its query parameters.
struct Redirect {
    location: String,
    params: Vec<(String, String)>,
}

impl Redirect {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn redirect(response: &reqwest::Response) -> Redirect {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let url = reqwest::Url::parse(&location).unwrap();
    let params = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Redirect { location, params }
}

impl<'s> Browser<'s> {
    fn new(server: &'s Server) -> Self {
        Browser {
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            login_cookies: Vec::new(),
        }
    }

    /// The Cookie header this browser sends: its session and pending sign-ins (all `Path=/`).
    fn cookie_header(&self) -> String {
        let mut all = self.login_cookies.clone();
        if let Some(session) = &self.cookie {
            all.push(format!("lanyard_session={session}"));
        }
        all.join("; ")
    }

    /// Keeps what a response sets, as a browser does: a pending sign-in's cookie (`Max-Age=0`
    /// removes it) or the session.
    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if name == "lanyard_session" {
                assert!(
                    set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                    "{set}"
                );
                self.cookie = Some(value.to_string());
                continue;
            }
            assert!(
                ["lanyard_login0", "lanyard_login1", "lanyard_login2"].contains(&name),
                "{set}"
            );
            for attribute in ["Path=/;", "SameSite=None", "Secure", "HttpOnly"] {
                assert!(set.contains(attribute), "{set}");
            }
            self.login_cookies
                .retain(|c| !c.starts_with(&format!("{name}=")));
            if !set.contains("Max-Age=0") {
                self.login_cookies.push(format!("{name}={value}"));
            }
        }
    }

    async fn authorize(&mut self, params: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .get(self.server.url("/auth/authorize"))
            .query(params)
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Starts a sign-in — the authorization request, then "continue with single sign-on" on
    /// the sign-in page — and returns the AuthnRequest's ID and issuer (the audience the IdP is
    /// to name), read from the auto-posting page.
    async fn start(&mut self, params: &[(&str, &str)]) -> Pending {
        let page = self.authorize(params).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let request = html
            .split("name=\"request\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no sign-in page: {html}"))
            .to_string();
        let response = self
            .http
            .post(self.server.url("/auth/login"))
            .header(header::COOKIE, self.cookie_header())
            .form(&[
                ("request", request.as_str()),
                ("email", "someone@example.com"),
                ("method", "sso"),
            ])
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        assert_eq!(response.status(), StatusCode::OK);
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        let html = response.text().await.unwrap();
        // The page's one script is the one its content policy allows, by hash.
        let script = html
            .split("<script>")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
        assert!(
            policy.contains(&format!("script-src 'sha256-{}'", STANDARD.encode(hash))),
            "{policy}"
        );
        let value = html
            .split("name=\"SAMLRequest\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no SAMLRequest in {html}"));
        let xml = String::from_utf8(STANDARD.decode(value).unwrap()).unwrap();
        assert!(
            xml.contains(&format!(
                "AssertionConsumerServiceURL=\"{}\"",
                self.server.url("/saml")
            )),
            "{xml}"
        );
        let between = |open: &str, close: &str| {
            xml.split(open)
                .nth(1)
                .unwrap()
                .split(close)
                .next()
                .unwrap()
                .to_string()
        };
        Pending {
            id: between(" ID=\"", "\""),
            audience: between("<saml:Issuer>", "<"),
            force_authn: xml.contains("ForceAuthn=\"true\""),
        }
    }

    async fn post_response(&mut self, saml_response: &str) -> reqwest::Response {
        let response = self
            .http
            .post(self.server.url("/saml"))
            .header(header::COOKIE, self.cookie_header())
            .form(&[("SAMLResponse", saml_response), ("RelayState", "")])
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }
}

struct App {
    id: String,
    secret: Option<String>,
}

async fn token(server: &Server, app: &App, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(server.url("/auth/token"))
        .form(form);
    if let Some(secret) = &app.secret {
        req = req.basic_auth(&app.id, Some(secret));
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    if status.is_success() {
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
    (status, response.json().await.unwrap())
}

/// Exchanges a refresh token.
async fn refresh_grant(server: &Server, app: &App, refresh_token: &str) -> (StatusCode, Value) {
    token(
        server,
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A SCIM PATCH of one user with one operation, as an IdP sends it.
async fn patch_user(server: &Server, scim_auth: &str, id: &str, operation: Value) {
    scim(
        server,
        scim_auth,
        Method::PATCH,
        &format!("/Users/{id}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [operation]}),
    )
    .await;
}

async fn userinfo(server: &Server, access_token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(server.url("/auth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Verifies an ID token with jsonwebtoken against the server's JWKS.
async fn verify_id_token(server: &Server, id_token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(server.url("/auth/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[server.base.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("the ID token verifies")
        .claims
}

async fn scim(server: &Server, auth: &str, method: Method, path: &str, body: Value) -> Value {
    let (status, value) = server
        .call(method, &format!("/scim/v2{path}"), Some(auth), Some(body))
        .await;
    assert!(status.is_success(), "{status}: {value}");
    value
}

async fn setup(server: &Server, org: &str) -> (App, App, String) {
    server.create_org(org).await;
    let cert = std::fs::read_to_string(keys().join("idp1.cert.pem")).unwrap();
    let (s, connection) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/{org}/sso-connections"),
            Some(
                json!({"name": "Okta", "kind": "okta", "idp_entity_id": IDP_ISSUER,
                        "sso_url": "http://127.0.0.1:9/idp/sso", "certificates": [cert]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{connection}");
    assert_eq!(connection["acs_url"], json!(server.url("/saml")));
    let id = connection["id"].as_str().unwrap();
    assert_eq!(
        connection["sp_entity_id"],
        json!(server.url(&format!("/saml/{id}"))),
        "each connection has its own entity ID"
    );
    // Its SP metadata is at that address, for IdPs that import it.
    let metadata = reqwest::get(connection["sp_metadata_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(
        metadata.headers()[header::CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = metadata.text().await.unwrap();
    assert!(
        xml.contains(&format!(
            "entityID=\"{}\"",
            connection["sp_entity_id"].as_str().unwrap()
        )),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("Location=\"{}\"", server.url("/saml"))),
        "{xml}"
    );
    for unknown in ["/saml/0b7f3c1e-8d2a-4c55-9e61-3f2a7b9c0d14", "/saml/x%00y"] {
        let missing = reqwest::get(server.url(unknown)).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{unknown}");
    }
    let mut apps = Vec::new();
    for public in [false, true] {
        let (s, app) = server
            .op(
                Method::POST,
                &format!("/api/v1/orgs/{org}/oauth-clients"),
                Some(json!({"name": "Product", "redirect_uris": [REDIRECT], "type": if public { "public" } else { "confidential" }})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        assert_eq!(app["client_secret"].is_null(), public, "{app}");
        apps.push(App {
            id: app["client_id"].as_str().unwrap().to_string(),
            secret: app["client_secret"].as_str().map(str::to_string),
        });
    }
    let (s, token) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/{org}/scim-tokens"),
            Some(json!({"name": "idp"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{token}");
    let public = apps.pop().unwrap();
    let confidential = apps.pop().unwrap();
    (
        confidential,
        public,
        format!("Bearer {}", token["token"].as_str().unwrap()),
    )
}

fn auth_params<'a>(app: &'a App, nonce: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", app.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", nonce),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn redeem(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// A complete sign-in through the IdP; returns the code.
async fn sign_in(browser: &mut Browser<'_>, app: &App, name_id: &str) -> String {
    let pending = browser.start(&auth_params(app, "n-1")).await;
    let signed = Assertion::new(browser.server, &pending, name_id).signed();
    let back = redirect(&browser.post_response(&signed).await);
    assert!(back.location.starts_with(REDIRECT), "{}", back.location);
    assert_eq!(back.param("state"), Some("st-1"));
    back.param("code").expect("a code").to_string()
}

both_backends!(sign_in_through_saml_to_oidc_tokens, sign_in_flow);

async fn sign_in_flow(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, public_app, scim_auth) = setup(&server, "acme").await;
    let urn = "urn:acme:hr";
    let (s, body) = server
        .op(
            Method::PUT,
            &format!("/api/v1/orgs/acme/scim-extensions/{urn}"),
            Some(json!({"id": urn, "attributes": [{"name": "costCode", "claim": "cost_code"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let ada = scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", urn],
               "userName": "ada@acme.example", "name": {"givenName": "Ada", "familyName": "Lovelace"},
               "emails": [{"value": "Ada@Acme.Example", "primary": true}], "active": true,
               urn: {"costCode": "CC-7"}}),
    )
    .await;
    let ada_id = ada["id"].as_str().unwrap().to_string();

    let discovery: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], json!(server.base));
    assert_eq!(
        discovery["token_endpoint"],
        json!(server.url("/auth/token"))
    );
    assert!(discovery["id_token_signing_alg_values_supported"]
        .to_string()
        .contains("RS256"));

    // The first sign-in goes through the IdP.
    let mut browser = Browser::new(&server);
    let code = sign_in(&mut browser, &app, "ada@acme.example").await;
    assert!(browser.cookie.is_some(), "a session cookie is set");
    let (s, tokens) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], json!("Bearer"));
    let claims = verify_id_token(&server, tokens["id_token"].as_str().unwrap(), &app.id).await;
    assert_eq!(claims["sub"], json!(ada_id));
    assert_eq!(claims["nonce"], json!("n-1"));
    assert_eq!(claims["org"], json!("acme"));
    assert_eq!(claims["email"], json!("Ada@Acme.Example"));
    assert_eq!(claims["name"], json!("Ada Lovelace"));
    assert_eq!(claims["roles"], json!(["Agent"]));
    assert_eq!(
        claims["cost_code"],
        json!("CC-7"),
        "extension attribute mapped into the ID token"
    );
    // auth_time is when the IdP authenticated the user (the AuthnInstant, 30 s ago).
    let auth_time = claims["auth_time"].as_i64().unwrap();
    let now_s = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now_s - 40..=now_s - 20).contains(&auth_time),
        "{auth_time} vs {now_s}"
    );
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (s, info) = userinfo(&server, &access).await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["sub"], json!(ada_id));
    assert_eq!(info["cost_code"], json!("CC-7"));

    // The code works once; presented again it also ends what it gave (RFC 6749 §4.1.2).
    let (s, again) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(
        (s, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{again}"
    );
    assert_eq!(userinfo(&server, &access).await.0, StatusCode::UNAUTHORIZED);

    // The session answers the next authorization request without the IdP.
    let back = redirect(&browser.authorize(&auth_params(&app, "n-2")).await);
    let code = back
        .param("code")
        .expect("a code from the session")
        .to_string();
    let (s, tokens) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let claims = verify_id_token(&server, tokens["id_token"].as_str().unwrap(), &app.id).await;
    assert_eq!(claims["nonce"], json!("n-2"));

    // max_age: the session (authenticated 30 s ago) answers within a minute, not within 10 s.
    let mut params = auth_params(&app, "n-m");
    params.push(("max_age", "60"));
    assert!(redirect(&browser.authorize(&params).await)
        .param("code")
        .is_some());
    params.pop();
    params.push(("max_age", "10"));
    let pending = browser.start(&params).await;
    assert!(
        pending.force_authn,
        "a stale session asks the IdP to authenticate again"
    );
    // prompt=login: the IdP must authenticate anew; a Response reusing an hour-old
    // authentication (an IdP ignoring ForceAuthn) is refused.
    let mut params = auth_params(&app, "n-l");
    params.push(("prompt", "login"));
    let pending = browser.start(&params).await;
    assert!(pending.force_authn);
    let mut stale = Assertion::new(&server, &pending, "ada@acme.example");
    stale.authn_instant = rfc3339(-3600);
    let response = browser.post_response(&stale.signed()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("fresh sign-in"));
    let pending = browser.start(&params).await;
    let mut fresh = Assertion::new(&server, &pending, "ada@acme.example");
    fresh.authn_instant = rfc3339(0);
    let back = redirect(&browser.post_response(&fresh.signed()).await);
    assert!(back.param("code").is_some());

    // Refresh rotates; an exchanged refresh token used again ends the grant.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let (s, rotated) = refresh_grant(&server, &app, &refresh).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    verify_id_token(&server, rotated["id_token"].as_str().unwrap(), &app.id).await;
    let (s, reuse) = refresh_grant(&server, &app, &refresh).await;
    assert_eq!(
        (s, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo(&server, rotated["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // A public client with PKCE, and revocation of its refresh token.
    let back = redirect(&browser.authorize(&auth_params(&public_app, "n-3")).await);
    let code = back.param("code").unwrap().to_string();
    let mut form = redeem(&code);
    form.push(("client_id", &public_app.id));
    let (s, public_tokens) = token(&server, &public_app, &form).await;
    assert_eq!(s, StatusCode::OK, "{public_tokens}");
    let revoked = reqwest::Client::new()
        .post(server.url("/auth/revoke"))
        .form(&[
            ("token", public_tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &public_app.id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        userinfo(&server, public_tokens["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Live tokens and a live session, then Entra ID deactivates the user.
    let back = redirect(&browser.authorize(&auth_params(&app, "n-4")).await);
    let (s, live) = token(&server, &app, &redeem(back.param("code").unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    let back = redirect(&browser.authorize(&auth_params(&app, "n-5")).await);
    let pending_code = back.param("code").unwrap().to_string();
    patch_user(
        &server,
        &scim_auth,
        &ada_id,
        json!({"op": "Replace", "path": "active", "value": "False"}),
    )
    .await;
    assert_eq!(
        userinfo(&server, live["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, refused) = refresh_grant(&server, &app, live["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (s, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, refused) = token(&server, &app, &redeem(&pending_code)).await;
    assert_eq!(
        (s, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "a code issued before deactivation"
    );
    // The session is gone: authorization goes back to the IdP, which cannot sign them in.
    let pending = browser.start(&auth_params(&app, "n-6")).await;
    let signed = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let page = browser.post_response(&signed).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(
        !page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lanyard_session=")),
        "no session for a deactivated user"
    );
    assert!(page.text().await.unwrap().contains("deactivated"));
    let (_, preview) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/acme/users/{ada_id}/claims"),
            None,
        )
        .await;
    assert_eq!(preview["can_sign_in"], json!(false));

    // Okta reactivates: sign-in works again.
    patch_user(
        &server,
        &scim_auth,
        &ada_id,
        json!({"op": "replace", "value": {"active": true}}),
    )
    .await;
    // What deactivation ended stays ended: the old session, access and refresh tokens.
    let response = browser.authorize(&auth_params(&app, "n-7")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the old session cookie must not come back"
    );
    assert_eq!(
        userinfo(&server, live["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = refresh_grant(&server, &app, live["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "the old refresh token must not come back"
    );
    let (s, _) = token(&server, &app, &redeem(&pending_code)).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "the old code must not come back"
    );
    let code = sign_in(&mut browser, &app, "ada@acme.example").await;
    let (s, tokens) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(
        userinfo(&server, tokens["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );

    // An admin's deactivation through the admin API ends them too.
    let (s, body) = server
        .op(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{ada_id}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        userinfo(&server, tokens["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = refresh_grant(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = server
        .op(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{ada_id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        userinfo(&server, tokens["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "an admin's reactivation does not revive tokens"
    );
}

both_backends!(sign_in_attacks_do_not_get_in, sign_in_attacks);

async fn sign_in_attacks(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, public_app, scim_auth) = setup(&server, "acme").await;
    let (globex_app, _, globex_scim) = setup(&server, "globex").await;
    scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example", "active": true}),
    )
    .await;
    scim(
        &server,
        &globex_scim,
        Method::POST,
        "/Users",
        json!({"userName": "gus@globex.example", "active": true}),
    )
    .await;
    let mut browser = Browser::new(&server);

    // An entity ID is one connection's: the shared ACS URL, another connection's default, and
    // one already taken are refused.
    let cert = std::fs::read_to_string(keys().join("idp1.cert.pem")).unwrap();
    let (_, taken) = server
        .op(Method::GET, "/api/v1/orgs/globex/sso-connections", None)
        .await;
    for (sp, status) in [
        (server.base.clone(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            taken["items"][0]["sp_entity_id"]
                .as_str()
                .unwrap()
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "https://product.example/sp".to_string(),
            StatusCode::CREATED,
        ),
        (
            "https://product.example/sp".to_string(),
            StatusCode::CONFLICT,
        ),
    ] {
        let (s, body) = server
            .op(
                Method::POST,
                "/api/v1/orgs/acme/sso-connections",
                Some(json!({"name": "Second", "idp_entity_id": IDP_ISSUER, "sso_url": "https://idp.example/sso",
                            "certificates": [cert], "sp_entity_id": sp})),
            )
            .await;
        assert_eq!(s, status, "{sp}: {body}");
    }

    // Unknown client, unregistered redirect URI: an error page, never a redirect.
    for params in [
        vec![
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
        vec![
            ("client_id", app.id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
        vec![
            ("client_id", app.id.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/callback/../evil"),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    ] {
        let response = browser.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params:?}");
        assert!(response.headers().get(header::LOCATION).is_none());
        assert!(response.text().await.unwrap().contains("Reference"));
    }
    // Errors a verified redirect URI may hear.
    let long_scope = format!("openid {}", "x".repeat(600));
    for (params, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "email")], "invalid_scope"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("scope", long_scope.as_str())], "invalid_request"),
        (vec![("nonce", "n\u{0}1")], "invalid_request"),
    ] {
        let mut all = auth_params(&app, "n");
        for (k, v) in &params {
            all.retain(|(name, _)| name != k);
            all.push((k, v));
        }
        let back = redirect(&browser.authorize(&all).await);
        assert_eq!(back.param("error"), Some(error), "{params:?}");
        assert_eq!(back.param("state"), Some("st-1"));
    }
    let mut no_pkce = auth_params(&public_app, "n");
    no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
    let back = redirect(&browser.authorize(&no_pkce).await);
    assert_eq!(
        back.param("error"),
        Some("invalid_request"),
        "a public client must use PKCE"
    );

    // Responses that must not sign anyone in.
    let pending = browser.start(&auth_params(&app, "n")).await;
    // A refused Response ends the pending sign-in in the browser (its cookie is cleared); each
    // attempt below arrives as in a browser that still holds it.
    let holding = browser.login_cookies.clone();
    let mut forged = Assertion::new(&server, &pending, "ada@acme.example");
    forged.key = "attacker";
    let mut wrong_audience = Assertion::new(&server, &pending, "ada@acme.example");
    wrong_audience.audience = "https://other-sp.example/saml".into();
    // Acme's admin registered Globex's IdP (issuer and certificate are public metadata): a
    // Response that IdP makes for Globex names Globex's connection, and is no good for Acme.
    let globex_pending = Browser::new(&server)
        .start(&auth_params(&globex_app, "n"))
        .await;
    assert_ne!(globex_pending.audience, pending.audience);
    let mut other_tenant = Assertion::new(&server, &pending, "ada@acme.example");
    other_tenant.audience = globex_pending.audience.clone();
    let mut wrong_issuer = Assertion::new(&server, &pending, "ada@acme.example");
    wrong_issuer.issuer = "https://evil.example/idp";
    let mut wrong_recipient = Assertion::new(&server, &pending, "ada@acme.example");
    wrong_recipient.recipient = "https://other-sp.example/saml".into();
    let other_org_user = Assertion::new(&server, &pending, "gus@globex.example");
    let never_asked = Pending {
        id: "_never_asked".into(),
        audience: pending.audience.clone(),
        force_authn: false,
    };
    let unknown_request = Assertion::new(&server, &never_asked, "ada@acme.example");
    for (what, assertion, status) in [
        ("signed with another key", forged, StatusCode::BAD_REQUEST),
        ("for another SP", wrong_audience, StatusCode::BAD_REQUEST),
        (
            "for another organization's connection to the same IdP",
            other_tenant,
            StatusCode::BAD_REQUEST,
        ),
        ("from another issuer", wrong_issuer, StatusCode::BAD_REQUEST),
        (
            "to another recipient",
            wrong_recipient,
            StatusCode::BAD_REQUEST,
        ),
        (
            "naming another organization's user",
            other_org_user,
            StatusCode::FORBIDDEN,
        ),
        (
            "answering no request",
            unknown_request,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        browser.login_cookies = holding.clone();
        let response = browser.post_response(&assertion.signed()).await;
        assert_eq!(response.status(), status, "{what}");
        // (A Response naming another request leaves this one's cookie alone.)
        if what != "answering no request" {
            assert!(
                browser.login_cookies.is_empty(),
                "{what}: the pending sign-in is over"
            );
        }
        assert!(response.headers().get(header::LOCATION).is_none(), "{what}");
        assert!(browser.cookie.is_none(), "{what}");
    }
    for garbage in ["", "not base64!", &STANDARD.encode("<notsaml/>")] {
        let response = browser.post_response(garbage).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{garbage}");
    }
    // Past 512 KiB the form is not read (413); past the XML limit after decoding, neither.
    for (what, size) in [
        ("a 600 KB form", 600 * 1024),
        ("300 KiB of XML", 400 * 1024),
    ] {
        let response = browser.post_response(&"A".repeat(size)).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{what}");
        let page = response.text().await.unwrap();
        assert!(page.contains("512 KB"), "{what}: {page}");
    }
    // The pending sign-in is sealed: a changed cookie, or one moved to another request's
    // name, is no pending sign-in.
    let mut forger = Browser::new(&server);
    let first = forger.start(&auth_params(&app, "n")).await;
    let second = forger.start(&auth_params(&app, "n")).await;
    let (name0, value0) = forger.login_cookies[0].split_once('=').unwrap();
    let (name1, _) = forger.login_cookies[1].split_once('=').unwrap();
    let (name0, value0, name1) = (name0.to_string(), value0.to_string(), name1.to_string());
    let flipped = {
        let mut v = value0.clone().into_bytes();
        let last = v.len() - 5;
        v[last] = if v[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(v).unwrap()
    };
    for (cookies, pending, what) in [
        (format!("{name0}={flipped}"), &first, "a changed cookie"),
        (
            format!("{name1}={value0}"),
            &second,
            "another sign-in's cookie",
        ),
    ] {
        forger.login_cookies = vec![cookies];
        let signed = Assertion::new(&server, pending, "ada@acme.example").signed();
        let response = forger.post_response(&signed).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(forger.cookie.is_none(), "{what}");
    }

    // Login CSRF: a valid Response for a sign-in this browser did not start (the attacker's
    // own, pushed into the victim's browser) opens nothing.
    let mut victim = Browser::new(&server);
    let csrf = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let response = victim.post_response(&csrf).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a Response from another browser"
    );
    assert!(victim.cookie.is_none());
    // The failed attempts spent nothing on the server; a good Response completes it, once:
    // neither the same Response again, nor a new one for the same request, with a copy of the
    // pending sign-in's cookie, gets in.
    browser.login_cookies = holding.clone();
    let good = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let back = redirect(&browser.post_response(&good).await);
    let code = back.param("code").unwrap().to_string();
    let session = browser.cookie.clone();
    let again = Assertion::new(&server, &pending, "ada@acme.example").signed();
    for (what, response) in [("the same Response", &good), ("a new Response", &again)] {
        browser.login_cookies = holding.clone();
        let replay = browser.post_response(response).await;
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(replay.headers().get(header::LOCATION).is_none());
        assert_eq!(browser.cookie, session, "{what} opens no session");
    }

    // The code: wrong verifier, wrong redirect URI, another client, a wrong secret.
    let bad_verifier = "x".repeat(43);
    let mut form = redeem(&code);
    form[3] = ("code_verifier", &bad_verifier);
    let (s, body) = token(&server, &app, &form).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, body) = token(&server, &globex_app, &redeem(&code)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another org's client"
    );
    let wrong_secret = App {
        id: app.id.clone(),
        secret: Some("lycs_wrong".into()),
    };
    let (s, body) = token(&server, &wrong_secret, &redeem(&code)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let no_secret = App {
        id: app.id.clone(),
        secret: None,
    };
    let mut form = redeem(&code);
    form.push(("client_id", &app.id));
    let (s, body) = token(&server, &no_secret, &form).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a confidential client without its secret"
    );
    // A failed check spends nothing: the real client still redeems it (the code was not used).
    let (s, body) = token(&server, &app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();

    // Acme's session is no session at Globex's client: Globex's sign-in goes to its own IdP.
    let response = browser.authorize(&auth_params(&globex_app, "n")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a new sign-in, not a code for acme's user"
    );
    // Tokens do not cross: a bad bearer is 401, and an access token is no client secret.
    assert_eq!(
        userinfo(&server, "lya_forged").await.0,
        StatusCode::UNAUTHORIZED
    );
    let bare = reqwest::get(server.url("/auth/userinfo")).await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"lanyard\"",
        "no error code without credentials (RFC 6750 §3.1)"
    );
    let as_secret = App {
        id: app.id.clone(),
        secret: Some(access.clone()),
    };
    let (s, _) = refresh_grant(&server, &as_secret, "x").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Only the client a token was issued to can revoke it.
    let revoke = reqwest::Client::new()
        .post(server.url("/auth/revoke"))
        .basic_auth(&globex_app.id, globex_app.secret.as_deref())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(
        userinfo(&server, &access).await.0,
        StatusCode::OK,
        "another client's revocation is ignored"
    );
    // A NUL in a client id is an OAuth error, not a database error.
    let nul = App {
        id: "lyc-\u{0}".into(),
        secret: None,
    };
    let mut form = redeem(&code);
    form.push(("client_id", "lyc-\u{0}"));
    let (s, body) = token(&server, &nul, &form).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let response = browser
        .authorize(&[("client_id", "\u{0}"), ("redirect_uri", REDIRECT)])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Deleting the SSO connection ends the sessions it opened: the next request goes to the
    // IdP (the organization's remaining connection), with no code from the old session.
    assert!(redirect(&browser.authorize(&auth_params(&app, "n")).await)
        .param("code")
        .is_some());
    let (_, connections) = server
        .op(Method::GET, "/api/v1/orgs/acme/sso-connections", None)
        .await;
    let id = connections["items"][0]["id"].as_str().unwrap();
    let (s, _) = server
        .op(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/sso-connections/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let response = browser.authorize(&auth_params(&app, "n")).await;
    assert_eq!(response.status(), StatusCode::OK, "no session answers");
    assert!(
        response.text().await.unwrap().contains("/auth/login"),
        "the sign-in page"
    );
}

both_backends!(deactivation_wins_against_running_grants, deactivation_race);

/// Refreshes a grant in a loop until refused or told to stop; returns every access token it
/// was given and the last refresh token.
async fn refresh_loop(
    base: String,
    id: String,
    secret: String,
    mut refresh: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (Vec<String>, String) {
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let response = http
            .post(format!("{base}/auth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status != StatusCode::OK {
            assert_eq!(body["error"], json!("invalid_grant"), "{status}: {body}");
            break;
        }
        seen.push(body["access_token"].as_str().unwrap().to_string());
        refresh = body["refresh_token"].as_str().unwrap().to_string();
    }
    (seen, refresh)
}

/// Grants being refreshed in a loop while the IdP deactivates the user: the deactivation goes
/// through (no deadlock, no 500) and no token issued at any point survives it. A revocation
/// racing the refreshes of its grant ends the pair they were making.
async fn deactivation_race(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, scim_auth) = setup(&server, "acme").await;
    let ada = scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example", "active": true}),
    )
    .await;
    let ada_id = ada["id"].as_str().unwrap().to_string();
    let mut browser = Browser::new(&server);
    let mut first = Some(sign_in(&mut browser, &app, "ada@acme.example").await);
    for round in 0..3 {
        let mut grants = Vec::new();
        for i in 0..6 {
            let code = match first.take() {
                Some(code) => code,
                None => {
                    let nonce = format!("r{round}-{i}");
                    let back = redirect(&browser.authorize(&auth_params(&app, &nonce)).await);
                    back.param("code").unwrap().to_string()
                }
            };
            let (s, tokens) = token(&server, &app, &redeem(&code)).await;
            assert_eq!(s, StatusCode::OK, "{tokens}");
            grants.push(tokens);
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let loops: Vec<_> = grants
            .iter()
            .map(|g| {
                tokio::spawn(refresh_loop(
                    server.base.clone(),
                    app.id.clone(),
                    app.secret.clone().unwrap(),
                    g["refresh_token"].as_str().unwrap().to_string(),
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let (s, body) = server
            .call(
                Method::PATCH,
                &format!("/scim/v2/Users/{ada_id}"),
                Some(&scim_auth),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "active", "value": false}]}),
                ),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::OK,
            "round {round}: deactivation under load: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut issued = 0;
        for (grant, handle) in grants.iter().zip(loops) {
            let (seen, last) = handle.await.unwrap();
            issued += seen.len();
            for access in seen
                .iter()
                .chain([grant["access_token"].as_str().unwrap().to_string()].iter())
            {
                assert_eq!(
                    userinfo(&server, access).await.0,
                    StatusCode::UNAUTHORIZED,
                    "round {round}"
                );
            }
            let (s, _) = refresh_grant(&server, &app, &last).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "round {round}");
        }
        assert!(
            issued > 0,
            "round {round}: the refreshes ran before the deactivation"
        );
        patch_user(
            &server,
            &scim_auth,
            &ada_id,
            json!({"op": "replace", "path": "active", "value": true}),
        )
        .await;
        first = Some(sign_in(&mut browser, &app, "ada@acme.example").await);
    }

    // Revocation against running refreshes of the same grant.
    let (s, tokens) = token(&server, &app, &redeem(&first.take().unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = tokio::spawn(refresh_loop(
        server.base.clone(),
        app.id.clone(),
        app.secret.clone().unwrap(),
        tokens["refresh_token"].as_str().unwrap().to_string(),
        stop.clone(),
    ));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The original refresh token was exchanged already: revoking it still ends the grant.
    let revoked = reqwest::Client::new()
        .post(server.url("/auth/revoke"))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, last) = handle.await.unwrap();
    for access in &seen {
        assert_eq!(
            userinfo(&server, access).await.0,
            StatusCode::UNAUTHORIZED,
            "after revocation"
        );
    }
    let (s, _) = refresh_grant(&server, &app, &last).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "after revocation");
}

both_backends!(every_path_that_ends_access_ends_sign_in, every_ending_path);

/// Each way a user (or the app) can be cut off ends what was issued: SCIM PUT (Okta's full
/// replace) and Bulk deactivation, SCIM and admin deletion, and revoking the client.
async fn every_ending_path(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, scim_auth) = setup(&server, "acme").await;
    let pem =
        |name: &str| std::fs::read_to_string(keys().join(format!("{name}.cert.pem"))).unwrap();
    for (i, path) in [
        "scim put",
        "bulk",
        "scim delete",
        "admin delete",
        "certificate removed",
        "connection deleted",
        "client revoked",
    ]
    .into_iter()
    .enumerate()
    {
        // The organization's IdP, signing with idp1, and idp2 beside it (made again after the
        // connection's deletion).
        let (_, list) = server
            .op(Method::GET, "/api/v1/orgs/acme/sso-connections", None)
            .await;
        let connection = match list["items"].as_array().unwrap().first() {
            Some(c) => format!(
                "/api/v1/orgs/acme/sso-connections/{}",
                c["id"].as_str().unwrap()
            ),
            None => {
                let (s, c) = server
                    .op(
                        Method::POST,
                        "/api/v1/orgs/acme/sso-connections",
                        Some(json!({"name": "Okta", "idp_entity_id": IDP_ISSUER,
                                    "sso_url": "http://127.0.0.1:9/idp/sso", "certificates": [pem("idp1")]})),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{c}");
                format!(
                    "/api/v1/orgs/acme/sso-connections/{}",
                    c["id"].as_str().unwrap()
                )
            }
        };
        let (s, _) = server
            .op(
                Method::PATCH,
                &connection,
                Some(json!({"certificates": [pem("idp1"), pem("idp2")]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let user_name = format!("u{i}@acme.example");
        let user = scim(
            &server,
            &scim_auth,
            Method::POST,
            "/Users",
            json!({"userName": user_name, "active": true}),
        )
        .await;
        let id = user["id"].as_str().unwrap().to_string();
        let mut browser = Browser::new(&server);
        let code = sign_in(&mut browser, &app, &user_name).await;
        let (s, tokens) = token(&server, &app, &redeem(&code)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {tokens}");
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(userinfo(&server, access).await.0, StatusCode::OK, "{path}");
        match path {
            "scim put" => {
                scim(
                    &server,
                    &scim_auth,
                    Method::PUT,
                    &format!("/Users/{id}"),
                    json!({"userName": user_name, "active": false}),
                )
                .await;
            }
            "bulk" => {
                let body = scim(
                    &server,
                    &scim_auth,
                    Method::POST,
                    "/Bulk",
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                           "Operations": [{"method": "PATCH", "path": format!("/Users/{id}"),
                               "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                        "Operations": [{"op": "replace", "path": "active", "value": false}]}}]}),
                )
                .await;
                assert_eq!(body["Operations"][0]["status"], json!("200"), "{body}");
            }
            "scim delete" => {
                let (s, _) = server
                    .call(
                        Method::DELETE,
                        &format!("/scim/v2/Users/{id}"),
                        Some(&scim_auth),
                        None,
                    )
                    .await;
                assert_eq!(s, StatusCode::NO_CONTENT);
            }
            "admin delete" => {
                let (s, _) = server
                    .op(
                        Method::DELETE,
                        &format!("/api/v1/orgs/acme/users/{id}"),
                        None,
                    )
                    .await;
                assert_eq!(s, StatusCode::NO_CONTENT);
            }
            "certificate removed" => {
                let (s, body) = server
                    .op(
                        Method::PATCH,
                        &connection,
                        Some(json!({"certificates": [pem("idp1")]})),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{body}");
            }
            "connection deleted" => {
                let (s, _) = server.op(Method::DELETE, &connection, None).await;
                assert_eq!(s, StatusCode::NO_CONTENT);
            }
            _ => {
                let (s, _) = server
                    .op(
                        Method::DELETE,
                        &format!("/api/v1/orgs/acme/oauth-clients/{}", app.id),
                        None,
                    )
                    .await;
                assert_eq!(s, StatusCode::NO_CONTENT);
            }
        }
        assert_eq!(
            userinfo(&server, access).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (s, body) = refresh_grant(&server, &app, refresh).await;
        if path == "client revoked" {
            assert_eq!(
                (s, body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_client"))
            );
            let response = browser.authorize(&auth_params(&app, "n")).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "a revoked client starts nothing"
            );
        } else {
            assert_eq!(
                (s, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                "{path}"
            );
            // The session is gone: the request shows the sign-in page, never a code.
            let response = browser.authorize(&auth_params(&app, "n")).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{path}: the session is gone"
            );
        }
    }
    // Deleting the organization ends everything its users were issued.
    let (globex_app, _, globex_scim) = setup(&server, "globex").await;
    scim(
        &server,
        &globex_scim,
        Method::POST,
        "/Users",
        json!({"userName": "gus@globex.example"}),
    )
    .await;
    let mut browser = Browser::new(&server);
    let code = sign_in(&mut browser, &globex_app, "gus@globex.example").await;
    let (s, tokens) = token(&server, &globex_app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, access).await.0, StatusCode::OK);
    let (s, body) = server.op(Method::DELETE, "/api/v1/orgs/globex", None).await;
    assert!(s.is_success(), "{s}: {body}");
    assert_eq!(
        userinfo(&server, access).await.0,
        StatusCode::UNAUTHORIZED,
        "organization deleted"
    );
    let (s, _) = refresh_grant(
        &server,
        &globex_app,
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the client went with its organization"
    );
}

both_backends!(certificates_roll_over, certificate_rollover);

/// A whole sign-in attempt with a Response signed by `key`: the status `/saml` answers.
async fn attempt(server: &Server, app: &App, key: &'static str) -> StatusCode {
    let mut browser = Browser::new(server);
    let pending = browser.start(&auth_params(app, "n")).await;
    let mut assertion = Assertion::new(server, &pending, "ada@acme.example");
    assertion.key = key;
    browser.post_response(&assertion.signed()).await.status()
}

/// An IdP's signing certificate is rolled over the way the guides describe: the next one is
/// added beside the current one, then the old one removed; a bad change changes nothing; the
/// edit needs sso.provider.edit in the connection's own organization.
async fn certificate_rollover(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (app, _, scim_auth) = setup(&server, "acme").await;
    server.create_org("globex").await;
    scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example"}),
    )
    .await;
    let (_, list) = server
        .op(Method::GET, "/api/v1/orgs/acme/sso-connections", None)
        .await;
    let path = format!(
        "/api/v1/orgs/acme/sso-connections/{}",
        list["items"][0]["id"].as_str().unwrap()
    );
    let pem =
        |name: &str| std::fs::read_to_string(keys().join(format!("{name}.cert.pem"))).unwrap();
    assert_eq!(
        attempt(&server, &app, "idp2").await,
        StatusCode::BAD_REQUEST,
        "not configured yet"
    );
    // A grant made through the current certificate, to see what the roll-over ends.
    let mut browser = Browser::new(&server);
    let code = sign_in(&mut browser, &app, "ada@acme.example").await;
    let (_, tokens) = token(&server, &app, &redeem(&code)).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (s, body) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"certificates": [pem("idp1"), pem("idp2")]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(attempt(&server, &app, "idp1").await, StatusCode::SEE_OTHER);
    assert_eq!(attempt(&server, &app, "idp2").await, StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&server, &access).await.0,
        StatusCode::OK,
        "adding a certificate ends nothing"
    );
    let (s, body) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"certificates": [pem("idp2")]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        attempt(&server, &app, "idp1").await,
        StatusCode::BAD_REQUEST,
        "the old certificate is gone"
    );
    // Adding the next certificate ended nothing; taking one off ended what came through the
    // connection (the key may have been compromised).
    assert_eq!(userinfo(&server, &access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt(&server, &app, "idp2").await, StatusCode::SEE_OTHER);
    // Refused changes leave it as it was.
    for bad in [
        json!({"certificates": []}),
        json!({"certificates": ["not a certificate"]}),
        json!({"sso_url": "http://idp.example/sso"}),
        json!({"sp_entity_id": server.base.clone()}),
        json!({"surprise": true}),
    ] {
        let (s, body) = server.op(Method::PATCH, &path, Some(bad.clone())).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{bad}: {s} {body}"
        );
    }
    assert_eq!(attempt(&server, &app, "idp2").await, StatusCode::SEE_OTHER);
    // Permissions and organizations.
    let viewer = server.access_key_with("acme", &["sso.provider.view"]).await;
    let (s, _) = server
        .call(
            Method::PATCH,
            &path,
            Some(&viewer),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let editor = server.access_key_with("acme", &["sso.provider.edit"]).await;
    let (s, body) = server
        .call(
            Method::PATCH,
            &path,
            Some(&editor),
            Some(json!({"name": "Okta (new)"})),
        )
        .await;
    assert_eq!(
        (s, body["name"].as_str()),
        (StatusCode::OK, Some("Okta (new)"))
    );
    let outsider = server
        .access_key_with("globex", &["sso.provider.edit", "sso.provider.view"])
        .await;
    let foreign = path.replace("/orgs/acme/", "/orgs/globex/");
    for (method, p) in [
        (Method::PATCH, &foreign),
        (Method::GET, &foreign),
        (Method::PATCH, &path),
    ] {
        let (s, _) = server
            .call(
                method.clone(),
                p,
                Some(&outsider),
                Some(json!({"name": "mine"})),
            )
            .await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN,
            "{method} {p}: {s}"
        );
        assert_ne!(s, StatusCode::OK);
    }
    let (_, after) = server.op(Method::GET, &path, None).await;
    assert_eq!(after["name"], json!("Okta (new)"));
}

/// The first SSO connection of `org`: its API path and its view.
async fn first_connection(server: &Server, org: &str) -> (String, Value) {
    let (_, list) = server
        .op(
            Method::GET,
            &format!("/api/v1/orgs/{org}/sso-connections"),
            None,
        )
        .await;
    let c = list["items"][0].clone();
    let path = format!(
        "/api/v1/orgs/{org}/sso-connections/{}",
        c["id"].as_str().unwrap()
    );
    (path, c)
}

/// The SP metadata a connection's view points at.
async fn sp_metadata(connection: &Value) -> String {
    let url = connection["sp_metadata_url"].as_str().unwrap();
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// An app of `org` with an `initiate_login_uri`: where sign-ins started at the IdP go.
async fn default_app(server: &Server, org: &str) -> App {
    let (s, app) = server
        .op(
            Method::POST,
            &format!("/api/v1/orgs/{org}/oauth-clients"),
            Some(json!({"name": "Product", "redirect_uris": [REDIRECT],
                        "initiate_login_uri": "http://127.0.0.1:9/login"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    App {
        id: app["client_id"].as_str().unwrap().to_string(),
        secret: app["client_secret"].as_str().map(str::to_string),
    }
}

both_backends!(sign_in_started_at_the_idp, idp_initiated);

/// A sign-in from the IdP's app tile: refused until the connection allows it; then checked
/// (signature, audience of that one connection, the user) and the browser sent to the
/// organization's default app (OIDC third-party-initiated login) without a session — the app's
/// own request then goes by the SP-initiated path, tied to the browser. So a tile Response
/// pushed into someone else's browser signs nobody in.
async fn idp_initiated(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (_, _, scim_auth) = setup(&server, "acme").await;
    let (_, _, globex_scim) = setup(&server, "globex").await;
    let ada = scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example"}),
    )
    .await;
    scim(
        &server,
        &globex_scim,
        Method::POST,
        "/Users",
        json!({"userName": "ada@acme.example"}),
    )
    .await;
    let audience_of = |org: &'static str| {
        let server = &server;
        async move {
            let (_, list) = server
                .op(
                    Method::GET,
                    &format!("/api/v1/orgs/{org}/sso-connections"),
                    None,
                )
                .await;
            let c = list["items"][0].clone();
            (
                format!(
                    "/api/v1/orgs/{org}/sso-connections/{}",
                    c["id"].as_str().unwrap()
                ),
                c["sp_entity_id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (path, acme_audience) = audience_of("acme").await;
    let (_, globex_audience) = audience_of("globex").await;
    let unsolicited = |audience: &str, key: &'static str| {
        let tile = Pending {
            id: String::new(),
            audience: audience.to_string(),
            force_authn: false,
        };
        let mut assertion = Assertion::new(&server, &tile, "ada@acme.example");
        assertion.in_response_to = None;
        assertion.key = key;
        assertion.signed()
    };
    let refused = |response: reqwest::Response, what: &str| {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(response.headers().get(header::LOCATION).is_none(), "{what}");
        assert!(
            response.headers().get(header::SET_COOKIE).is_none(),
            "{what}"
        );
    };

    let mut browser = Browser::new(&server);
    refused(
        browser
            .post_response(&unsolicited(&acme_audience, "idp1"))
            .await,
        "not allowed by default",
    );
    let (s, body) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"allow_idp_initiated": true})),
        )
        .await;
    assert_eq!(
        (s, body["allow_idp_initiated"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
    // Globex (same IdP) did not allow it; an unknown audience names no connection; a forged
    // signature fails.
    refused(
        browser
            .post_response(&unsolicited(&globex_audience, "idp1"))
            .await,
        "globex's connection",
    );
    refused(
        browser
            .post_response(&unsolicited("https://nobody.example/sp", "idp1"))
            .await,
        "unknown audience",
    );
    refused(
        browser
            .post_response(&unsolicited(&acme_audience, "attacker"))
            .await,
        "another key",
    );

    // No default app yet: told so, and not signed in.
    let response = browser
        .post_response(&unsolicited(&acme_audience, "idp1"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("initiate_login_uri"));

    // With a default app the browser goes there, still without a session; the app's own
    // request then goes to the IdP, and completes the ordinary way.
    let tile_app = default_app(&server, "acme").await;
    let mut browser = Browser::new(&server);
    let tile = unsolicited(&acme_audience, "idp1");
    let response = browser.post_response(&tile).await;
    assert!(
        response.headers().get(header::SET_COOKIE).is_none(),
        "no session from a tile Response"
    );
    let back = redirect(&response);
    assert!(
        back.location.starts_with("http://127.0.0.1:9/login?"),
        "{}",
        back.location
    );
    assert_eq!(back.param("iss"), Some(server.base.as_str()));
    assert_eq!(back.param("login_hint"), Some("ada@acme.example"));
    // Its assertion is spent: the same Response posted again, from any browser, is refused.
    refused(
        Browser::new(&server).post_response(&tile).await,
        "a replayed tile Response",
    );
    let code = sign_in(&mut browser, &tile_app, "ada@acme.example").await;
    let (s, tokens) = token(&server, &tile_app, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let claims = verify_id_token(&server, tokens["id_token"].as_str().unwrap(), &tile_app.id).await;
    assert_eq!(
        (claims["sub"].clone(), claims["org"].clone()),
        (ada["id"].clone(), json!("acme"))
    );

    // A deactivated user is turned away at the tile too.
    scim(
        &server,
        &scim_auth,
        Method::PATCH,
        &format!("/Users/{}", ada["id"].as_str().unwrap()),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await;
    let response = Browser::new(&server)
        .post_response(&unsolicited(&acme_audience, "idp1"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

both_backends!(pending_sign_ins_do_not_pile_up, pending_cookies);

/// Starting sign-ins writes nothing on the server and keeps a browser's cookies bounded: a page
/// that starts sign-ins over and over (with the longest parameters allowed) leaves at most
/// three pending sign-ins, each well under the 4 KB a browser keeps; a request too large to
/// keep is refused at the start.
async fn pending_cookies(db: TestDb) {
    let server = Server::start(&db).await;
    let (app, _, _) = setup(&server, "acme").await;
    let mut browser = Browser::new(&server);
    let long = "s".repeat(512);
    for _ in 0..10 {
        let mut params = auth_params(&app, &long);
        params.retain(|(k, _)| *k != "state");
        params.push(("state", &long));
        let response = browser.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(browser.login_cookies.len(), 3, "three slots");
    // Started all at once (so every request carries the same cookies), they still land in
    // the same three slots.
    let requests: Vec<_> = (0..12)
        .map(|_| {
            let request = browser
                .http
                .get(server.url("/auth/authorize"))
                .query(&auth_params(&app, "n"))
                .header(header::COOKIE, browser.cookie_header());
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for request in requests {
        let response = request.await.unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            names.insert(set.to_str().unwrap().split('=').next().unwrap().to_string());
        }
    }
    assert!(names.len() <= 3, "{names:?}");
    // Embedded by another site (an image, a frame), an authorization request starts nothing.
    let embedded = browser
        .http
        .get(server.url("/auth/authorize"))
        .query(&auth_params(&app, "n"))
        .header("sec-fetch-dest", "image")
        .send()
        .await
        .unwrap();
    assert_eq!(embedded.status(), StatusCode::BAD_REQUEST);
    assert!(embedded.headers().get(header::SET_COOKIE).is_none());
    for cookie in &browser.login_cookies {
        assert!(cookie.len() < 4000, "{} bytes", cookie.len());
    }
    // Quotes double in the sealed form: parameters that cannot fit are refused up front.
    let quotes = "\"".repeat(512);
    let mut params = auth_params(&app, &quotes);
    params.retain(|(k, _)| *k != "state" && *k != "scope");
    params.push(("state", &quotes));
    // Every word registered, so the scope passes its own rules and only its size counts.
    let scope = vec!["openid"; 73].join(" ");
    params.push(("scope", &scope));
    let back = redirect(&browser.authorize(&params).await);
    assert_eq!(
        back.param("error"),
        Some("invalid_request"),
        "{}",
        back.location
    );
}

/// An integration client signed in to through the IdP: the session opens, the consent page
/// asks once, and only the session it was asked in may answer; the next sign-in is remembered.
async fn consent_through_saml(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let (_, _, scim_auth) = setup(&server, "acme").await;
    scim(
        &server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "ada@acme.example", "active": true}),
    )
    .await;
    let (s, client) = server
        .op(
            Method::POST,
            "/api/v1/orgs/acme/oauth-clients",
            Some(json!({"name": "Okta provisioning", "kind": "integration",
                        "redirect_uris": [REDIRECT], "scopes": ["openid", "email", "profile"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{client}");
    let okta = App {
        id: client["client_id"].as_str().unwrap().to_string(),
        secret: client["client_secret"].as_str().map(str::to_string),
    };
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&okta, "n-1")).await;
    let signed = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let page = browser.post_response(&signed).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the consent page, not a code"
    );
    assert!(browser.cookie.is_some(), "the session is open");
    assert_eq!(
        browser.login_cookies.len(),
        1,
        "the pending sign-in is kept"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Okta provisioning</strong> wants to manage"),
        "{html}"
    );
    let nonce = html
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert_ne!(
        nonce, pending.id,
        "the form does not carry the AuthnRequest's ID"
    );
    let answer = |cookie: String, origin: Option<&'static str>| {
        let mut request = browser
            .http
            .post(server.url("/auth/consent"))
            .header(header::COOKIE, cookie)
            .form(&[("request", nonce.as_str()), ("decision", "allow")]);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send()
    };
    // Without the session it was asked in, or from another site, the answer does not count.
    let stripped = browser.login_cookies.join("; ");
    assert_eq!(
        answer(stripped, None).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let foreign = answer(browser.cookie_header(), Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let allowed = answer(browser.cookie_header(), None).await.unwrap();
    let back = redirect(&allowed);
    let code = back
        .param("code")
        .expect("a code after consent")
        .to_string();
    let (s, tokens) = token(&server, &okta, &redeem(&code)).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    // Remembered: the session answers at once.
    let again = redirect(&browser.authorize(&auth_params(&okta, "n-2")).await);
    assert!(again.param("code").is_some(), "{}", again.location);
}

both_backends!(integration_consent_after_saml, consent_through_saml);

/// A connection turned off completes no sign-in started through it, and the sign-in page no
/// longer offers it.
/// Organization `acme` set up for sign-in, with one provisioned user, ada@acme.example; its app.
async fn acme_with_ada(server: &Server) -> App {
    let (app, _, scim_auth) = setup(server, "acme").await;
    scim(
        server,
        &scim_auth,
        Method::POST,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "ada@acme.example", "active": true}),
    )
    .await;
    app
}

async fn connection_turned_off(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let app = acme_with_ada(&server).await;
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&app, "n-1")).await;
    let (_, list) = server
        .op(Method::GET, "/api/v1/orgs/acme/sso-connections", None)
        .await;
    let path = format!(
        "/api/v1/orgs/acme/sso-connections/{}",
        list["items"][0]["id"].as_str().unwrap()
    );
    let (s, off) = server
        .op(Method::PATCH, &path, Some(json!({"enabled": false})))
        .await;
    assert_eq!(s, StatusCode::OK, "{off}");
    assert_eq!(off["enabled"], false);
    let signed = Assertion::new(&server, &pending, "ada@acme.example").signed();
    let refused = browser.post_response(&signed).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(browser.cookie.is_none(), "no session");
    let page = browser.authorize(&auth_params(&app, "n-2")).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("value=\"password\">Continue"), "{html}");
    assert!(!html.contains("Use a password instead"), "{html}");
}

both_backends!(
    a_connection_turned_off_signs_nobody_in,
    connection_turned_off
);

/// Failed sign-ins are recorded in the organization's audit log, within budgets: a Response
/// replayed against the same pending request is one row, a stream of failures from one address
/// stops being recorded after its burst, and no reason is longer than 200 characters and the
/// mark where it was cut.
async fn failure_records(db: TestDb) {
    if skip_without_xmlsec() {
        return;
    }
    let server = Server::start(&db).await;
    let app = acme_with_ada(&server).await;
    let failures = || async {
        let (s, page) = server
            .op(
                Method::GET,
                "/api/v1/orgs/acme/audit?action=sso.sign_in_failed&limit=100",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        page["items"].as_array().unwrap().clone()
    };
    let mut browser = Browser::new(&server);
    let pending = browser.start(&auth_params(&app, "n")).await;
    let holding = browser.login_cookies.clone();
    let mut forged = Assertion::new(&server, &pending, "ada@acme.example");
    forged.key = "attacker";
    let forged = forged.signed();
    for _ in 0..5 {
        browser.login_cookies = holding.clone();
        let refused = browser.post_response(&forged).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    // One row per request; the four left out are counted in a summary row.
    let rows = failures().await;
    let (referenced, summaries): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| r["detail"]["reference"].is_string());
    assert_eq!(referenced.len(), 1, "one row per request: {rows:?}");
    assert_eq!(summaries.len(), 1, "{rows:?}");
    assert_eq!(summaries[0]["detail"]["skipped"], json!(1), "{rows:?}");

    for i in 0..30 {
        let pending = browser.start(&auth_params(&app, &format!("n{i}"))).await;
        let mut forged = Assertion::new(&server, &pending, "ada@acme.example");
        forged.key = "attacker";
        let refused = browser.post_response(&forged.signed()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "still refused");
    }
    let rows = failures().await;
    let referenced = rows
        .iter()
        .filter(|r| r["detail"]["reference"].is_string())
        .count();
    // A burst of 20 per address, then 10 a minute: a few may refill while the test runs.
    // Summaries come at most once a minute.
    assert!(
        (20..=24).contains(&referenced),
        "{referenced} rows for 31 failures"
    );
    assert!(rows.len() - referenced <= 2, "{rows:?}");
    for row in rows {
        let reason = row["detail"]["reason"].as_str().unwrap();
        assert!(reason.chars().count() <= 201, "{reason}");
    }
}

both_backends!(failed_sign_ins_are_recorded_within_budgets, failure_records);
