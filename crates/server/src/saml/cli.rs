//! `lanyard saml verify`: the SAML library's verdict on a saved response, for support staff
//! diagnosing what a customer's IdP sent. Reads files only; touches no database.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use lanyard_saml::certs::Certificate;
use lanyard_saml::dsig::Policy;
use lanyard_saml::metadata::read_idp;
use lanyard_saml::response::{self, Connection, Expected, Identity, DEFAULT_CLOCK_SKEW_MS};
use lanyard_saml::xml::Limits;
use lanyard_saml::xmlenc::DecryptionKey;
use serde_json::json;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The response: raw XML, or the base64 SAMLResponse form value (URL-encoded or not).
    #[arg(long)]
    response: PathBuf,
    /// The IdP's metadata (gives its entity ID and signing certificates).
    #[arg(long, required_unless_present = "cert")]
    idp_metadata: Option<PathBuf>,
    /// An IdP signing certificate (PEM, bare base64 or DER); repeatable, instead of metadata.
    #[arg(long)]
    cert: Vec<PathBuf>,
    /// The IdP's entity ID, when certificates are given without metadata (default: the
    /// response's own Issuer, reported as unchecked).
    #[arg(long)]
    idp_issuer: Option<String>,
    /// Our entity ID (the audience).
    #[arg(long)]
    sp_entity_id: String,
    /// Our ACS URL, `{public_url}/saml` (default: the response's own Destination, reported as
    /// unchecked).
    #[arg(long)]
    acs_url: Option<String>,
    /// The request ID the response should answer (default: whatever it says it answers).
    #[arg(long)]
    in_response_to: Option<String>,
    /// The SP private key (PKCS#8) for encrypted assertions.
    #[arg(long)]
    decryption_key: Option<PathBuf>,
    /// Validate as of this time (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Accept a response no request asked for.
    #[arg(long)]
    allow_idp_initiated: bool,
    /// Accept SHA-1 signatures.
    #[arg(long)]
    allow_sha1: bool,
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The response bytes from raw XML or a (possibly URL-encoded) base64 form value.
fn response_bytes(raw: &[u8], limits: Limits) -> anyhow::Result<Vec<u8>> {
    let text = String::from_utf8_lossy(raw);
    let trimmed = text.trim();
    if trimmed.starts_with('<') {
        return Ok(trimmed.as_bytes().to_vec());
    }
    let value = trimmed.strip_prefix("SAMLResponse=").unwrap_or(trimmed);
    let value = if value.contains('%') {
        percent_decode(value)
    } else {
        value.to_string()
    };
    Ok(response::decode_post(&value, limits)?)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn identity_json(id: &Identity) -> serde_json::Value {
    json!({
        "issuer": id.issuer,
        "name_id": id.name_id,
        "name_id_format": id.name_id_format,
        "session_index": id.session_index,
        "session_not_on_or_after": id.session_not_on_or_after.map(lanyard_saml::time::format_ms),
        "issue_instant": lanyard_saml::time::format_ms(id.issue_instant),
        "assertion_id": id.assertion_id,
        "not_on_or_after": lanyard_saml::time::format_ms(id.not_on_or_after),
        "in_response_to": id.in_response_to,
        "response_signed": id.response_signed,
        "assertion_signed": id.assertion_signed,
        "attributes": id.attributes.iter().map(|a| json!({
            "name": a.name, "name_format": a.name_format, "friendly_name": a.friendly_name, "values": a.values,
        })).collect::<Vec<_>>(),
    })
}

/// Runs the check and prints the verdict; `Ok(false)` when the response is refused.
pub fn verify(args: &VerifyArgs, as_json: bool) -> anyhow::Result<bool> {
    let limits = Limits::default();
    let bytes = response_bytes(&read(&args.response)?, limits)?;
    let hints = response::peek(&bytes, limits).ok().unwrap_or_default();
    let mut notes: Vec<String> = Vec::new();

    let (mut certs, mut issuer) = (Vec::new(), args.idp_issuer.clone());
    if let Some(path) = &args.idp_metadata {
        let md = read_idp(
            &read(path)?,
            Limits {
                max_bytes: 1 << 20,
                ..limits
            },
        )?;
        issuer.get_or_insert(md.entity_id);
        certs.extend(md.signing_certs);
    }
    for path in &args.cert {
        certs.push(
            Certificate::parse(&read(path)?)
                .with_context(|| format!("reading {}", path.display()))?,
        );
    }
    let issuer = match issuer
        .or_else(|| hints.assertion_issuer.clone())
        .or_else(|| hints.response_issuer.clone())
    {
        Some(i) => {
            if args.idp_issuer.is_none() && args.idp_metadata.is_none() {
                notes.push(format!(
                    "the IdP issuer {i:?} was taken from the response itself, not checked"
                ));
            }
            i
        }
        None => bail!("the IdP issuer is unknown: give --idp-metadata or --idp-issuer"),
    };
    let keys = match &args.decryption_key {
        Some(path) => vec![DecryptionKey::parse(&read(path)?)?],
        None => vec![],
    };
    let now = match &args.now {
        Some(t) => lanyard_saml::time::parse(t, "--now")?,
        None => i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis(),
        )?,
    };
    let expected_id = args.in_response_to.clone().or_else(|| {
        hints.in_response_to.clone().inspect(|irt| {
            notes.push(format!("InResponseTo {irt:?} was taken from the response, not matched against a request we sent"));
        })
    });
    let acs_url = match (&args.acs_url, &hints.destination) {
        (Some(url), _) => url.clone(),
        (None, Some(destination)) => {
            notes.push(format!(
                "the ACS URL {destination:?} was taken from the response's Destination, not checked (give --acs-url)"
            ));
            destination.clone()
        }
        (None, None) => args.sp_entity_id.clone(),
    };
    let mut checks = Checks {
        sp_entity_id: args.sp_entity_id.clone(),
        acs_url,
        issuer,
        allow_sha1: args.allow_sha1,
        allow_idp_initiated: args.allow_idp_initiated,
        allow_expired_certificate: false,
        clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
        expected_id,
    };
    let (verdict, failures) = every_failure(&bytes, &mut checks, &certs, &keys, &hints, now);
    print_verdict(as_json, &verdict, &failures, &notes);
    Ok(failures.is_empty() && verdict.is_ok())
}

