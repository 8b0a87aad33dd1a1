//! One parse of the decoded bytes into one tree, under limits. Everything else in this crate
//! works on handles into that tree: nothing is serialised and parsed again between verifying a
//! signature and reading what it covers.

use roxmltree::{Document, Node, ParsingOptions};

use crate::Error;

/// Namespace of SAML 2.0 assertions.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// Namespace of SAML 2.0 protocol messages.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// Namespace of XML-DSig.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Namespace of XML-Enc.
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// How much of a message is read at all.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted document, in bytes after any base64 or DEFLATE decoding.
    pub max_bytes: usize,
    /// Most nodes (elements, attributes, text) in the tree.
    pub max_nodes: u32,
    /// Deepest element nesting.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            max_nodes: 20_000,
            max_depth: 48,
        }
    }
}

/// Parses `bytes` as one XML document: UTF-8 only, no DTD (so no entity expansion beyond the
/// five predefined ones), within `limits`. Duplicate attributes are a parse error.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Document<'_>, Error> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::Malformed("the XML is not UTF-8".into()))?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc =
        Document::parse_with_options(text, options).map_err(|e| Error::Malformed(e.to_string()))?;
    let too_deep = doc
        .descendants()
        .any(|n| n.is_element() && n.ancestors().count() > limits.max_depth + 1);
    if too_deep {
        return Err(Error::Malformed(format!(
            "elements are nested deeper than {}",
            limits.max_depth
        )));
    }
    Ok(doc)
}

/// Whether `node` is the element `{ns}local`.
pub fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// Element children of `node`.
pub fn child_elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|n| n.is_element())
}

/// The element children of `node` named `{ns}local`.
pub fn children_named<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    child_elements(node).filter(move |n| is(*n, ns, local))
}

/// The one child `{ns}local` of `node`: none is `Ok(None)`, more than one is an error.
pub fn one_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> Result<Option<Node<'a, 'i>>, Error> {
    let mut found = children_named(node, ns, local);
    let first = found.next();
    if found.next().is_some() {
        return Err(Error::Malformed(format!(
            "more than one {local} in {}",
            node.tag_name().name()
        )));
    }
    Ok(first)
}

/// The text content of an element made of text only. All text pieces are joined (so a comment
/// splitting the text cannot truncate it); a child element is refused. Comments are dropped,
/// exactly as exclusive canonicalization without comments drops them, so the value read is the
/// value that was signed.
pub fn text(node: Node<'_, '_>) -> Result<String, Error> {
    let mut out = String::new();
    for child in node.children() {
        if child.is_element() {
            return Err(Error::Malformed(format!(
                "{} must hold text only, but holds an element",
                node.tag_name().name()
            )));
        }
        if let Some(t) = child.text().filter(|_| child.is_text()) {
            out.push_str(t);
        }
    }
    Ok(out)
}

/// The prefix an element was written with (`""` for none), read from its source bytes: the tree
/// keeps namespaces resolved, canonicalization needs the prefix as written.
pub fn element_prefix<'i>(doc: &Document<'i>, node: Node<'_, 'i>) -> &'i str {
    let src = doc.input_text();
    let start = node.range().start + 1; // skip '<'
    let rest = &src[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    let qname = &rest[..end];
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// The prefix an attribute was written with (`""` for none).
pub fn attribute_prefix<'i>(doc: &Document<'i>, attr: &roxmltree::Attribute<'_, 'i>) -> &'i str {
    let qname = &doc.input_text()[attr.range_qname()];
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtds_and_entities_are_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>"#;
        assert!(matches!(
            parse(bomb, Limits::default()),
            Err(Error::Malformed(_))
        ));
        let xxe = br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(
            parse(xxe, Limits::default()),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn limits_hold() {
        let big = vec![b' '; 300 * 1024];
        assert!(matches!(
            parse(&big, Limits::default()),
            Err(Error::TooLarge { .. })
        ));
        let deep = format!("{}{}", "<a>".repeat(60), "</a>".repeat(60));
        assert!(parse(deep.as_bytes(), Limits::default()).is_err());
        let many = format!("<r>{}</r>", "<a/>".repeat(30_000));
        assert!(parse(
            many.as_bytes(),
            Limits {
                max_bytes: 1 << 20,
                ..Limits::default()
            }
        )
        .is_err());
        assert!(
            parse(b"<r a='1' a='2'/>", Limits::default()).is_err(),
            "duplicate attributes"
        );
        assert!(
            parse(b"<r>\xff</r>", Limits::default()).is_err(),
            "not UTF-8"
        );
    }

    #[test]
    fn text_joins_every_piece_and_refuses_elements() {
        let doc = parse(b"<n>victim@corp.com<!---->.evil.com</n>", Limits::default()).unwrap();
        assert_eq!(
            text(doc.root_element()).unwrap(),
            "victim@corp.com.evil.com"
        );
        let doc = parse(b"<n>a<b/>c</n>", Limits::default()).unwrap();
        assert!(text(doc.root_element()).is_err());
    }

    #[test]
    fn prefixes_come_from_the_source() {
        let doc = parse(
            br#"<p:a xmlns:p="urn:x" xmlns:q="urn:y" q:b="1" c="2"><d/></p:a>"#,
            Limits::default(),
        )
        .unwrap();
        let root = doc.root_element();
        assert_eq!(element_prefix(&doc, root), "p");
        let prefixes: Vec<_> = root
            .attributes()
            .map(|a| attribute_prefix(&doc, &a))
            .collect();
        assert_eq!(prefixes, ["q", ""]);
        assert_eq!(
            element_prefix(&doc, root.first_element_child().unwrap()),
            ""
        );
    }
}
