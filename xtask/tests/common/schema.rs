//! Every report must match reports/report.schema.json. Also compiled into the
//! unit tests (src/report/tests.rs, through `#[path]`): one check for both.

pub fn validate_against_schema(json: &str) {
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let instance: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("report.schema.json", schema).unwrap();
    let idx = compiler
        .compile("report.schema.json", &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(&instance, idx) {
        panic!("report does not match reports/report.schema.json: {e:#}\n{json}");
    }
}
