//! Who may read `/metrics`, decided as controller-runtime's `--metrics-secure` does: the scrape's
//! bearer token is checked with a TokenReview, and its user authorised with a SubjectAccessReview
//! for `get` on the non-resource URL `/metrics` (the chart's `metrics-reader` ClusterRole grants
//! it). Metrics name every model and its reason, which tenants of a shared cluster must not read
//! from each other; a NetworkPolicy alone would still let any pod in an allowed namespace in.

use axum::http::{HeaderMap, StatusCode, header};
use k8s_openapi::api::{
    authentication::v1::{TokenReview, TokenReviewSpec},
    authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
};
use kube::{Api, Client, api::PostParams};

/// The path and verb a scraper must be allowed.
const PATH: &str = "/metrics";
const VERB: &str = "get";

/// Checks scrapes against the API server.
#[derive(Clone)]
pub struct ScrapeAuth {
    client: Client,
}

/// Why a scrape is refused: the status to answer and a message for the scraper.
pub type Refusal = (StatusCode, String);

impl ScrapeAuth {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// `Ok` when the request's token is valid and its user may `get` `/metrics`; 401 without a
    /// valid token, 403 without the right, 500 when the API server cannot answer.
    pub async fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let token = bearer_token(headers).ok_or((
            StatusCode::UNAUTHORIZED,
            "a bearer token is required".to_owned(),
        ))?;
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| unavailable("TokenReview", &e))?;
        let status = reviewed.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => user,
            _ => {
                return Err((
                    StatusCode::UNAUTHORIZED,
                    "the bearer token is not valid".to_owned(),
                ));
            }
        };
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                uid: user.uid,
                groups: user.groups,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(PATH.to_owned()),
                    verb: Some(VERB.to_owned()),
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let decided = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await
            .map_err(|e| unavailable("SubjectAccessReview", &e))?;
        if decided.status.is_some_and(|s| s.allowed) {
            Ok(())
        } else {
            Err((
                StatusCode::FORBIDDEN,
                format!(
                    "{} may not {VERB} {PATH} (bind it to the metrics-reader ClusterRole)",
                    user.username.unwrap_or_default()
                ),
            ))
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unavailable(what: &str, e: &kube::Error) -> Refusal {
    tracing::warn!(error = %e, "{what} for a metrics scrape failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the scrape could not be authorised: {what} failed"),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_a_bearer_token_counts() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc.def"),
        );
        assert_eq!(bearer_token(&headers), Some("abc.def"));
    }
}
