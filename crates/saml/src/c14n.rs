//! Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), with and
//! without comments, over an element's subtree in the parsed tree, optionally leaving out one
//! descendant (the enveloped-signature transform). The input is the same tree the rest of the
//! crate reads; the output bytes are what digests and signatures are computed over.
//!
//! Written by hand because no maintained Rust crate canonicalizes a roxmltree subtree; the rules
//! are short and are checked against vectors made by libxml2 and xmlsec1 (tests/fixtures/c14n).

use std::collections::BTreeMap;

use roxmltree::{Document, Node, NodeId, NodeType};

use crate::xml::{attribute_prefix, element_prefix};

/// Algorithm URIs.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// What to canonicalize and how.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Keep comments (the `#WithComments` variant).
    pub with_comments: bool,
    /// The `InclusiveNamespaces PrefixList`: prefixes treated as in inclusive c14n (`#default`
    /// for the default namespace).
    pub inclusive_prefixes: Vec<&'a str>,
    /// A descendant to leave out with its subtree (the enveloped Signature).
    pub exclude: Option<NodeId>,
}

/// Namespace declarations rendered by output ancestors, innermost last: (prefix or "" for the
/// default, URI). Small, so a vector searched from the end beats a map cloned per element.
type Rendered<'a> = Vec<(&'a str, &'a str)>;

fn rendered_uri<'a>(rendered: &Rendered<'a>, prefix: &str) -> Option<&'a str> {
    rendered
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
}

/// Canonicalizes the subtree rooted at `apex` (an element) into bytes.
pub fn canonicalize<'a, 'i: 'a>(
    doc: &'a Document<'i>,
    apex: Node<'a, 'i>,
    options: &Options<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.input_text().len().min(64 * 1024));
    let rendered = Rendered::new();
    element(doc, apex, options, &rendered, &mut out);
    out
}

/// Canonicalizes the whole document, including comments and processing instructions outside
/// the document element.
pub fn canonicalize_document(doc: &Document<'_>, options: &Options<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let rendered = Rendered::new();
    let mut seen_root = false;
    for child in doc.root().children() {
        match child.node_type() {
            NodeType::Element => {
                element(doc, child, options, &rendered, &mut out);
                seen_root = true;
            }
            NodeType::Comment if options.with_comments => {
                if seen_root {
                    out.push(b'\n');
                }
                comment(child, &mut out);
                if !seen_root {
                    out.push(b'\n');
                }
            }
            NodeType::PI => {
                if seen_root {
                    out.push(b'\n');
                }
                processing_instruction(child, &mut out);
                if !seen_root {
                    out.push(b'\n');
                }
            }
            _ => {}
        }
    }
    out
}

fn element<'a, 'i: 'a>(
    doc: &'a Document<'i>,
    node: Node<'a, 'i>,
    options: &Options<'_>,
    parent: &Rendered<'a>,
    out: &mut Vec<u8>,
) {
    if Some(node.id()) == options.exclude {
        return;
    }
    let prefix = element_prefix(doc, node);
    let mut declarations: BTreeMap<&'a str, &'a str> = BTreeMap::new();

    // Visibly utilized: the element's own prefix, and the prefixes of its attributes.
    let mut utilized: Vec<(&'a str, &'a str)> =
        vec![(prefix, node.tag_name().namespace().unwrap_or(""))];
    for attr in node.attributes() {
        let p = attribute_prefix(doc, &attr);
        if !p.is_empty() && p != "xml" {
            utilized.push((p, attr.namespace().unwrap_or("")));
        }
    }
    // Prefixes of the InclusiveNamespaces list are rendered whenever in scope.
    for ns in node.namespaces() {
        let p = ns.name().unwrap_or("");
        let listed = options
            .inclusive_prefixes
            .iter()
            .any(|l| *l == p || (p.is_empty() && *l == "#default"));
        if listed {
            utilized.push((p, ns.uri()));
        }
    }
    for (p, uri) in utilized {
        let already = declarations
            .get(p)
            .copied()
            .or_else(|| rendered_uri(parent, p));
        let needed = match already {
            Some(current) => current != uri,
            // An empty default namespace needs no declaration unless one was rendered above.
            None => !(p.is_empty() && uri.is_empty()),
        };
        if needed {
            declarations.insert(p, uri);
        }
    }
    let extended;
    let rendered = if declarations.is_empty() {
        parent
    } else {
        extended = parent
            .iter()
            .copied()
            .chain(declarations.iter().map(|(p, u)| (*p, *u)))
            .collect::<Rendered>();
        &extended
    };

    out.push(b'<');
    write_qname(out, prefix, node.tag_name().name());
    for (p, uri) in &declarations {
        if p.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attribute(uri, out);
        out.push(b'"');
    }
    let mut attrs: Vec<_> = node.attributes().collect();
    attrs.sort_by(|a, b| {
        (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name()))
    });
    for attr in attrs {
        out.push(b' ');
        write_qname(out, attribute_prefix(doc, &attr), attr.name());
        out.extend_from_slice(b"=\"");
        escape_attribute(attr.value(), out);
        out.push(b'"');
    }
    out.push(b'>');
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => element(doc, child, options, rendered, out),
            NodeType::Text => escape_text(child.text().unwrap_or(""), out),
            NodeType::Comment if options.with_comments => comment(child, out),
            NodeType::PI => processing_instruction(child, out),
            _ => {}
        }
    }
    out.extend_from_slice(b"</");
    write_qname(out, prefix, node.tag_name().name());
    out.push(b'>');
}

