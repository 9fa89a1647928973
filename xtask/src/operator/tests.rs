//! Unit tests of the k6-operator engine: the manifests against the schema
//! written from k6-operator's reference, the names, the real kubectl offline.

use super::*;
use crate::runner::{self, Runner};

const SCHEMA: &str = include_str!("../../tests/fixtures/k6-operator/testrun.schema.json");

fn validate(instance: &serde_json::Value) -> Result<(), String> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("testrun.schema.json", schema)
        .unwrap();
    let idx = compiler
        .compile("testrun.schema.json", &mut schemas)
        .unwrap();
    schemas
        .validate(instance, idx)
        .map_err(|e| format!("{e:#}"))
}

fn cluster() -> Config {
    Config {
        context: Some(
            KubeContext::try_from("arn:aws:eks:eu-west-1:1:cluster/load".to_string()).unwrap(),
        ),
        namespace: "load-tests".parse().unwrap(),
        cpu: Some(Quantity::try_from("500m".to_string()).unwrap()),
        memory: Some(Quantity::try_from("512Mi".to_string()).unwrap()),
        ..Config::default()
    }
}

fn plan(c: &Config) -> Plan<'_> {
    Plan {
        cluster: c,
        name: Label::for_run("k6-baseline", "20261201T120000Z"),
        script: Utf8PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../demo/perf/waiting-queue-join.js"
        )),
        vars: vec![
            ("API_HOST".into(), "http://tcs.load-tests.svc:8080".into()),
            ("CONCERT_ID".into(), "1".into()),
            ("ODD".into(), "a $(HOME) b".into()),
        ],
        parallelism: 3,
        deadline: std::time::Duration::from_secs(120),
    }
}

#[test]
fn the_testrun_matches_the_schema_written_from_k6_operators_reference() {
    let c = cluster();
    let tr = serde_json::to_value(plan(&c).test_run().unwrap()).unwrap();
    validate(&tr).unwrap_or_else(|e| panic!("{e}\n{tr:#}"));
    assert_eq!(tr["apiVersion"], "k6.io/v1alpha1");
    assert_eq!(tr["kind"], "TestRun");
    assert_eq!(tr["metadata"]["name"], "xtask-k6-baseline-20261201t120000z");
    assert_eq!(tr["metadata"]["namespace"], "load-tests");
    assert_eq!(tr["spec"]["parallelism"], 3);
    assert_eq!(
        tr["spec"]["script"]["configMap"],
        serde_json::json!({"name": "xtask-k6-baseline-20261201t120000z", "file": "waiting-queue-join.js"})
    );
    assert_eq!(
        tr["spec"]["arguments"],
        "--out json --no-thresholds --no-summary"
    );
    assert_eq!(tr["spec"]["runner"]["image"], "grafana/k6:1.1.0");
    assert_eq!(
        tr["spec"]["runner"]["resources"],
        serde_json::json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "512Mi"}})
    );
    assert_eq!(
        tr["spec"]["runner"]["env"][0],
        serde_json::json!({"name": "API_HOST", "value": "http://tcs.load-tests.svc:8080"})
    );
    // Kubernetes would expand $(HOME): escaped.
    assert_eq!(tr["spec"]["runner"]["env"][2]["value"], "a $$(HOME) b");
    assert_eq!(
        tr["spec"]["runner"]["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "xtask"
    );
    // No cleanup: post, which would delete the runners' logs before we read them.
    assert!(tr["spec"].get("cleanup").is_none());
    // Without cpu and memory there is no resources object at all.
    let bare = Config::default();
    let tr = serde_json::to_value(plan(&bare).test_run().unwrap()).unwrap();
    validate(&tr).unwrap();
    assert!(tr["spec"]["runner"].get("resources").is_none());
}

