//! `parley say`.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct SayArgs {}

pub fn run(_config: &Config, _args: SayArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`parley say` is not built yet")
}
