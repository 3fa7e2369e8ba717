//! The `mistake-cost` binary: parse arguments, run the command, map errors
//! to the documented exit codes.

use clap::Parser;
use mistake_cost::cli::{Cli, Command};
use mistake_cost::{commands, error};

fn main() {
    // Attach the built-in approaches' implementations once, up front.
    mistake_cost::approach::registry();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MISTAKE_COST_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                error::exit::BAD_INPUT
            } else {
                error::exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => commands::run(args).await,
            Command::Explore(args) => commands::explore(args).await,
            Command::Images { action, engine } => commands::images(action, &engine).await,
            Command::Clean { engine } => commands::clean(&engine).await,
            Command::Validate(args) => commands::validate(args),
            Command::Schema => {
                println!("{}", mistake_cost::scenario::json_schema());
                Ok(mistake_cost::error::exit::OK)
            }
            Command::Study(args) => commands::study(args).await,
            Command::Findings { study_dir, check } => {
                mistake_cost::report::summary::findings_command(&study_dir, check.as_deref())
            }
            Command::Summary { study_dir } => mistake_cost::report::summary::summary_command(&study_dir),
            Command::Report { run_dir, format } => mistake_cost::report::command(&run_dir, &format),
            Command::Verify(args) => commands::verify(args).await,
            Command::Compare {
                base_run,
                new_run,
                out,
            } => mistake_cost::compare::command(&base_run, &new_run, out.as_deref()),
        }
    });
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
