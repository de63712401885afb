//! `import`: the recommender configurations of an account written as RecommenderModels that
//! adopt them, ready to commit. Reads Pinpoint, writes nothing to it.

use std::{path::PathBuf, process::ExitCode};

use crate::{
    api::DeletionPolicy,
    aws::pinpoint::{Pinpoint, Published},
    cli::AwsArgs,
    domain::{
        import::{Found, Imported, model_from_configuration, object_names},
        validation::RECOMMENDER_REGIONS,
    },
};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Read only this Region; repeatable (default: every Region that offers recommender models).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Namespace of the written models (default: none, so `kubectl apply` uses its own).
    #[arg(long)]
    pub namespace: Option<String>,
    /// deletionPolicy of the written models: Retain leaves the configuration in Pinpoint when
    /// its model is deleted, so committing and reverting an import loses nothing.
    #[arg(long, default_value = "Retain", value_parser = deletion_policy)]
    pub deletion_policy: DeletionPolicy,
    /// Write one file per model into this directory (NAME.yaml) instead of one multi-document
    /// YAML on standard output.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Replace files that already exist in --output-dir.
    #[arg(long)]
    pub overwrite: bool,
}

fn deletion_policy(value: &str) -> Result<DeletionPolicy, String> {
    match value.to_ascii_lowercase().as_str() {
        "retain" => Ok(DeletionPolicy::Retain),
        "delete" => Ok(DeletionPolicy::Delete),
        _ => Err("must be Retain or Delete".to_owned()),
    }
}

/// Exit 0: every configuration written ready to apply; 1: some written with problems to fix
/// (named in comments above them); 2: a Region could not be read or a file not written.
pub async fn import(args: &ImportArgs, pinpoint: &dyn Pinpoint) -> ExitCode {
    let regions: Vec<String> = if args.regions.is_empty() {
        RECOMMENDER_REGIONS
            .iter()
            .map(|r| (*r).to_owned())
            .collect()
    } else {
        args.regions.clone()
    };
    if let Some(dir) = &args.output_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("import: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let mut failed = false;
    let mut imports = Vec::new();
    for region in &regions {
        match pinpoint.list(region).await {
            Ok(found) => {
                eprintln!("import: {region}: {} configurations", found.len());
                imports.extend(found.into_iter().map(|published| {
                    let imported = model_from_configuration(
                        &Found {
                            id: &published.id,
                            region,
                            config: &published.config,
                        },
                        args.namespace.as_deref(),
                        args.deletion_policy,
                    );
                    (region.as_str(), published, imported)
                }));
            }
            Err(e) => {
                eprintln!("import: {region}: cannot list recommender configurations: {e}");
                failed = true;
            }
        }
    }
    imports.sort_by(|(_, a, _), (_, b, _)| (&a.config.name, &a.id).cmp(&(&b.config.name, &b.id)));
    let names = object_names(
        &imports
            .iter()
            .map(|(_, p, _)| (p.config.name.as_str(), p.id.as_str()))
            .collect::<Vec<_>>(),
    );
    let mut written = 0;
    let mut to_fix = 0;
    let mut documents = Vec::new();
    for ((region, published, mut imported), object_name) in imports.into_iter().zip(names) {
        imported.model.metadata.name = Some(object_name.clone());
        let document = match render(&imported, &published, region) {
            Ok(document) => document,
            Err(e) => {
                eprintln!(
                    "import: configuration {} ({}) in {region}: cannot write it as YAML: {e}",
                    published.id, published.config.name
                );
                failed = true;
                continue;
            }
        };
        if !imported.problems.is_empty() {
            to_fix += 1;
            eprintln!(
                "import: configuration {} ({}) in {region}: {} problem(s) to fix before applying {object_name}",
                published.id,
                published.config.name,
                imported.problems.len()
            );
        }
        match &args.output_dir {
            Some(dir) => {
                let path = dir.join(format!("{object_name}.yaml"));
                if path.exists() && !args.overwrite {
                    eprintln!(
                        "import: configuration {} ({}): {} exists; not replaced (--overwrite replaces it)",
                        published.id,
                        published.config.name,
                        path.display()
                    );
                    failed = true;
                    continue;
                }
                if let Err(e) = std::fs::write(&path, document) {
                    eprintln!(
                        "import: configuration {} ({}): cannot write {}: {e}",
                        published.id,
                        published.config.name,
                        path.display()
                    );
                    failed = true;
                    continue;
                }
            }
            None => documents.push(document),
        }
        written += 1;
    }
    if args.output_dir.is_none() {
        print!("{}", documents.join("---\n"));
    }
    eprintln!("import: wrote {written} models, {to_fix} with problems to fix before applying");
    if failed {
        ExitCode::from(2)
    } else if to_fix > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One YAML document: where it came from and what to fix, as comments, then the model.
fn render(
    imported: &Imported,
    published: &Published,
    region: &str,
) -> Result<String, serde_saphyr::SerializeError> {
    let mut text = format!(
        "# Imported from recommender configuration {} ({}) in {region}, created {}.\n",
        published.id, published.config.name, published.creation_date
    );
    if !imported.problems.is_empty() {
        text.push_str(
            "# NOT READY TO APPLY: the operator would refuse this model or change the configuration.\n# Change what each line names, in the model or in Pinpoint:\n",
        );
        for problem in &imported.problems {
            text.push_str(&format!("#   {problem}\n"));
        }
    }
    text.push_str(&serde_saphyr::to_string(&imported.model)?);
    Ok(text)
}
