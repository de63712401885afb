//! The offline `validate` command: RecommenderModels in multi-document YAML files, checked with
//! exactly the controller's rules.

use std::io::Read;

use kube::{CustomResourceExt, ResourceExt};
use serde_json::Value;

use crate::{
    api::{FieldError, GROUP, RecommenderModel},
    domain::validation::validate,
};

/// One problem in one object of one file.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub object: String,
    pub error: FieldError,
}

/// Why a file could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not valid YAML: {0}")]
    Yaml(String),
}

/// Reads a path, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, ReadError> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        Ok(std::fs::read_to_string(path)?)
    }
}

/// One RecommenderModel document of a file: `NAMESPACE/NAME` and the object, or the problems
/// that kept it from being read as one.
pub struct Document {
    pub object: String,
    pub model: Result<RecommenderModel, Vec<FieldError>>,
}

/// Every RecommenderModel in `text`, in order; other kinds are skipped.
pub fn read_models(text: &str) -> Result<Vec<Document>, ReadError> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| ReadError::Yaml(e.to_string()))?;
    let schema = model_schema();
    let mut models = Vec::new();
    for document in documents {
        let is_model = document.get("kind").and_then(|k| k.as_str()) == Some("RecommenderModel")
            && document
                .get("apiVersion")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.starts_with(&format!("{GROUP}/")));
        if !is_model {
            continue;
        }
        let object = format!(
            "{}/{}",
            document
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str())
                .unwrap_or("default"),
            document
                .pointer("/metadata/name")
                .and_then(|v| v.as_str())
                .unwrap_or("<unnamed>"),
        );
        // Missing fields are named at their own paths, all of them, as the API server does;
        // serde would stop at the first and name only its parent.
        let mut missing = Vec::new();
        missing_required(&schema, &document, "", &mut missing);
        let model = if missing.is_empty() {
            serde_path_to_error::deserialize::<_, RecommenderModel>(document).map_err(|e| {
                vec![FieldError {
                    field: e.path().to_string(),
                    message: e.inner().to_string(),
                }]
            })
        } else {
            Err(missing)
        };
        models.push(Document { object, model });
    }
    Ok(models)
}

/// Every problem in every RecommenderModel in `text`; other kinds are skipped.
pub fn check_documents(text: &str) -> Result<Vec<Finding>, ReadError> {
    let mut findings = Vec::new();
    for Document { object, model } in read_models(text)? {
        let errors = match model {
            Ok(model) => validate(&model.spec, &model.name_any()),
            Err(errors) => errors,
        };
        findings.extend(errors.into_iter().map(|error| Finding {
            object: object.clone(),
            error,
        }));
    }
    Ok(findings)
}

/// The CRD's OpenAPI schema, as JSON.
fn model_schema() -> Value {
    RecommenderModel::crd()
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| serde_json::to_value(&s.open_api_v3_schema).ok())
        .unwrap_or_default()
}

/// Every field the schema requires that `value` lacks, as `PATH: Required value`.
fn missing_required(schema: &Value, value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(fields) => {
            let required = schema.get("required").and_then(Value::as_array);
            for key in required.into_iter().flatten().filter_map(Value::as_str) {
                if fields.get(key).is_none_or(Value::is_null) {
                    out.push(FieldError {
                        field: child(key),
                        message: "Required value".to_owned(),
                    });
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, sub) in properties.into_iter().flatten() {
                if let Some(v) = fields.get(key) {
                    missing_required(sub, v, &child(key), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    missing_required(sub, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}
