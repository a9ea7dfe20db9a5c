//! What the model test files share.

use parley_models::store::ModelStore;

/// The default model store (`parley_models::store::test_store`): `None` with a `SKIPPED:` line on a
/// developer machine without it; a failure under CI or with `PARLEY_REQUIRE_MODELS` set.
pub fn store() -> Option<ModelStore> {
    parley_models::store::test_store()
}
