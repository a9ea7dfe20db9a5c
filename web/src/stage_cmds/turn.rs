//! `parley turn`.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TurnArgs {}

pub fn run(_config: &Config, _args: TurnArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`parley turn` is not built yet")
}
