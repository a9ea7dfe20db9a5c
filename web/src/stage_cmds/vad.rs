//! `parley vad`.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct VadArgs {}

pub fn run(_config: &Config, _args: VadArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`parley vad` is not built yet")
}
