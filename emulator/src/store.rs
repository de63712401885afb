//! The configurations, per Region, in creation order.

use serde::Serialize;
use serde_json::{Value, json};

use crate::rules::ConfigurationBody;

/// One stored configuration.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub id: String,
    pub region: String,
    pub creation_date: String,
    pub last_modified_date: String,
    pub configuration: ConfigurationBody,
}

impl Stored {
    /// The `RecommenderConfigurationResponse` the service returns.
    pub fn response(&self) -> Value {
        let mut value = serde_json::to_value(&self.configuration).unwrap_or_else(|_| json!({}));
        value["Id"] = json!(self.id);
        value["CreationDate"] = json!(self.creation_date);
        value["LastModifiedDate"] = json!(self.last_modified_date);
        // The service fills in its documented defaults.
        if value.get("RecommendationProviderIdType").is_none() {
            value["RecommendationProviderIdType"] = json!("PINPOINT_ENDPOINT_ID");
        }
        if value.get("RecommendationsPerMessage").is_none() {
            value["RecommendationsPerMessage"] = json!(5);
        }
        value
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Default)]
pub struct Store {
    items: Vec<Stored>,
}

impl Store {
    pub fn count(&self, region: &str) -> usize {
        self.items.iter().filter(|s| s.region == region).count()
    }

    pub fn insert(&mut self, region: &str, configuration: ConfigurationBody) -> Stored {
        let now = now();
        let stored = Stored {
            id: uuid::Uuid::new_v4().simple().to_string(),
            region: region.to_owned(),
            creation_date: now.clone(),
            last_modified_date: now,
            configuration,
        };
        self.items.push(stored.clone());
        stored
    }

    pub fn get(&self, region: &str, id: &str) -> Option<&Stored> {
        self.items.iter().find(|s| s.region == region && s.id == id)
    }

    pub fn in_region(&self, region: &str) -> Vec<&Stored> {
        self.items.iter().filter(|s| s.region == region).collect()
    }

    pub fn replace(
        &mut self,
        region: &str,
        id: &str,
        configuration: ConfigurationBody,
    ) -> Option<Stored> {
        let stored = self
            .items
            .iter_mut()
            .find(|s| s.region == region && s.id == id)?;
        stored.configuration = configuration;
        stored.last_modified_date = now();
        Some(stored.clone())
    }

    pub fn remove(&mut self, region: &str, id: &str) -> Option<Stored> {
        let index = self
            .items
            .iter()
            .position(|s| s.region == region && s.id == id)?;
        Some(self.items.remove(index))
    }

    pub fn all(&self) -> &[Stored] {
        &self.items
    }
}
