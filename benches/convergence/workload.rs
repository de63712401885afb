//! The workload: the models, the namespaces they are applied in (one, or one per account), and
//! the benchmark's applies.

use std::{
    collections::{BTreeMap, HashMap},
    time::Instant,
};

use anyhow::{Context as _, Result, bail, ensure};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Client,
    api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::GroupVersionKind,
};
use serde_json::{Value, json};

use crate::{
    accounts::{Account, OWN_ACCOUNT, campaign_arn, role_arn},
    bench::Bench,
    support::cluster::ControlPlane,
};

pub const GROUP: &str = "pinpoint.recommenders.dev";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "RecommenderModel";
const PLURAL: &str = "recommendermodels";
/// Field manager of the benchmark's own applies.
pub const BENCH_MANAGER: &str = "convergence-bench";
/// Requests in flight while the benchmark applies the models.
pub const APPLY_PARALLELISM: usize = 16;
/// The label on the operator runs' namespaces, which the finalizer policy's binding selects: the
/// limit's models get no finalizer, as they need none.
pub const OPERATOR_NAMESPACE_LABEL: &[(&str, &str)] = &[("convergence-bench/operator", "true")];

pub async fn kube_client(plane: &ControlPlane) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(&plane.kubeconfig).context("read the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("load the kubeconfig")?;
    Client::try_from(config).context("build the Kubernetes client")
}

/// One namespace of a run, and the account its models publish into.
pub struct Tenant {
    pub namespace: String,
    /// The further account the namespace is bound to; `None`: the operator's own.
    pub account: Option<Account>,
    pub api: Api<DynamicObject>,
}

impl Tenant {
    pub fn account_id(&self) -> &str {
        self.account.as_ref().map_or(OWN_ACCOUNT, |a| &a.id)
    }
}

/// A model and the tenant (an index into `Spread::tenants`) it is applied in.
pub struct Placed {
    pub tenant: usize,
    pub name: String,
}

/// One run's models and namespaces. Names are unique across the run's namespaces, so the
/// benchmark's watch keeps one entry per name.
pub struct Spread {
    /// The run's name: its namespace with one account, its namespaces' prefix with more.
    pub label: String,
    pub tenants: Vec<Tenant>,
    /// Every model in apply order (`model-00000` first), dealt round-robin over the tenants.
    pub models: Vec<Placed>,
}

impl Spread {
    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn tenant(&self, placed: &Placed) -> &Tenant {
        &self.tenants[placed.tenant]
    }

    /// The model as the benchmark applies it.
    pub fn object(&self, placed: &Placed) -> Value {
        let tenant = self.tenant(placed);
        model(&tenant.namespace, &placed.name, tenant.account_id())
    }
}

impl Bench {
    fn models(&self, namespace: &str) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, KIND);
        let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
        Api::namespaced_with(self.client.clone(), namespace, &resource)
    }

    /// Creates the namespaces of run `label` (`label` itself with one account, `label-1` ... with
    /// more, the k-th bound to the k-th account) and places `n` models in them.
    pub async fn spread(&self, label: &str, n: usize, labels: &[(&str, &str)]) -> Result<Spread> {
        let tenants: Vec<Tenant> = if self.accounts.is_empty() {
            vec![Tenant {
                namespace: label.to_owned(),
                account: None,
                api: self.models(label),
            }]
        } else {
            self.accounts
                .iter()
                .enumerate()
                .map(|(k, account)| {
                    let namespace = format!("{label}-{}", k + 1);
                    Tenant {
                        api: self.models(&namespace),
                        namespace,
                        account: Some(account.clone()),
                    }
                })
                .collect()
        };
        for tenant in &tenants {
            self.create_namespace(&tenant.namespace, labels).await?;
        }
        let models = model_names(n)
            .into_iter()
            .enumerate()
            .map(|(i, name)| Placed {
                tenant: i % tenants.len(),
                name,
            })
            .collect();
        Ok(Spread {
            label: label.to_owned(),
            tenants,
            models,
        })
    }

    async fn create_namespace(&self, name: &str, labels: &[(&str, &str)]) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
        match api.create(&PostParams::default(), &namespace).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                bail!("namespace {name} already exists on this fresh control plane")
            }
            Err(e) => Err(e).with_context(|| format!("create namespace {name}")),
        }
    }
}

fn model_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("model-{i:05}")).collect()
}

/// A valid model, the README's example, with its role and campaign in `account`.
pub fn model(namespace: &str, name: &str, account: &str) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "description": "Weekly picks",
            "role": {"arn": role_arn(account)},
            "campaignArn": campaign_arn(account),
            "identifier": "EndpointId",
            "recommendationsPerMessage": 3,
            "processing": {"modelValue": {"displayName": "Top movies"}},
            "deletionPolicy": "Delete",
        },
    })
}

/// Server-side applies every model, `parallel` requests at a time; returns when each apply was
/// sent and answered. Each answered apply sends the model's index in `spread.models`.
pub async fn apply_models(
    spread: &Spread,
    parallel: usize,
    applied: Option<futures::channel::mpsc::UnboundedSender<usize>>,
) -> Result<HashMap<String, (Instant, Instant)>> {
    let params = PatchParams::apply(BENCH_MANAGER);
    let results: Vec<_> = futures::stream::iter(spread.models.iter().enumerate())
        .map(|(index, placed)| {
            let object = spread.object(placed);
            let api = spread.tenant(placed).api.clone();
            let (name, params, applied) = (placed.name.clone(), params.clone(), applied.clone());
            async move {
                let start = Instant::now();
                let result = api.patch(&name, &params, &Patch::Apply(&object)).await;
                if let (Ok(_), Some(applied)) = (&result, &applied) {
                    // The receiver lives until every apply is answered.
                    let _ = applied.unbounded_send(index);
                }
                (name, start, Instant::now(), result)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut times = HashMap::new();
    let mut failures = Vec::new();
    for (name, start, end, result) in results {
        match result {
            Ok(_) => {
                times.insert(name, (start, end));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} applies failed, first: {}",
        failures.len(),
        spread.len(),
        failures[0]
    );
    Ok(times)
}
