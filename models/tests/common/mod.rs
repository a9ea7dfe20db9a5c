//! What the model test files share.

use parley_models::store::{Manifest, ModelStore};

/// The default model store, or `None` (with the reason printed) when it is incomplete; CI always has it.
pub fn store() -> Option<ModelStore> {
    let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
    if !store.is_complete() {
        eprintln!("SKIPPED: model store incomplete; run `parley models fetch`");
        return None;
    }
    Some(store)
}
