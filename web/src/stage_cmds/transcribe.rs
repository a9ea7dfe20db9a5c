//! `parley transcribe`.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TranscribeArgs {}

pub fn run(_config: &Config, _args: TranscribeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`parley transcribe` is not built yet")
}
