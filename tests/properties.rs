//! Property tests: validation and YAML parsing never panic, whatever the input, and validation
//! agrees with itself.

use proptest::prelude::*;
use recommender_operator::{
    api::{Attribute, LambdaProcessing, ModelValue, Processing, RecommenderModelSpec, RoleSource},
    cli::validate::check_documents,
    domain::validation::validate,
};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,140}",
        "[A-Za-z0-9 _.;(),:/@+=-]{0,80}",
        Just("arn:aws:personalize:us-east-1:123456789012:campaign/movies".to_owned()),
        Just("arn:aws:lambda:us-west-2:123456789012:function:enrich".to_owned()),
        Just("Recommendations.".to_owned()),
    ]
}

prop_compose! {
    fn spec()(
        name in proptest::option::of(text()),
        description in proptest::option::of(text()),
        arn in proptest::option::of(text()),
        create in proptest::option::of(text()),
        campaign in text(),
        per_message in any::<i32>(),
        display in proptest::option::of(text()),
        lambda in proptest::option::of((text(), proptest::collection::vec((text(), text()), 0..13))),
    ) -> RecommenderModelSpec {
        RecommenderModelSpec {
            name,
            description,
            role: RoleSource { arn, create: create.map(|name| recommender_operator::api::RoleCreate { name }) },
            campaign_arn: campaign,
            identifier: Default::default(),
            recommendations_per_message: per_message,
            processing: Processing {
                model_value: display.map(|display_name| ModelValue { display_name }),
                lambda: lambda.map(|(function, attributes)| LambdaProcessing {
                    function,
                    attributes: attributes.into_iter().map(|(name, display_name)| Attribute { name, display_name }).collect(),
                }),
            },
            deletion_policy: Default::default(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn validation_never_panics_and_every_error_names_a_spec_field(spec in spec(), object_name in text()) {
        let errors = validate(&spec, &object_name);
        for e in &errors {
            prop_assert!(e.field.starts_with("spec."), "{}", e.field);
            prop_assert!(!e.message.is_empty());
        }
        // Pure: the same input gives the same answer.
        prop_assert_eq!(validate(&spec, &object_name), errors);
    }

    #[test]
    fn yaml_parsing_never_panics(input in "\\PC{0,400}") {
        let _ = check_documents(&input);
    }

    #[test]
    fn yaml_that_looks_like_a_model_never_panics(body in "[ a-zA-Z0-9:{}\\[\\],\\n\\-\"'.]{0,300}") {
        let input = format!("apiVersion: pinpoint.recommenders.dev/v1alpha1\nkind: RecommenderModel\nmetadata: {{name: x}}\nspec:\n{body}");
        let _ = check_documents(&input);
    }
}
