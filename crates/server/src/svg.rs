//! SVG logos (seed 003: "SVG, at most 25 KB"), rebuilt from an allow-list so that what is
//! stored and served can run nothing and fetch nothing: no script, no event handlers, no
//! `foreignObject`, no style sheets or `style` attributes (CSS can fetch, e.g. through
//! `image-set()`), no reference outside the document. `use` and `symbol` are left out too:
//! nested references multiply the work of drawing a small file without bound, and for the same
//! reason a mask or clip path may not itself be masked or clipped. Paint values are a colour,
//! `rgb()`/`hsl()` or a reference inside the document: presentation attributes are parsed as CSS,
//! and CSS has other functions that fetch. Anything else (an editor's metadata, say) is left
//! out rather than refused.

use std::fmt::Write;

/// Largest logo accepted, in bytes.
pub const MAX_BYTES: usize = 25 * 1024;

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "defs",
    "linearGradient",
    "radialGradient",
    "stop",
    "title",
    "desc",
    "clipPath",
    "mask",
];

const ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "d",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "width",
    "height",
    "viewBox",
    "preserveAspectRatio",
    "points",
    "transform",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "opacity",
    "clip-path",
    "clip-rule",
    "mask",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
    "dominant-baseline",
    "letter-spacing",
    "dx",
    "dy",
    "href",
    "version",
    "display",
    "visibility",
    "color",
    "clipPathUnits",
    "maskUnits",
];

/// Why a logo was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    NotSvg(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLarge => write!(f, "the logo is larger than 25 KB"),
            Refusal::NotSvg(why) => write!(f, "the logo is not an SVG document: {why}"),
        }
    }
}

/// Attributes whose value is a paint (or a reference to a paint server, mask or clip path).
const PAINTS: &[&str] = &["fill", "stroke", "stop-color", "color", "clip-path", "mask"];

/// The CSS functions a paint may use (`url` only with a `#` reference).
const PAINT_FUNCTIONS: &[&str] = &["url", "rgb", "rgba", "hsl", "hsla"];

/// Whether a paint value is a colour keyword, a hex colour, `rgb()`/`hsl()`, or `url(#id)`
/// (with an optional fallback colour), and nothing else.
fn plain_paint(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let charset_ok = lower
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " #%.,-_()\t".contains(c));
    if !charset_ok {
        return false;
    }
    let bytes = lower.as_bytes();
    lower.match_indices('(').all(|(open, _)| {
        let start = lower[..open]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |i| i + 1);
        let function = &lower[start..open];
        PAINT_FUNCTIONS.contains(&function)
            && (function != "url" || bytes.get(open + 1) == Some(&b'#'))
    })
}

