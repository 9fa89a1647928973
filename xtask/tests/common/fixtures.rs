//! Committed protocol fixtures, read the same way by the unit tests (through
//! `#[path]`) and the end-to-end tests.

/// The recorded Kafka ApiVersions v0 response (hex with `#` comments).
pub fn kafka_api_versions_response() -> Vec<u8> {
    let text = include_str!("../fixtures/kafka/api-versions-v0-response.hex");
    let hex: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .collect::<String>()
        .split_whitespace()
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
