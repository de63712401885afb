//! The checked-in CRD is what the Rust types generate. Regenerate with:
//! `cargo run -- crd > crds/recommendermodel.yaml`

use kube::CustomResourceExt;
use recommender_operator::api::RecommenderModel;

#[test]
fn checked_in_crd_matches_the_rust_types() {
    let generated = serde_saphyr::to_string(&RecommenderModel::crd()).expect("CRD serializes");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/recommendermodel.yaml");
    let checked_in = std::fs::read_to_string(path).expect("read crds/recommendermodel.yaml");
    assert!(
        generated == checked_in,
        "crds/recommendermodel.yaml is out of date: run `cargo run -- crd > crds/recommendermodel.yaml`"
    );
}