#[test]
fn the_schema_refuses_what_a_cluster_would() {
    let c = cluster();
    let good = serde_json::to_value(plan(&c).test_run().unwrap()).unwrap();
    type Break = fn(&mut serde_json::Value);
    let broken: [(&str, Break); 7] = [
        ("misspelt field", |t| t["spec"]["paralelism"] = 2.into()),
        ("no parallelism", |t| {
            t["spec"].as_object_mut().unwrap().remove("parallelism");
        }),
        ("zero runners", |t| t["spec"]["parallelism"] = 0.into()),
        ("uppercase name", |t| t["metadata"]["name"] = "Xtask".into()),
        ("wrong kind", |t| t["kind"] = "K6".into()),
        ("shell in arguments", |t| {
            t["spec"]["arguments"] = "--out json; rm -rf /".into()
        }),
        ("bad quantity", |t| {
            t["spec"]["runner"]["resources"]["limits"]["cpu"] = "lots".into()
        }),
    ];
    for (what, f) in broken {
        let mut t = good.clone();
        f(&mut t);
        assert!(validate(&t).is_err(), "{what} passed the schema");
    }
}

#[test]
fn names_are_kubernetes_labels_and_run_names_fit_the_derived_ones() {
    for bad in [
        "",
        "-x",
        "x-",
        "Load",
        "a_b",
        "a.b",
        "1abc",
        &"a".repeat(64),
    ] {
        assert!(bad.parse::<Label>().is_err(), "{bad:?} was accepted");
    }
    assert!("load-tests".parse::<Label>().is_ok());
    let long = Label::for_run("k6-distributed", &"A_".repeat(32));
    assert!(long.0.len() <= MAX_NAME, "{long}");
    assert!(long.0.parse::<Label>().is_ok(), "{long}");
    for bad in ["", "-ctx", "a b", "a\nb", "ctx;rm"] {
        assert!(KubeContext::try_from(bad.to_string()).is_err(), "{bad:?}");
    }
    for good in [
        "kind-kind",
        "gke_p_europe-west1_c",
        "arn:aws:eks:eu-west-1:1:cluster/x",
        "u@c",
    ] {
        assert!(KubeContext::try_from(good.to_string()).is_ok(), "{good:?}");
    }
    for bad in ["", "lots", "1.", ".5", "1..2", "5mm", "-1", "1 Gi"] {
        assert!(Quantity::try_from(bad.to_string()).is_err(), "{bad:?}");
    }
    for good in ["1", "500m", "1.5", "512Mi", "2G"] {
        assert!(Quantity::try_from(good.to_string()).is_ok(), "{good:?}");
    }
}

#[test]
fn the_configmap_is_made_by_the_real_kubectl_offline() {
    assert!(
        crate::tools::which("kubectl").is_some(),
        "kubectl is not on PATH: install it (Debian: apt-get install kubernetes-client)"
    );
    let c = cluster();
    let p = plan(&c);
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap();
    let runner = Runner::new(dir, false, runner::Verbosity::Quiet);
    let json = configmap_manifest(&runner, &Kubectl::new(&c), &p).unwrap();
    let cm: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["metadata"]["name"], p.name.to_string());
    assert_eq!(cm["metadata"]["namespace"], "load-tests");
    assert_eq!(cm["metadata"]["labels"]["xtask-run"], p.name.to_string());
    let script = std::fs::read_to_string(&p.script).unwrap();
    assert_eq!(cm["data"]["waiting-queue-join.js"], script.as_str());
    // The key the TestRun names is the key kubectl made.
    let tr = serde_json::to_value(p.test_run().unwrap()).unwrap();
    let key = tr["spec"]["script"]["configMap"]["file"].as_str().unwrap();
    assert!(cm["data"].get(key).is_some());
}

#[test]
fn a_script_name_that_cannot_be_a_configmap_key_is_refused() {
    let c = Config::default();
    let mut p = plan(&c);
    p.script = "perf/my test.js".into();
    assert!(p.test_run().is_err());
}
