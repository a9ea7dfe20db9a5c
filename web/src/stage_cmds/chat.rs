//! `parley chat`.

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct ChatArgs {}

pub fn run(_config: &Config, _args: ChatArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`parley chat` is not built yet")
}
