//! `parley models ...`: the model store from the command line.

use anyhow::{Context, Result};
use parley_models::store::{FetchOptions, Manifest, ModelStore, PipClient, Progress};

use crate::cli::{ManifestArg, ModelsCommand};
use crate::config::Config;

fn open_store(config: &Config, manifest: &ManifestArg) -> Result<ModelStore> {
    let manifest = match &manifest.manifest {
        Some(path) => Manifest::load(path)?,
        None => Manifest::default_cpu(),
    };
    let pip = PipClient::new(config.models.python.clone(), config.models.pip_args.clone());
    Ok(ModelStore::new(config.models_dir(), manifest).with_pip(pip))
}

/// Runs one models subcommand; returns the process exit code.
pub fn run(config: &Config, command: ModelsCommand) -> Result<i32> {
    match command {
        ModelsCommand::Fetch(args) => {
            let store = open_store(config, &args.manifest)?;
            eprintln!("model store: {}", store.root().display());
            let options = FetchOptions { only: args.only, keep_downloads: args.keep_downloads };
            let report = store.fetch(&options, &Progress::auto()).context("parley models fetch failed")?;
            println!("{report}");
            Ok(0)
        }
        ModelsCommand::Verify(manifest) => {
            let store = open_store(config, &manifest)?;
            let problems = store.verify(&Progress::auto())?;
            if problems.is_empty() {
                println!("all models in {} verified", store.root().display());
                Ok(0)
            } else {
                for p in &problems {
                    println!("{p}");
                }
                eprintln!("{} problem(s); `parley models fetch` repairs them", problems.len());
                Ok(1)
            }
        }
        ModelsCommand::List(manifest) => {
            let store = open_store(config, &manifest)?;
            println!("store: {}", store.root().display());
            println!("{:<20} {:<12} {:>9}  {:<8} {:<40} licence", "id", "stage", "size", "present", "name");
            for m in store.list() {
                println!(
                    "{:<20} {:<12} {:>9}  {:<8} {:<40} {}",
                    m.id,
                    m.stage,
                    human(m.size),
                    if m.present { "yes" } else { "no" },
                    m.name,
                    m.licence
                );
            }
            Ok(0)
        }
        ModelsCommand::Path { model, manifest } => {
            let store = open_store(config, &manifest)?;
            match model {
                Some(id) => println!("{}", store.model_dir(&id)?.display()),
                None => println!("{}", store.root().display()),
            }
            Ok(0)
        }
    }
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} KB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}
