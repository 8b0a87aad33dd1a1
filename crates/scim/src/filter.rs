//! The SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH path grammar (§3.5.2).
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER        ; "and" binds tighter than "or"
//! compValue = false / null / true / number / string     ; JSON literals
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! PATH      = attrPath / valuePath [subAttr]
//! ```
//!
//! Operators and keywords are case-insensitive. Real clients put more than one space between
//! tokens and spaces inside parentheses; both are accepted. Nesting is limited
//! ([`MAX_DEPTH`]) before parsing, so hostile input cannot exhaust the stack.

use winnow::ascii::{multispace0, multispace1, Caseless};
use winnow::combinator::{alt, cut_err, delimited, eof, opt, preceded, repeat, terminated};
use winnow::error::{ContextError, ErrMode, StrContext};
use winnow::prelude::*;
use winnow::token::{one_of, take_while};

use crate::{Error, ScimType};

/// Deepest nesting of parentheses and brackets accepted.
pub const MAX_DEPTH: usize = 16;
/// Longest filter or path accepted, in bytes.
pub const MAX_LEN: usize = 4096;

/// An attribute path: optional schema URN, attribute name, optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path is qualified (`urn:…:User:userName`).
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison value: a JSON literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path[filter]`: some element of the multi-valued `path` matches `filter`, whose paths
    /// are relative to that element.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// A PATCH operation's `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// `emails[type eq "work"]`: the elements the operation applies to.
    pub filter: Option<Filter>,
    /// `emails[type eq "work"].value`: the sub-attribute of those elements.
    pub sub: Option<String>,
}

type In<'i> = &'i str;

fn name<'i>(input: &mut In<'i>) -> ModalResult<&'i str> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '$'),
        take_while(0.., |c: char| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        }),
    )
        .take()
        .parse_next(input)
}

/// `[URI ":"] ATTRNAME *1subAttr`. A URN is recognised by its `urn:` prefix; it ends at the last
/// `:` before the attribute name (URNs contain dots, as in `…:enterprise:2.0:User`).
fn attr_path(input: &mut In<'_>) -> ModalResult<AttrPath> {
    let token: &str = take_while(1.., |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_' | '$')
    })
    .context(StrContext::Label("attribute path"))
    .parse_next(input)?;
    parse_attr_token(token).ok_or_else(|| ErrMode::Cut(ContextError::new()))
}

