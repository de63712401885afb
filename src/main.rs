//! The command line: `run` (the operator, `cli::run`), `crd`, `validate`, `import` and `plan`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kube::CustomResourceExt;
use recommender_operator::{
    api::RecommenderModel,
    cli::{
        import::{ImportArgs, import},
        plan::{PlanArgs, plan},
        run::{RunArgs, run},
        validate as files,
    },
};

/// A Kubernetes operator for Amazon Pinpoint recommender models.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Check RecommenderModels in YAML files offline, with the controller's rules.
    Validate {
        /// Files with one or more YAML documents; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Write the recommender configurations of an account as RecommenderModels that adopt them.
    Import(ImportArgs),
    /// Show what applying RecommenderModels would change in Pinpoint, without changing it.
    Plan(PlanArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => match serde_saphyr::to_string(&RecommenderModel::crd()) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Validate { files } => validate(&files),
        Command::Run(args) => {
            let _telemetry = match args.init_telemetry() {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("error: cannot set up tracing: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            block_on(async move {
                run(*args).await.map_err(|e| tracing::error!("{e:#}"))?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Import(args) => block_on(async move {
            let pinpoint = args.aws.pinpoint().await;
            Ok(import(&args, &pinpoint).await)
        }),
        Command::Plan(args) => block_on(async move {
            let pinpoint = args.aws.pinpoint().await;
            Ok(plan(&args, &pinpoint).await)
        }),
    }
}

/// Runs `work` on a one-thread runtime: the work is waiting on the API server and AWS, and a
/// single thread spares the wake-ups across threads that a multi-threaded runtime pays for every
/// event (measured by the convergence benchmark). `Err` is a failure already reported.
fn block_on(work: impl Future<Output = Result<ExitCode, ()>>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work).unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Exit 0: all valid; 1: any invalid; 2: a file could not be read or parsed.
fn validate(paths: &[String]) -> ExitCode {
    let mut invalid = false;
    let mut unreadable = false;
    for path in paths {
        match files::read_input(path).and_then(|text| files::check_documents(&text)) {
            Ok(findings) => {
                for f in &findings {
                    println!(
                        "{path}: {}: {}: {}",
                        f.object, f.error.field, f.error.message
                    );
                }
                invalid |= !findings.is_empty();
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                unreadable = true;
            }
        }
    }
    match (unreadable, invalid) {
        (true, _) => ExitCode::from(2),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    }
}