/// A value that points outside the document, or could run something.
fn unsafe_value(value: &str) -> bool {
    let lower: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    lower.contains("javascript:")
        || lower.contains("data:")
        || lower.contains("@import")
        || lower.contains("expression(")
        || lower.contains("\\")
        || lower.match_indices("url(").any(|(i, _)| {
            !lower[i + 4..]
                .trim_start_matches(['"', '\''])
                .starts_with('#')
        })
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Writes `node` if allowed; `in_mask` says an ancestor is a mask or clip path.
fn write_node(node: roxmltree::Node<'_, '_>, in_mask: bool, out: &mut String) {
    if node.is_text() {
        escape(node.text().unwrap_or_default(), out);
        return;
    }
    if !node.is_element() {
        return;
    }
    let name = node.tag_name();
    if name.namespace() != Some(SVG_NS) || !ELEMENTS.contains(&name.name()) {
        return;
    }
    out.push('<');
    out.push_str(name.name());
    if name.name() == "svg" && node.parent_element().is_none() {
        let _ = write!(out, " xmlns=\"{SVG_NS}\"");
    }
    // `href` and `xlink:href` both name the same reference: only the first is kept, so the
    // output never carries the attribute twice (which is not well-formed XML).
    let mut wrote_href = false;
    for attr in node.attributes() {
        let local = attr.name();
        let allowed = match attr.namespace() {
            None => ATTRIBUTES.contains(&local),
            Some(XLINK_NS) => local == "href",
            Some(_) => false,
        };
        let value = attr.value();
        let reference_ok = local != "href" || value.starts_with('#');
        let paint_ok = !PAINTS.contains(&local) || plain_paint(value);
        let nested_mask = in_mask && (local == "mask" || local == "clip-path");
        if !allowed
            || !reference_ok
            || !paint_ok
            || nested_mask
            || unsafe_value(value)
            || (local == "href" && wrote_href)
        {
            continue;
        }
        wrote_href |= local == "href";
        let _ = write!(out, " {local}=\"");
        escape(value, out);
        out.push('"');
    }
    out.push('>');
    let in_mask = in_mask || matches!(name.name(), "mask" | "clipPath");
    for child in node.children() {
        write_node(child, in_mask, out);
    }
    let _ = write!(out, "</{}>", name.name());
}

/// The logo rebuilt from what is allowed; refused when too large or not an SVG document.
pub fn sanitize(input: &str) -> Result<String, Refusal> {
    if input.len() > MAX_BYTES {
        return Err(Refusal::TooLarge);
    }
    // DTDs (and with them entity expansion) are refused by roxmltree's default options.
    let doc = roxmltree::Document::parse(input).map_err(|e| Refusal::NotSvg(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(SVG_NS) || root.tag_name().name() != "svg" {
        return Err(Refusal::NotSvg(
            "its root element is not <svg> in the SVG namespace".into(),
        ));
    }
    let mut out = String::with_capacity(input.len());
    write_node(root, false, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "xmlns=\"http://www.w3.org/2000/svg\"";

    #[test]
    fn a_plain_logo_survives() {
        let svg = format!("<svg {NS} viewBox=\"0 0 10 10\"><title>Acme</title><rect width=\"10\" height=\"10\" fill=\"#123\"/></svg>");
        let clean = sanitize(&svg).unwrap();
        assert!(clean.contains("<rect width=\"10\" height=\"10\" fill=\"#123\"></rect>"));
        assert!(clean.contains("<title>Acme</title>"));
    }

    #[test]
    fn scripts_handlers_and_outside_references_are_left_out() {
        let svg = format!(
            "<svg {NS} xmlns:xlink=\"http://www.w3.org/1999/xlink\" onload=\"alert(1)\">\
             <script>alert(1)</script>\
             <foreignObject><iframe xmlns=\"http://www.w3.org/1999/xhtml\" src=\"https://evil\"/></foreignObject>\
             <image href=\"https://evil/x.png\"/>\
             <use xlink:href=\"https://evil/sprite.svg#a\"/><use href=\"#ok\"/>\
             <rect style=\"fill:url(https://evil/p)\" fill=\"url(#grad)\"/>\
             <a href=\"javascript:alert(1)\"><rect/></a>\
             <style>@import url(https://evil)</style></svg>"
        );
        let clean = sanitize(&svg).unwrap();
        for bad in [
            "script",
            "onload",
            "foreignObject",
            "iframe",
            "image",
            "evil",
            "javascript",
            "style>",
            "<a",
        ] {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        assert!(!clean.contains("<use"), "{clean}");
        assert!(clean.contains("fill=\"url(#grad)\""));
    }

    #[test]
    fn style_attributes_and_nested_references_are_left_out() {
        let svg = format!(
            "<svg {NS}><defs><symbol id=\"s\"><rect/></symbol></defs>\
             <rect style=\"fill: image-set('https://evil/x.png' 1x)\" width=\"1\"/>\
             <use href=\"#s\"/></svg>"
        );
        let clean = sanitize(&svg).unwrap();
        for bad in ["style", "evil", "symbol", "<use"] {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        assert!(clean.contains("<rect width=\"1\">"));
    }

    #[test]
    fn a_reference_is_written_once_and_the_result_parses() {
        let svg = format!(
            "<svg {NS} xmlns:xlink=\"http://www.w3.org/1999/xlink\">\
             <linearGradient id=\"a\"><stop offset=\"0\"/></linearGradient>\
             <linearGradient id=\"b\" href=\"#a\" xlink:href=\"#a\"/></svg>"
        );
        let clean = sanitize(&svg).unwrap();
        assert_eq!(clean.matches("href=").count(), 1, "{clean}");
        roxmltree::Document::parse(&clean).expect("the sanitized logo is well-formed");
    }

    #[test]
    fn paints_are_colours_or_inner_references_and_masks_do_not_nest() {
        let svg = format!(
            "<svg {NS}>\
             <rect fill=\"image(&quot;https://evil/x.png&quot;)\" stroke=\"rgb(1, 2, 3)\"/>\
             <rect fill=\"src(x)\" stroke=\"var(--x)\" stop-color=\"hsl(10 20% 30%)\"/>\
             <rect fill=\"url(#g) red\" stroke=\"url( https://evil)\" color=\"#0a0b0c\"/>\
             <mask id=\"m\"><rect mask=\"url(#m)\" clip-path=\"url(#c)\" fill=\"white\"/></mask>\
             <clipPath id=\"c\"><g clip-path=\"url(#c)\"><rect/></g></clipPath>\
             <rect mask=\"url(#m)\" width=\"2\"/></svg>"
        );
        let clean = sanitize(&svg).unwrap();
        for bad in ["evil", "image(", "src(", "var(", "url(#c)"] {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        for good in [
            "stroke=\"rgb(1, 2, 3)\"",
            "stop-color=\"hsl(10 20% 30%)\"",
            "fill=\"url(#g) red\"",
            "color=\"#0a0b0c\"",
            "<rect fill=\"white\"></rect>",
            "<rect mask=\"url(#m)\" width=\"2\">",
        ] {
            assert!(clean.contains(good), "{good} missing from {clean}");
        }
    }

    #[test]
    fn large_non_svg_and_dtd_documents_are_refused() {
        assert_eq!(sanitize(&"x".repeat(MAX_BYTES + 1)), Err(Refusal::TooLarge));
        assert!(matches!(sanitize("<html/>"), Err(Refusal::NotSvg(_))));
        assert!(matches!(sanitize("not xml"), Err(Refusal::NotSvg(_))));
        let bomb = format!("<!DOCTYPE svg [<!ENTITY a \"aaaa\">]><svg {NS}>&a;</svg>");
        assert!(matches!(sanitize(&bomb), Err(Refusal::NotSvg(_))));
    }
}