fn parse_attr_token(token: &str) -> Option<AttrPath> {
    let (urn, rest) = if token.len() > 4 && token[..4].eq_ignore_ascii_case("urn:") {
        let cut = token.rfind(':')?;
        (Some(token[..cut].to_string()), &token[cut + 1..])
    } else {
        (None, token)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let valid = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
        return None;
    }
    Some(AttrPath {
        urn,
        name: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

fn compare_op(input: &mut In<'_>) -> ModalResult<CompareOp> {
    alt((
        Caseless("eq").value(CompareOp::Eq),
        Caseless("ne").value(CompareOp::Ne),
        Caseless("co").value(CompareOp::Co),
        Caseless("sw").value(CompareOp::Sw),
        Caseless("ew").value(CompareOp::Ew),
        Caseless("gt").value(CompareOp::Gt),
        Caseless("ge").value(CompareOp::Ge),
        Caseless("lt").value(CompareOp::Lt),
        Caseless("le").value(CompareOp::Le),
    ))
    .parse_next(input)
}

/// A JSON string literal, escapes included.
fn string_literal(input: &mut In<'_>) -> ModalResult<String> {
    let raw: &str = (
        '"',
        repeat::<_, _, (), _, _>(
            0..,
            alt((
                preceded('\\', one_of(|_| true)).void(),
                one_of(|c| c != '"' && c != '\\').void(),
            )),
        ),
        '"',
    )
        .take()
        .parse_next(input)?;
    serde_json::from_str(raw).map_err(|_| ErrMode::Cut(ContextError::new()))
}

fn number_literal(input: &mut In<'_>) -> ModalResult<serde_json::Number> {
    let raw: &str = (
        opt('-'),
        take_while(1.., |c: char| c.is_ascii_digit()),
        opt(('.', take_while(1.., |c: char| c.is_ascii_digit()))),
        opt((
            one_of(['e', 'E']),
            opt(one_of(['+', '-'])),
            take_while(1.., |c: char| c.is_ascii_digit()),
        )),
    )
        .take()
        .parse_next(input)?;
    serde_json::from_str(raw).map_err(|_| ErrMode::Cut(ContextError::new()))
}

fn comp_value(input: &mut In<'_>) -> ModalResult<CompValue> {
    alt((
        string_literal.map(CompValue::String),
        Caseless("true").value(CompValue::Bool(true)),
        Caseless("false").value(CompValue::Bool(false)),
        Caseless("null").value(CompValue::Null),
        number_literal.map(CompValue::Number),
    ))
    .context(StrContext::Label("comparison value"))
    .parse_next(input)
}

/// A keyword followed by a space (so `and` does not match the start of `android`).
fn keyword<'i>(word: &'static str) -> impl Parser<In<'i>, (), ErrMode<ContextError>> {
    (multispace1, Caseless(word), multispace1).void()
}

fn or_expr(input: &mut In<'_>) -> ModalResult<Filter> {
    let first = and_expr(input)?;
    let rest: Vec<Filter> =
        repeat(0.., preceded(keyword("or"), cut_err(and_expr))).parse_next(input)?;
    Ok(rest
        .into_iter()
        .fold(first, |acc, f| Filter::Or(Box::new(acc), Box::new(f))))
}

fn and_expr(input: &mut In<'_>) -> ModalResult<Filter> {
    let first = unary(input)?;
    let rest: Vec<Filter> =
        repeat(0.., preceded(keyword("and"), cut_err(unary))).parse_next(input)?;
    Ok(rest
        .into_iter()
        .fold(first, |acc, f| Filter::And(Box::new(acc), Box::new(f))))
}

fn parenthesized(input: &mut In<'_>) -> ModalResult<Filter> {
    delimited(
        ('(', multispace0),
        cut_err(or_expr),
        cut_err((multispace0, ')')),
    )
    .parse_next(input)
}

fn unary(input: &mut In<'_>) -> ModalResult<Filter> {
    alt((
        preceded((Caseless("not"), multispace0), cut_err(parenthesized))
            .map(|f| Filter::Not(Box::new(f))),
        parenthesized,
        attribute_expression,
    ))
    .parse_next(input)
}

fn attribute_expression(input: &mut In<'_>) -> ModalResult<Filter> {
    let path = attr_path(input)?;
    if let Some(inner) = opt(delimited(
        ('[', multispace0),
        cut_err(or_expr),
        cut_err((multispace0, ']')),
    ))
    .parse_next(input)?
    {
        return Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        });
    }
    multispace1.parse_next(input)?;
    if opt(terminated(
        Caseless("pr"),
        winnow::combinator::not(one_of(|c: char| c.is_ascii_alphanumeric())),
    ))
    .parse_next(input)?
    .is_some()
    {
        return Ok(Filter::Present(path));
    }
    let op = cut_err(compare_op.context(StrContext::Label("operator"))).parse_next(input)?;
    multispace1.parse_next(input)?;
    let value = cut_err(comp_value).parse_next(input)?;
    Ok(Filter::Compare { path, op, value })
}

/// Refuses input longer than [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`] (counted outside
/// string literals) before the recursive parser sees it.
fn check_shape(input: &str, what: ScimType) -> Result<(), Error> {
    if input.len() > MAX_LEN {
        return Err(Error::new(
            ScimType::TooMany,
            format!("the {} is longer than {MAX_LEN} bytes", noun(what)),
        ));
    }
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for c in input.chars() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, '(' | '[') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, ')' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if max > MAX_DEPTH {
        return Err(Error::new(
            what,
            format!("the {} nests deeper than {MAX_DEPTH} levels", noun(what)),
        ));
    }
    Ok(())
}

fn noun(what: ScimType) -> &'static str {
    if what == ScimType::InvalidPath {
        "path"
    } else {
        "filter"
    }
}

/// Where parsing stopped, for the error message.
fn failure(original: &str, rest: &str, what: ScimType) -> Error {
    let at = original.len() - rest.len();
    let near: String = rest.chars().take(20).collect();
    let message = if rest.is_empty() {
        format!("the {} {original:?} ends too early", noun(what))
    } else {
        format!("the {} {original:?} is not valid at position {at} (near {near:?}); see RFC 7644 §3.4.2.2", noun(what))
    };
    Error::new(what, message)
}

/// Parses a `filter` query parameter (or `.search` body field).
pub fn parse_filter(text: &str) -> Result<Filter, Error> {
    check_shape(text, ScimType::InvalidFilter)?;
    let mut input = text.trim();
    let trimmed = input;
    match terminated(or_expr, (multispace0, eof)).parse_next(&mut input) {
        Ok(filter) => Ok(filter),
        Err(_) => Err(failure(trimmed, input, ScimType::InvalidFilter)),
    }
}

