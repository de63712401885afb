//! The validation table against the Rust rules and against the CRD's CEL rules, evaluated
//! locally. The same table runs against a real API server in `e2e.rs`.

mod support;

use std::collections::BTreeSet;

use recommender_operator::{api::RecommenderModel, domain::validation::validate};
use support::table::cases;

#[test]
fn rust_rules_name_exactly_the_expected_fields() {
    let mut failures = Vec::new();
    for case in cases() {
        let model: RecommenderModel = serde_json::from_value(case.object.clone())
            .unwrap_or_else(|e| panic!("case {:?} does not deserialize: {e}", case.name));
        let errors = validate(
            &model.spec,
            model.metadata.name.as_deref().unwrap_or_default(),
        );
        for e in &errors {
            assert!(
                !e.message.is_empty(),
                "case {:?}: empty message for {}",
                case.name,
                e.field
            );
        }
        let fields: BTreeSet<String> = errors.into_iter().map(|e| e.field).collect();
        if fields != case.errors {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.errors, fields
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "Rust rules disagree with the table:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cel_rules_name_exactly_the_expected_fields() {
    let mut failures = Vec::new();
    for case in cases() {
        let model: RecommenderModel = serde_json::from_value(case.object.clone())
            .unwrap_or_else(|e| panic!("case {:?} does not deserialize: {e}", case.name));
        let fields: BTreeSet<String> = match model.validate_cel() {
            Ok(()) => BTreeSet::new(),
            Err(errors) => errors
                .as_slice()
                .iter()
                .inspect(|e| {
                    assert!(
                        !e.message.is_empty(),
                        "case {:?}: empty CEL message",
                        case.name
                    )
                })
                .map(|e| e.field_path.trim_start_matches('.').to_owned())
                .collect(),
        };
        if fields != case.cel_errors {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.cel_errors, fields
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "CEL rules disagree with the table:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_both_outcomes_and_every_rule_family() {
    let all = cases();
    assert!(all.iter().filter(|c| c.is_valid()).count() >= 10);
    assert!(all.iter().filter(|c| !c.is_valid()).count() >= 25);
    let named: BTreeSet<String> = all.iter().flat_map(|c| c.errors.iter().cloned()).collect();
    for field in [
        "spec.name",
        "spec.description",
        "spec.role",
        "spec.role.arn",
        "spec.role.create.name",
        "spec.campaignArn",
        "spec.recommendationsPerMessage",
        "spec.processing",
        "spec.processing.modelValue.displayName",
        "spec.processing.lambda.function",
        "spec.processing.lambda.attributes",
        "spec.processing.lambda.attributes[0].name",
        "spec.processing.lambda.attributes[0].displayName",
    ] {
        assert!(named.contains(field), "no case names {field}");
    }
}
