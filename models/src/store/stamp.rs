//! Records of converted files: which converter wrote them, from which inputs, with which checksums. A
//! conversion is redone when its record is missing, its converter or inputs changed, or an output changed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use super::{ModelEntry, StoreError, hash::sha256_file};

const STAMP_FILE: &str = ".derived.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stamps {
    /// Keyed by converter name.
    conversions: BTreeMap<String, Record>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Record {
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
}

fn load(dir: &Path) -> Stamps {
    std::fs::read(dir.join(STAMP_FILE)).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

/// Derived files of `model` that are missing or do not match their record.
pub(crate) fn stale_outputs(dir: &Path, model: &ModelEntry) -> Result<Vec<String>, StoreError> {
    let stamps = load(dir);
    let mut stale = Vec::new();
    for conv in &model.convert {
        let record = stamps.conversions.get(conv.converter());
        for out in conv.outputs() {
            let ok = match record.and_then(|r| r.outputs.get(*out)) {
                Some(expected) => dir.join(out).is_file() && sha256_file(&dir.join(out))? == *expected,
                None => false,
            };
            if !ok {
                stale.push(out.to_string());
            }
        }
        // Inputs are checked against the manifest by the caller; a record made from other inputs is stale.
        if let Some(r) = record {
            for input in conv.inputs() {
                let expected = model.files.iter().find(|f| f.path == input).map(|f| &f.sha256);
                if r.inputs.get(input) != expected {
                    stale.extend(conv.outputs().iter().map(|s| s.to_string()));
                    break;
                }
            }
        }
    }
    stale.sort();
    stale.dedup();
    Ok(stale)
}

/// Whether the conversion `converter` of `model` must run.
pub(crate) fn needs_conversion(dir: &Path, model: &ModelEntry, conv: &super::Conversion) -> Result<bool, StoreError> {
    let stale = stale_outputs(dir, model)?;
    Ok(conv.outputs().iter().any(|o| stale.iter().any(|s| s == o)))
}

/// Records a finished conversion.
pub(crate) fn record(dir: &Path, model: &ModelEntry, conv: &super::Conversion) -> Result<(), StoreError> {
    let mut stamps = load(dir);
    let inputs = conv
        .inputs()
        .into_iter()
        .filter_map(|i| model.files.iter().find(|f| f.path == i).map(|f| (i.to_string(), f.sha256.clone())))
        .collect();
    let mut outputs = BTreeMap::new();
    for out in conv.outputs() {
        outputs.insert(out.to_string(), sha256_file(&dir.join(out))?);
    }
    stamps.conversions.insert(conv.converter().to_string(), Record { inputs, outputs });
    let path = dir.join(STAMP_FILE);
    let text = serde_json::to_vec_pretty(&stamps).expect("stamps serialise");
    std::fs::write(&path, text).map_err(StoreError::io(&path))
}
