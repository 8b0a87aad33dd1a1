//! Exclusive c14n against vectors produced by libxml2 (lxml) and cross-checked with xmlsec1:
//! tests/fixtures/c14n/NN-name.{input.xml,json,expected.xml}.

mod common;

use lanyard_saml::c14n::{canonicalize, canonicalize_document, Options};
use lanyard_saml::xml::{parse, Limits};

#[test]
fn every_vector_matches() {
    let dir = common::dir().join("c14n");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    assert!(
        names.len() >= 12,
        "expected at least 12 vectors, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for name in &names {
        let input = std::fs::read(dir.join(format!("{name}.input.xml"))).unwrap();
        let expected = std::fs::read_to_string(dir.join(format!("{name}.expected.xml"))).unwrap();
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let doc = parse(&input, Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let prefixes: Vec<&str> = spec["inclusive_prefixes"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
            .unwrap_or_default();
        let options = Options {
            with_comments: spec["with_comments"].as_bool().unwrap_or(false),
            inclusive_prefixes: prefixes,
            exclude: None,
        };
        let actual = match spec["subtree_id"].as_str() {
            Some(id) => {
                let node = doc
                    .descendants()
                    .find(|n| {
                        ["ID", "Id", "id"]
                            .iter()
                            .any(|a| n.attribute(*a) == Some(id))
                    })
                    .unwrap_or_else(|| panic!("{name}: no element with id {id}"));
                canonicalize(&doc, node, &options)
            }
            None => canonicalize_document(&doc, &options),
        };
        let actual = String::from_utf8(actual).unwrap();
        if actual != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
