//! One-shot commands that run a single stage model on a file or a prompt: for people trying a model and
//! for checks. Each loads the model from the store named by the configuration.

pub mod audio;
pub mod chat;
pub mod say;
pub mod transcribe;
pub mod turn;
pub mod vad;

use parley_models::store::{Manifest, ModelStore, PipClient};

use crate::config::Config;

/// The model store named by the configuration, with the built-in default manifest.
pub fn model_store(config: &Config) -> ModelStore {
    let pip = PipClient::new(config.models.python.clone(), config.models.pip_args.clone());
    ModelStore::new(config.models_dir(), Manifest::default_cpu()).with_pip(pip)
}