/// Parses a PATCH operation's `path`: `attrPath` or `valuePath [subAttr]`.
pub fn parse_path(text: &str) -> Result<PatchPath, Error> {
    check_shape(text, ScimType::InvalidPath)?;
    let mut input = text.trim();
    let trimmed = input;
    let mut path = (
        attr_path,
        opt((
            delimited(
                ('[', multispace0),
                cut_err(or_expr),
                cut_err((multispace0, ']')),
            ),
            opt(preceded('.', name)),
        )),
        eof,
    );
    match path.parse_next(&mut input) {
        Ok((attr, None, _)) => Ok(PatchPath {
            attr,
            filter: None,
            sub: None,
        }),
        Ok((attr, Some((filter, sub)), _)) => {
            if attr.sub.is_some() {
                return Err(Error::new(
                    ScimType::InvalidPath,
                    format!(
                        "the path {trimmed:?} filters a sub-attribute; filter the attribute itself"
                    ),
                ));
            }
            Ok(PatchPath {
                attr,
                filter: Some(filter),
                sub: sub.map(str::to_string),
            })
        }
        Err(_) => Err(failure(trimmed, input, ScimType::InvalidPath)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    fn eq(p: AttrPath, v: &str) -> Filter {
        Filter::Compare {
            path: p,
            op: CompareOp::Eq,
            value: CompValue::String(v.into()),
        }
    }

    #[test]
    fn rfc_7644_examples_parse() {
        for f in [
            r#"userName Eq "john""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ] {
            parse_filter(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn structure_and_precedence() {
        assert_eq!(
            parse_filter(r#"userName eq "bjensen""#).unwrap(),
            eq(path("userName"), "bjensen")
        );
        // "and" binds tighter than "or".
        let f = parse_filter(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq(path("a"), "1")),
                Box::new(Filter::And(
                    Box::new(eq(path("b"), "2")),
                    Box::new(eq(path("c"), "3"))
                ))
            )
        );
        let f = parse_filter(r#"emails[type eq "work"]"#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(eq(path("type"), "work"))
            }
        );
        let f = parse_filter(r#"NOT ( active eq true )"#).unwrap();
        assert!(matches!(f, Filter::Not(_)));
    }

    #[test]
    fn urns_values_and_case() {
        let f = parse_filter(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#).unwrap();
        let Filter::Compare { path, .. } = f else {
            panic!()
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (path.name.as_str(), path.sub.as_deref()),
            ("manager", Some("value"))
        );
        assert!(matches!(
            parse_filter("active EQ TRUE").unwrap(),
            Filter::Compare {
                value: CompValue::Bool(true),
                ..
            }
        ));
        assert!(matches!(
            parse_filter("x eq null").unwrap(),
            Filter::Compare {
                value: CompValue::Null,
                ..
            }
        ));
        assert!(matches!(
            parse_filter("x gt -1.5e3").unwrap(),
            Filter::Compare {
                value: CompValue::Number(_),
                ..
            }
        ));
        let Filter::Compare {
            value: CompValue::String(s),
            ..
        } = parse_filter(r#"x eq "a\"b\\c\u00e9""#).unwrap()
        else {
            panic!()
        };
        assert_eq!(s, "a\"b\\cé");
        // Extra spaces, as clients send them.
        assert!(parse_filter(r#"  userName   eq   "x"  "#).is_ok());
        // A name that starts with a keyword is a name.
        assert!(parse_filter(r#"android eq "x" and order pr"#).is_ok());
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for f in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName eq john"#,
            r#"userName equals "john""#,
            r#"userName eq "john" and"#,
            r#"(userName eq "john""#,
            r#"emails[type eq "work""#,
            r#"userName eq "unterminated"#,
            r#"1abc eq "x""#,
            r#"userName eq "x" or 1=1 --"#,
            r#"userName eq "x"; DROP TABLE users"#,
            r#"a..b eq "x""#,
        ] {
            let e = parse_filter(f).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidFilter, "{f}");
        }
    }

    #[test]
    fn hostile_nesting_and_length_are_refused_before_parsing() {
        let deep = format!("{}a eq \"x\"{}", "(".repeat(1_000), ")".repeat(1_000));
        assert_eq!(
            parse_filter(&deep).unwrap_err().scim_type,
            ScimType::InvalidFilter
        );
        let long = format!("a eq \"{}\"", "x".repeat(10_000));
        assert_eq!(
            parse_filter(&long).unwrap_err().scim_type,
            ScimType::TooMany
        );
        // Parentheses inside strings do not count.
        assert!(parse_filter(&format!("a eq \"{}\"", "(".repeat(100))).is_ok());
    }

    #[test]
    fn patch_paths() {
        assert_eq!(
            parse_path("name.givenName").unwrap().attr.sub.as_deref(),
            Some("givenName")
        );
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(
            (p.attr.name.as_str(), p.sub.as_deref()),
            ("emails", Some("value"))
        );
        assert_eq!(p.filter, Some(eq(path("type"), "work")));
        let p = parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
        assert!(p.filter.is_some() && p.sub.is_none());
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap();
        assert_eq!(p.attr.name, "manager");
        for bad in [
            "",
            "emails[",
            "emails[type eq \"work\"]x",
            "name.givenName[type eq \"x\"]",
            "a b",
        ] {
            assert_eq!(
                parse_path(bad).unwrap_err().scim_type,
                ScimType::InvalidPath,
                "{bad}"
            );
        }
    }
}
