//! `plan`: what applying models would do in Pinpoint, like `terraform plan`. Reads Pinpoint (and
//! with --kubeconfig the models' status in the cluster), writes nothing.

use std::{path::PathBuf, process::ExitCode};

use kube::{Api, ResourceExt};

use crate::{
    api::{ADOPT_CONFIGURATION_ID, FieldError, RecommenderModel},
    aws::pinpoint::Pinpoint,
    cli::{
        AwsArgs, role_path,
        validate::{Document, read_input, read_models},
    },
    domain::{
        arn::{region_of, role_name},
        desired::desired_configuration,
        plan::{Action, Recorded, decide, lookup},
        validation::validate,
    },
    pipeline::role::expected_arn,
};

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Files with one or more YAML documents; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Also read the models already in this cluster (their status names their configurations).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The operator's --role-path, for models with spec.role.create.
    #[arg(long, default_value = "/recommender-operator/", value_parser = role_path)]
    pub role_path: String,
}

/// The tally printed last.
#[derive(Default)]
struct Tally {
    create: usize,
    update: usize,
    moved: usize,
    unchanged: usize,
    invalid: usize,
}

/// What the cluster knows: a client, and which model manages each configuration ID.
struct Cluster {
    client: kube::Client,
    claims: std::collections::HashMap<String, String>,
}

/// Exit 0: no change; 2: applying would change Pinpoint; 1: a model is invalid, cannot be
/// applied, or could not be read.
pub async fn plan(args: &PlanArgs, pinpoint: &dyn Pinpoint) -> ExitCode {
    let cluster = match &args.kubeconfig {
        Some(path) => match cluster(path).await {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                eprintln!("plan: cannot use the kubeconfig {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let mut tally = Tally::default();
    for path in &args.files {
        let documents = match read_input(path).and_then(|text| read_models(&text)) {
            Ok(documents) => documents,
            Err(e) => {
                eprintln!("{path}: {e}");
                tally.invalid += 1;
                continue;
            }
        };
        for Document { object, model } in documents {
            match model {
                Ok(model) => match step(args, pinpoint, cluster.as_ref(), &model).await {
                    Ok(action) => {
                        match &action {
                            a if a.fails() => tally.invalid += 1,
                            Action::NoChange { .. } => tally.unchanged += 1,
                            Action::Update { .. } => tally.update += 1,
                            Action::Create { .. } => tally.create += 1,
                            Action::Move { .. } => tally.moved += 1,
                            _ => tally.invalid += 1,
                        }
                        println!("{object}: {action}");
                    }
                    Err(Problem::Invalid(errors)) => {
                        tally.invalid += 1;
                        println!("{object}: {}", invalid(&errors));
                    }
                    Err(Problem::Unreadable(message)) => {
                        tally.invalid += 1;
                        eprintln!("{object}: {message}");
                    }
                },
                Err(errors) => {
                    tally.invalid += 1;
                    println!("{object}: {}", invalid(&errors));
                }
            }
        }
    }
    println!(
        "Plan: {} to create, {} to update, {} to move, {} unchanged, {} invalid.",
        tally.create, tally.update, tally.moved, tally.unchanged, tally.invalid
    );
    if tally.invalid > 0 {
        ExitCode::from(1)
    } else if tally.create + tally.update + tally.moved > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Why a model has no plan.
enum Problem {
    Invalid(Vec<FieldError>),
    /// The cluster or Pinpoint could not be read.
    Unreadable(String),
}

/// The step applying one model would take.
async fn step(
    args: &PlanArgs,
    pinpoint: &dyn Pinpoint,
    cluster: Option<&Cluster>,
    model: &RecommenderModel,
) -> Result<Action, Problem> {
    let name = model.name_any();
    let errors = validate(&model.spec, &name);
    if !errors.is_empty() {
        return Err(Problem::Invalid(errors));
    }
    let spec = &model.spec;
    let (status, key) = match cluster {
        Some(cluster) => {
            let namespace = model
                .namespace()
                .unwrap_or_else(|| cluster.client.default_namespace().to_owned());
            let api: Api<RecommenderModel> = Api::namespaced(cluster.client.clone(), &namespace);
            let found = api.get_opt(&name).await.map_err(|e| {
                Problem::Unreadable(format!("cannot read the model from the cluster: {e}"))
            })?;
            (found.and_then(|m| m.status), format!("{namespace}/{name}"))
        }
        None => (None, String::new()),
    };
    let role_arn = match (&spec.role.arn, &spec.role.create) {
        (Some(arn), _) => arn.clone(),
        (None, create) => {
            let role = create.as_ref().map(|c| c.name.as_str()).unwrap_or_default();
            // The role the operator made for it, wherever its --role-path put it.
            status
                .as_ref()
                .and_then(|s| s.role_arn.clone())
                .filter(|arn| role_name(arn) == role)
                .unwrap_or_else(|| expected_arn(&spec.campaign_arn, &args.role_path, role))
        }
    };
    // Validation guarantees a campaign ARN with a Region.
    let region = region_of(&spec.campaign_arn).unwrap_or_default();
    let desired = desired_configuration(spec, &name, &role_arn);
    let recorded = status.as_ref().and_then(|s| {
        Some(Recorded {
            id: s.configuration_id.as_deref()?,
            region: s.region.as_deref()?,
        })
    });
    let adopt = model
        .annotations()
        .get(ADOPT_CONFIGURATION_ID)
        .map(String::as_str);
    let target = lookup(recorded, adopt, region);
    let found = match target {
        Some(id) => pinpoint
            .get_fresh(region, id)
            .await
            .map_err(|e| {
                Problem::Unreadable(format!("cannot read configuration {id} in {region}: {e}"))
            })?
            .map(|p| p.config),
        None => None,
    };
    let claimed_by = target
        .zip(cluster)
        .and_then(|(id, c)| c.claims.get(id))
        .filter(|owner| **owner != key)
        .map(String::as_str);
    Ok(decide(
        &desired,
        region,
        recorded,
        adopt,
        found.as_ref(),
        claimed_by,
    ))
}

fn invalid(errors: &[FieldError]) -> String {
    let mut line = "invalid".to_owned();
    for e in errors {
        line.push_str(&format!("\n    {}: {}", e.field, e.message));
    }
    line
}

/// A client for the kubeconfig's cluster, and every model's claim there.
async fn cluster(path: &std::path::Path) -> anyhow::Result<Cluster> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let all: Api<RecommenderModel> = Api::all(client.clone());
    let claims = all
        .list(&Default::default())
        .await?
        .into_iter()
        .filter_map(|m| {
            let id = m.status.as_ref()?.configuration_id.clone()?;
            Some((
                id,
                format!("{}/{}", m.namespace().unwrap_or_default(), m.name_any()),
            ))
        })
        .collect();
    Ok(Cluster { client, claims })
}
