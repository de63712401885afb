//! `plan`: what applying models would do in Pinpoint, like `terraform plan`. Reads Pinpoint (and
//! with --kubeconfig the models' status in the cluster), writes nothing.

use std::{path::PathBuf, process::ExitCode};

use kube::{Api, ResourceExt};

use crate::{
    api::{ADOPT_CONFIGURATION_ID, RecommenderModel},
    aws::pinpoint::Pinpoint,
    cli::{
        AwsArgs, role_path,
        validate::{Document, read_input, read_models},
    },
    domain::{
        arn::region_of,
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

/// Exit 0: no change; 2: applying would change Pinpoint; 1: a model is invalid, cannot be
/// applied, or could not be read.
pub async fn plan(args: &PlanArgs, pinpoint: &dyn Pinpoint) -> ExitCode {
    let cluster = match &args.kubeconfig {
        Some(path) => match cluster(path).await {
            Ok(client) => Some(client),
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
            let line = match model {
                Ok(model) => step(args, pinpoint, cluster.as_ref(), &model, &mut tally).await,
                Err(errors) => {
                    tally.invalid += 1;
                    invalid(&errors)
                }
            };
            println!("{object}: {line}");
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

/// The plan line of one model, counted in `tally`.
async fn step(
    args: &PlanArgs,
    pinpoint: &dyn Pinpoint,
    cluster: Option<&kube::Client>,
    model: &RecommenderModel,
    tally: &mut Tally,
) -> String {
    let name = model.name_any();
    let errors = validate(&model.spec, &name);
    if !errors.is_empty() {
        tally.invalid += 1;
        return invalid(&errors);
    }
    let spec = &model.spec;
    let role_arn = match (&spec.role.arn, &spec.role.create) {
        (Some(arn), _) => arn.clone(),
        (None, create) => expected_arn(
            &spec.campaign_arn,
            &args.role_path,
            create.as_ref().map(|c| c.name.as_str()).unwrap_or_default(),
        ),
    };
    // Validation guarantees a campaign ARN with a Region.
    let region = region_of(&spec.campaign_arn).unwrap_or_default();
    let desired = desired_configuration(spec, &name, &role_arn);
    let status = match cluster {
        Some(client) => {
            let namespace = model
                .namespace()
                .unwrap_or_else(|| client.default_namespace().to_owned());
            let api: Api<RecommenderModel> = Api::namespaced(client.clone(), &namespace);
            match api.get_opt(&name).await {
                Ok(found) => found.and_then(|m| m.status),
                Err(e) => {
                    tally.invalid += 1;
                    return format!("cannot read the model from the cluster: {e}");
                }
            }
        }
        None => None,
    };
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
    let found = match lookup(recorded, adopt, region) {
        Some(id) => match pinpoint.get(region, id).await {
            Ok(found) => found.map(|p| p.config),
            Err(e) => {
                tally.invalid += 1;
                return format!("cannot read configuration {id} in {region}: {e}");
            }
        },
        None => None,
    };
    let action = decide(&desired, region, recorded, adopt, found.as_ref());
    match &action {
        Action::NoChange { .. } => tally.unchanged += 1,
        Action::Update { .. } => tally.update += 1,
        Action::Create { .. } => tally.create += 1,
        Action::Move { .. } => tally.moved += 1,
        Action::AdoptMissing { .. } => tally.invalid += 1,
    }
    action.to_string()
}

fn invalid(errors: &[crate::api::FieldError]) -> String {
    let mut line = "invalid".to_owned();
    for e in errors {
        line.push_str(&format!("\n    {}: {}", e.field, e.message));
    }
    line
}

async fn cluster(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}
