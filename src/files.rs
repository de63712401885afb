//! The offline `validate` command: RecommenderModels in multi-document YAML files, checked with
//! exactly the controller's rules.

use std::io::Read;

use kube::ResourceExt;

use crate::{
    api::{FieldError, GROUP, RecommenderModel},
    validation::validate,
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

/// Every problem in every RecommenderModel in `text`; other kinds are skipped.
pub fn check_documents(text: &str) -> Result<Vec<Finding>, ReadError> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| ReadError::Yaml(e.to_string()))?;
    let mut findings = Vec::new();
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
        match serde_path_to_error::deserialize::<_, RecommenderModel>(document) {
            Ok(model) => findings.extend(validate(&model.spec, &model.name_any()).into_iter().map(
                |error| Finding {
                    object: object.clone(),
                    error,
                },
            )),
            Err(e) => findings.push(Finding {
                object,
                error: FieldError {
                    field: e.path().to_string(),
                    message: e.inner().to_string(),
                },
            }),
        }
    }
    Ok(findings)
}
