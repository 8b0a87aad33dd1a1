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
    /// Our ACS URL (default: the SP entity ID, as Lanyard uses one URL for both).
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
    let expected = match &expected_id {
        Some(id) => Expected::Request(id),
        None => Expected::Unsolicited,
    };
    let acs_url = args
        .acs_url
        .clone()
        .unwrap_or_else(|| args.sp_entity_id.clone());
    let connection = Connection {
        sp_entity_id: &args.sp_entity_id,
        acs_url: &acs_url,
        idp_issuer: &issuer,
        certificates: &certs,
        policy: Policy {
            allow_sha1: args.allow_sha1,
        },
        allow_idp_initiated: args.allow_idp_initiated,
        allow_expired_certificate: false,
        clock_skew_ms: DEFAULT_CLOCK_SKEW_MS,
        limits,
        decryption_keys: &keys,
    };
    let verdict = response::validate(&bytes, &connection, expected, now);
    if as_json {
        let body = match &verdict {
            Ok(id) => json!({ "accepted": true, "identity": identity_json(id), "notes": notes }),
            Err(e) => {
                json!({ "accepted": false, "error": { "kind": format!("{e:?}").split(['(', ' ', '{']).next().unwrap_or_default(), "message": e.to_string() }, "notes": notes })
            }
        };
        println!("{body}");
    } else {
        match &verdict {
            Ok(id) => {
                println!(
                    "ACCEPTED: {} ({})",
                    id.name_id,
                    id.name_id_format.as_deref().unwrap_or("no format")
                );
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
            Err(e) => println!("REFUSED: {e}"),
        }
        for note in &notes {
            println!("  note: {note}");
        }
    }
    Ok(verdict.is_ok())
}