fn write_qname(out: &mut Vec<u8>, prefix: &str, local: &str) {
    if !prefix.is_empty() {
        out.extend_from_slice(prefix.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

fn comment(node: Node<'_, '_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<!--");
    out.extend_from_slice(node.text().unwrap_or("").as_bytes());
    out.extend_from_slice(b"-->");
}

fn processing_instruction(node: Node<'_, '_>, out: &mut Vec<u8>) {
    if let Some(pi) = node.pi() {
        out.extend_from_slice(b"<?");
        out.extend_from_slice(pi.target.as_bytes());
        if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
            out.push(b' ');
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(b"?>");
    }
}

fn escape_text(text: &str, out: &mut Vec<u8>) {
    escape(text, out, |b| match b {
        b'&' => Some(&b"&amp;"[..]),
        b'<' => Some(&b"&lt;"[..]),
        b'>' => Some(&b"&gt;"[..]),
        b'\r' => Some(&b"&#xD;"[..]),
        _ => None,
    });
}

fn escape_attribute(value: &str, out: &mut Vec<u8>) {
    escape(value, out, |b| match b {
        b'&' => Some(&b"&amp;"[..]),
        b'<' => Some(&b"&lt;"[..]),
        b'"' => Some(&b"&quot;"[..]),
        b'\t' => Some(&b"&#x9;"[..]),
        b'\n' => Some(&b"&#xA;"[..]),
        b'\r' => Some(&b"&#xD;"[..]),
        _ => None,
    });
}

/// Copies `text`, replacing the bytes `replace` maps. Every mapped byte is ASCII, so runs
/// between them are whole UTF-8 sequences and are copied as they are.
fn escape(text: &str, out: &mut Vec<u8>, replace: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = text.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        if let Some(with) = replace(*b) {
            out.extend_from_slice(&bytes[run..i]);
            out.extend_from_slice(with);
            run = i + 1;
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    fn c14n(xml: &str, with_comments: bool) -> String {
        let doc = parse(xml.as_bytes(), Limits::default()).unwrap();
        let options = Options {
            with_comments,
            ..Options::default()
        };
        String::from_utf8(canonicalize(&doc, doc.root_element(), &options)).unwrap()
    }

    fn c14n_subtree(xml: &str, local: &str, prefixes: Vec<&str>) -> String {
        let doc = parse(xml.as_bytes(), Limits::default()).unwrap();
        let node = doc
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == local)
            .unwrap();
        let options = Options {
            inclusive_prefixes: prefixes,
            ..Options::default()
        };
        String::from_utf8(canonicalize(&doc, node, &options)).unwrap()
    }

    #[test]
    fn w3c_exc_c14n_section_2_2_example() {
        // The two documents of the specification's example: an inclusive canonicalization of
        // n1:elem2 differs between them, the exclusive one does not.
        let first = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        let second = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:foo="bar"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
        let expected = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#;
        assert_eq!(c14n_subtree(first, "elem2", vec![]), expected);
        assert_eq!(c14n_subtree(second, "elem2", vec![]), expected);
    }

    #[test]
    fn declarations_follow_use_not_source() {
        let xml = r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u"><a:c b:x="1" y="2"/></a:r>"#;
        assert_eq!(
            c14n(xml, false),
            r#"<a:r xmlns:a="urn:a"><a:c xmlns:b="urn:b" y="2" b:x="1"></a:c></a:r>"#
        );
        // The subtree brings the ancestor's declarations it uses, and only those.
        assert_eq!(
            c14n_subtree(xml, "c", vec![]),
            r#"<a:c xmlns:a="urn:a" xmlns:b="urn:b" y="2" b:x="1"></a:c>"#
        );
        // An inclusive prefix is rendered though unused.
        assert_eq!(
            c14n_subtree(xml, "c", vec!["unused"]),
            r#"<a:c xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u" y="2" b:x="1"></a:c>"#
        );
    }

    #[test]
    fn default_namespace_and_undeclaration() {
        let xml = r#"<r xmlns="urn:d"><c xmlns=""><d/></c><e/></r>"#;
        assert_eq!(
            c14n(xml, false),
            r#"<r xmlns="urn:d"><c xmlns=""><d></d></c><e></e></r>"#
        );
        // No default rendered above: no xmlns="" needed.
        assert_eq!(c14n(r#"<r><c xmlns=""/></r>"#, false), "<r><c></c></r>");
    }

    #[test]
    fn escaping_comments_and_instructions() {
        let xml = "<r a=\"&lt;&amp;&quot;&#9;&#10;&#13;&gt;\">x &amp; &lt; &gt; &#13;<![CDATA[<y>]]><!-- c --><?pi data?></r>";
        assert_eq!(
            c14n(xml, false),
            "<r a=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>\">x &amp; &lt; &gt; &#xD;&lt;y&gt;<?pi data?></r>"
        );
        assert!(c14n(xml, true).contains("<!-- c -->"));
    }

    #[test]
    fn attributes_sort_by_namespace_then_name() {
        let xml = r#"<r xmlns:z="urn:a" xmlns:a="urn:z" b="1" a:c="2" z:d="3" a="4"/>"#;
        assert_eq!(
            c14n(xml, false),
            r#"<r xmlns:a="urn:z" xmlns:z="urn:a" a="4" b="1" z:d="3" a:c="2"></r>"#
        );
    }

    #[test]
    fn an_excluded_descendant_leaves_no_trace() {
        let xml = r#"<r ID="x"><s><t/></s><u/></r>"#;
        let doc = parse(xml.as_bytes(), Limits::default()).unwrap();
        let s = doc.descendants().find(|n| n.has_tag_name("s")).unwrap();
        let options = Options {
            exclude: Some(s.id()),
            ..Options::default()
        };
        assert_eq!(
            String::from_utf8(canonicalize(&doc, doc.root_element(), &options)).unwrap(),
            r#"<r ID="x"><u></u></r>"#
        );
    }
}
