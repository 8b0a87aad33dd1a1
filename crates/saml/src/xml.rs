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
    prescan(bytes, limits)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc =
        Document::parse_with_options(text, options).map_err(|e| Error::Malformed(e.to_string()))?;
    check_names(&doc)?;
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
        .find([' ', '\t', '\r', '\n', '>', '/'])
        .unwrap_or(rest.len());
    let qname = &rest[..end];
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// The prefix an attribute was written with (`""` for none).
pub fn attribute_prefix<'i>(doc: &Document<'i>, attr: &roxmltree::Attribute<'_, 'i>) -> &'i str {
    let qname = doc.input_text().get(attr.range_qname()).unwrap_or_default();
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// Most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most namespace declarations in one document.
pub const MAX_NAMESPACE_DECLARATIONS: usize = 128;
/// Longest element or attribute name.
pub const MAX_NAME_LEN: usize = 1024;

/// One linear pass over the raw bytes that bounds what the tree parser's costlier steps see:
/// nesting depth, attributes per element, namespace declarations and name lengths (the parser
/// compares each namespace and attribute with its siblings, which is quadratic or worse in these
/// counts). Comments, CDATA and processing instructions are skipped; the parser checks
/// well-formedness afterwards.
fn prescan(bytes: &[u8], limits: Limits) -> Result<(), Error> {
    let n = bytes.len();
    let skip_past = |from: usize, end: &[u8]| -> usize {
        bytes
            .get(from..)
            .and_then(|tail| tail.windows(end.len()).position(|w| w == end))
            .map_or(n, |p| from + p + end.len())
    };
    let (mut depth, mut declarations, mut i) = (0usize, 0usize, 0usize);
    while i < n {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i = skip_past(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_past(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_past(i + 2, b"?>");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_past(i + 2, b">");
        } else if rest.starts_with(b"<!") {
            i = skip_past(i + 2, b">");
        } else {
            let tag = scan_start_tag(bytes, i + 1)?;
            declarations += tag.declarations;
            if declarations > MAX_NAMESPACE_DECLARATIONS {
                return Err(Error::Malformed(format!(
                    "the document declares more than {MAX_NAMESPACE_DECLARATIONS} namespaces"
                )));
            }
            if !tag.self_closing {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(Error::Malformed(format!(
                        "elements are nested deeper than {}",
                        limits.max_depth
                    )));
                }
            }
            i = tag.end;
        }
    }
    Ok(())
}

struct StartTag {
    declarations: usize,
    self_closing: bool,
    end: usize,
}

/// Walks a start tag from just after its `<`, counting attributes outside quoted values.
fn scan_start_tag(bytes: &[u8], from: usize) -> Result<StartTag, Error> {
    let n = bytes.len();
    let name_len = |start: usize, stop: &dyn Fn(u8) -> bool| {
        let mut j = start;
        while j < n && !stop(bytes[j]) {
            j += 1;
        }
        j
    };
    let too_long = || {
        Err(Error::Malformed(format!(
            "a name is longer than {MAX_NAME_LEN} bytes"
        )))
    };
    let mut j = name_len(from, &|b| is_xml_space(b) || b == b'>' || b == b'/');
    if j - from > MAX_NAME_LEN {
        return too_long();
    }
    let (mut attributes, mut declarations, mut quote, mut self_closing) =
        (0usize, 0usize, None, false);
    while j < n {
        let b = bytes[j];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => break,
            None if b == b'/' => self_closing = true,
            None if is_xml_space(b) || b == b'=' => {}
            None => {
                self_closing = false;
                let end = name_len(j, &|c| c == b'=' || is_xml_space(c) || c == b'>');
                if end - j > MAX_NAME_LEN {
                    return too_long();
                }
                attributes += 1;
                if bytes[j..end].starts_with(b"xmlns") {
                    declarations += 1;
                }
                if attributes > MAX_ATTRIBUTES {
                    return Err(Error::Malformed(format!(
                        "an element has more than {MAX_ATTRIBUTES} attributes"
                    )));
                }
                j = end;
                continue;
            }
        }
        j += 1;
    }
    Ok(StartTag {
        declarations,
        self_closing,
        end: j + 1,
    })
}

/// XML's whitespace (the S production), not Unicode's, which includes characters legal in names.
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Every element's and attribute's prefix, as recovered from the source text, must resolve to
/// the namespace the parser gave it: canonicalization writes names from that recovery, so any
/// disagreement would let the bytes verified differ from the names read.
fn check_names(doc: &Document<'_>) -> Result<(), Error> {
    let mismatch = || {
        Err(Error::Malformed(
            "a name's prefix cannot be read back consistently".into(),
        ))
    };
    for node in doc.descendants().filter(|n| n.is_element()) {
        let prefix = element_prefix(doc, node);
        let namespace = node.tag_name().namespace();
        let consistent = match (prefix, namespace) {
            // Unprefixed and in no namespace: nothing to resolve.
            ("", None) => true,
            ("", Some(ns)) => node.lookup_namespace_uri(None) == Some(ns),
            (p, ns) => node.lookup_namespace_uri(Some(p)) == ns,
        };
        if !consistent {
            return mismatch();
        }
        for attribute in node.attributes() {
            let Some(qname) = doc.input_text().get(attribute.range_qname()) else {
                return mismatch();
            };
            let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
            if local != attribute.name() {
                return mismatch();
            }
            let expected = match prefix {
                "" => None,
                "xml" => Some("http://www.w3.org/XML/1998/namespace"),
                p => node.lookup_namespace_uri(Some(p)),
            };
            if expected != attribute.namespace() {
                return mismatch();
            }
        }
    }
    Ok(())
}

/// The value of the attribute `name` in no namespace. (roxmltree's `attribute("x")` also matches
/// `p:x` in any namespace, which would let two readers pick different attributes.)
pub fn attr<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.namespace().is_none() && a.name() == name)
        .map(|a| a.value())
}

/// Trims XML whitespace only: `"admin\u{2003}"` stays distinct from `"admin"`.
pub fn trim(value: &str) -> &str {
    value.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
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
