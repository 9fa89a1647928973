//! The `TestRun` we apply, typed (serde), with only the fields we set.
//! Field names from k6-operator's API reference (`docs/crd-generated.md`,
//! `api/v1alpha1/testrun_types.go`): `spec.parallelism`,
//! `spec.script.configMap {name, file}`, `spec.arguments`,
//! `spec.runner {image, env, resources, metadata.labels}`. The JSON Schema
//! the tests hold it to, written from the same reference, is
//! `xtask/tests/fixtures/k6-operator/testrun.schema.json`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Label;

pub const API_VERSION: &str = "k6.io/v1alpha1";
pub const KIND: &str = "TestRun";

/// What every runner's k6 gets besides its execution segment. k6 writes
/// its raw samples to stdout (`--out json` with no file), which
/// `kubectl logs` reads back; thresholds and the summary are ours, judged
/// once on the merged samples, never per runner. Fixed words only:
/// k6-operator splits `arguments` on spaces and hands them to a shell, so
/// every value (the script's variables) goes in `runner.env` instead.
pub const ARGUMENTS: &str = "--out json --no-thresholds --no-summary";

/// Labels on everything we create: what made it, and which run.
pub fn labels(run: &Label) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "xtask".to_string(),
        ),
        ("xtask-run".to_string(), run.to_string()),
    ])
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRun {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub name: Label,
    pub namespace: Label,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub parallelism: u32,
    pub script: Script,
    pub arguments: &'static str,
    pub runner: Runner,
    // No `cleanup: post`: the operator would delete the runners, and their
    // logs with them, before we read them. We delete the TestRun ourselves.
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    pub config_map: ConfigMapRef,
}

#[derive(Debug, Serialize)]
pub struct ConfigMapRef {
    pub name: Label,
    /// The key of the script in the ConfigMap.
    pub file: String,
}

#[derive(Debug, Serialize)]
pub struct Runner {
    pub image: String,
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    pub metadata: PodMetadata,
}

#[derive(Debug, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// Kubernetes `ResourceRequirements`: requests = limits, so a runner gets
/// what it may use (a throttled generator measures itself, not the API).
#[derive(Debug, Default, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<&'static str, String>,
}

impl Resources {
    fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.requests.is_empty()
    }
}

#[derive(Debug, Serialize)]
pub struct PodMetadata {
    pub labels: BTreeMap<String, String>,
}