/// The checks a response is held to, which `every_failure` relaxes one at a time.
struct Checks {
    sp_entity_id: String,
    acs_url: String,
    issuer: String,
    allow_sha1: bool,
    allow_idp_initiated: bool,
    allow_expired_certificate: bool,
    clock_skew_ms: i64,
    expected_id: Option<String>,
}

/// One refusal, and what the support engineer might do about it.
struct Failure {
    error: lanyard_saml::Error,
    hint: Option<String>,
}

/// Relaxes the check `error` failed so validation can go on to find the next problem; the hint
/// for it. `None` when it cannot be relaxed (a signature that does not verify, a malformed
/// message): nothing after it can be trusted to say more.
fn relax(
    error: &lanyard_saml::Error,
    checks: &mut Checks,
    hints: &response::Hints,
) -> Option<Option<String>> {
    use lanyard_saml::Error as E;
    let at_capture = || {
        hints.issue_instant.as_ref().map(|t| {
            format!("if this is an old capture, check it as of when it was sent: --now {t}")
        })
    };
    Some(match error {
        E::Expired { .. } | E::NotYetValid { .. } => {
            checks.clock_skew_ms = 100 * 365 * 86_400_000;
            at_capture()
        }
        E::CertificateExpired { .. } => {
            checks.allow_expired_certificate = true;
            at_capture()
        }
        E::UnsolicitedNotAllowed => {
            checks.allow_idp_initiated = true;
            Some("it answers no request (IdP-initiated); add --allow-idp-initiated if the connection accepts those".into())
        }
        E::AlgorithmNotAllowed(_) if !checks.allow_sha1 => {
            checks.allow_sha1 = true;
            Some(
                "--allow-sha1 accepts SHA-1, but better configure the IdP to sign with SHA-256"
                    .into(),
            )
        }
        E::WrongAudience { audiences, .. } => {
            let first = audiences.first()?;
            checks.sp_entity_id = first.clone();
            Some(format!(
                "if {first:?} is the connection's entity ID, give --sp-entity-id {first:?}"
            ))
        }
        E::Mismatch { what, got, .. } if what.ends_with("Destination") => {
            checks.acs_url = got.clone();
            Some("the IdP posts to another ACS URL: set its Single sign-on URL to the connection's acs_url".into())
        }
        E::Mismatch { what, got, .. } if what.ends_with("Issuer") => {
            checks.issuer = got.clone();
            Some("the IdP names itself differently: check the connection's Issuer URI (--idp-issuer)".into())
        }
        E::UnknownInResponseTo(got) if got.starts_with("(none") => {
            checks.expected_id = None;
            Some(
                "it answers no request: leave out --in-response-to to check it as IdP-initiated"
                    .into(),
            )
        }
        E::UnknownInResponseTo(got) => {
            checks.expected_id = Some(got.clone());
            Some(format!("it answers request {got:?}: give --in-response-to {got:?} if that is the request sent"))
        }
        _ => return None,
    })
}

