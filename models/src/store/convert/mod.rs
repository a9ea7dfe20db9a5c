//! Format conversions run by the store after a verified fetch. Each writes its outputs atomically
//! (`<name>.tmp` then rename) into the model's folder.

mod ct2_whisper;
mod gguf_tokenizer;

pub use ct2_whisper::{Ct2Model, Ct2Variable, convert_ct2_whisper};
pub use gguf_tokenizer::{tokenizer_json_from_gguf, tokenizer_json_from_metadata};

use std::path::Path;

use super::Conversion;

/// Runs one conversion in `dir`. Errors are messages for [`super::StoreError::Convert`].
pub(crate) fn run(conv: &Conversion, dir: &Path) -> Result<(), String> {
    match conv {
        Conversion::Ct2Whisper { input, ct2_config } => {
            convert_ct2_whisper(&dir.join(input), &dir.join(ct2_config), dir)
        }
        Conversion::GgufTokenizer { input } => {
            let json = tokenizer_json_from_gguf(&dir.join(input))?;
            write_atomic(&dir.join("tokenizer.json"), json.as_bytes())
        }
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {}: {e}", tmp.display()))
}
