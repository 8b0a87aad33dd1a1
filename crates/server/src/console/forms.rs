//! Reading the console's forms: every form that changes something is sent as
//! `multipart/form-data` (file pickers need it, and one reader serves all), its fields read
//! into name–value pairs, files as their bytes.

use axum::extract::Multipart;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::render::{self, check_csrf, require, Console};
use super::ConsoleState;

/// A posted form's fields in order (a name may repeat: checkboxes, several files).
#[derive(Default)]
pub struct Fields {
    values: Vec<(String, Vec<u8>)>,
}

impl Fields {
    /// Reads the whole form; `None` when it is not a readable multipart body.
    pub async fn read(mut multipart: Multipart) -> Option<Fields> {
        let mut fields = Fields::default();
        while let Some(field) = multipart.next_field().await.ok()? {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.ok()?;
            fields.values.push((name, bytes.to_vec()));
        }
        Some(fields)
    }

    /// A text field, trimmed ("" when absent).
    pub fn text(&self, name: &str) -> String {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default()
    }

    /// A text field, `None` when absent or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|v| !v.is_empty())
    }

    /// Every value of a repeated field (checkboxes), empty ones left out.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.values.iter().any(|(n, v)| n == name && !v.is_empty())
    }

    /// The uploaded files of a field with something in them.
    pub fn files(&self, name: &str) -> Vec<&[u8]> {
        self.values
            .iter()
            .filter(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

/// A posted form, its CSRF token checked and `permission` held, with the organization it acts
/// in.
pub async fn posted<'c>(
    c: &'c Console,
    multipart: Multipart,
    permission: &str,
) -> Result<(Fields, &'c str), Response> {
    let fields = Fields::read(multipart)
        .await
        .ok_or_else(|| check_csrf(c, "").unwrap_err())?;
    check_csrf(c, &fields.text("csrf"))?;
    require(c, permission)?;
    Ok((fields, c.org_id()?))
}

/// A form that is one button (revoke, delete, remove): its CSRF token alone.
#[derive(Deserialize)]
pub struct Button {
    #[serde(default)]
    pub csrf: String,
}

/// A one-button deletion: CSRF and permission checked, then `DELETE` of the organization's
/// `path` through the API.
pub async fn delete_action(
    state: &ConsoleState,
    c: &Console,
    csrf: &str,
    permission: &str,
    path: String,
) -> Result<(), Response> {
    check_csrf(c, csrf)?;
    require(c, permission)?;
    let org = c.org_id()?;
    state
        .delete(c, &format!("/orgs/{org}{path}"))
        .await
        .map(|_| ())
        .map_err(|e| render::failure(c, e))
}

/// Certificates from file uploads and a text box, as the API takes them (PEM or bare base64):
/// a text holding several PEM blocks gives one each; a binary (DER) file is base64-encoded.
pub fn certificates(fields: &Fields, file_field: &str, text_field: &str) -> Vec<String> {
    let mut out = vec![];
    for file in fields.files(file_field) {
        match std::str::from_utf8(file) {
            Ok(text) => out.extend(split_pem(text)),
            Err(_) => out.push(STANDARD.encode(file)),
        }
    }
    out.extend(split_pem(&fields.text(text_field)));
    out
}

/// The certificates in a text: each PEM block, or the whole text as one bare base64 value.
pub fn split_pem(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = text.trim();
    if text.is_empty() {
        return vec![];
    }
    if !text.contains(BEGIN) {
        return vec![text.to_string()];
    }
    let mut out = vec![];
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let Some(end) = after.find(END) else {
            out.push(after.to_string());
            break;
        };
        out.push(after[..end + END.len()].to_string());
        rest = &after[end + END.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_pem;

    #[test]
    fn pem_blocks_are_split_and_bare_base64_kept_whole() {
        let two = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                   junk\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----";
        let blocks = split_pem(two);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].contains("BBB") && !blocks[1].contains("junk"));
        assert_eq!(
            split_pem(" MIIBbase64== \n"),
            vec!["MIIBbase64==".to_string()]
        );
        assert!(split_pem("  ").is_empty());
    }
}