/// Validates, and after each refusal that can be relaxed validates again without that check,
/// so every problem is listed rather than only the first. The final verdict is that of the
/// last run (an identity when, with the listed checks relaxed, the response verifies).
fn every_failure(
    bytes: &[u8],
    checks: &mut Checks,
    certs: &[Certificate],
    keys: &[DecryptionKey],
    hints: &response::Hints,
    now: i64,
) -> (Result<Identity, lanyard_saml::Error>, Vec<Failure>) {
    let mut failures: Vec<Failure> = Vec::new();
    loop {
        let connection = Connection {
            sp_entity_id: &checks.sp_entity_id,
            acs_url: &checks.acs_url,
            idp_issuer: &checks.issuer,
            certificates: certs,
            policy: Policy {
                allow_sha1: checks.allow_sha1,
            },
            allow_idp_initiated: checks.allow_idp_initiated,
            allow_expired_certificate: checks.allow_expired_certificate,
            clock_skew_ms: checks.clock_skew_ms,
            limits: Limits::default(),
            decryption_keys: keys,
            require_encryption: false,
            content_encryption: None,
        };
        let expected = match &checks.expected_id {
            Some(id) => Expected::Request(id),
            None => Expected::Unsolicited,
        };
        let verdict = response::validate(bytes, &connection, expected, now);
        let Err(error) = &verdict else {
            return (verdict, failures);
        };
        // Each kind is relaxed once; a repeat means relaxing did not help.
        let repeated = failures.iter().any(|f| &f.error == error);
        let hint = if repeated {
            None
        } else {
            relax(error, checks, hints)
        };
        let Some(hint) = hint else {
            return (verdict, failures);
        };
        failures.push(Failure {
            error: error.clone(),
            hint,
        });
    }
}

fn kind(e: &lanyard_saml::Error) -> String {
    format!("{e:?}")
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn print_verdict(
    as_json: bool,
    verdict: &Result<Identity, lanyard_saml::Error>,
    relaxed: &[Failure],
    notes: &[String],
) {
    // Every refusal: the relaxed ones, then the last run's own if it refused.
    let mut errors: Vec<serde_json::Value> = relaxed
        .iter()
        .map(|f| json!({ "kind": kind(&f.error), "message": f.error.to_string(), "hint": f.hint }))
        .collect();
    if let Err(e) = verdict {
        errors.push(json!({ "kind": kind(e), "message": e.to_string(), "hint": null }));
    }
    let accepted = errors.is_empty();
    if as_json {
        let mut body = json!({ "accepted": accepted, "errors": errors, "notes": notes });
        if let Some(first) = errors.first() {
            body["error"] = first.clone();
        }
        if let Ok(id) = verdict {
            // With checks relaxed, what the response would have said.
            body["identity"] = identity_json(id);
        }
        println!("{body}");
        return;
    }
    match verdict {
        Ok(id) if accepted => println!(
            "ACCEPTED: {} ({})",
            id.name_id,
            id.name_id_format.as_deref().unwrap_or("no format")
        ),
        _ => {
            for (i, e) in errors.iter().enumerate() {
                let label = if i == 0 { "REFUSED:" } else { "   also:" };
                println!("{label} {}", e["message"].as_str().unwrap_or_default());
                if let Some(hint) = e["hint"].as_str() {
                    println!("         hint: {hint}");
                }
            }
        }
    }
    if let Ok(id) = verdict {
        if !accepted {
            println!("with those checks relaxed, the signature verifies and the response says:");
        }
        print_identity(id);
    }
    for note in notes {
        println!("  note: {note}");
    }
}

fn print_identity(id: &Identity) {
    println!("  name id     {}", id.name_id);
    println!("  issuer      {}", id.issuer);
    println!(
        "  signed      response: {}, assertion: {}",
        id.response_signed, id.assertion_signed
    );
    println!(
        "  session     {}",
        id.session_index.as_deref().unwrap_or("-")
    );
    for a in &id.attributes {
        println!("  attribute   {} = {}", a.name, a.values.join(", "));
    }
}
