//! One module per subcommand. Each is `impl flags::X { fn run(self, ctx) }`.

pub mod adopt;
pub mod api_scripts;
pub mod bench;
pub mod ci;
pub mod doctor;
pub mod env;
pub mod env_logs;
pub mod gate;
pub mod gate_junit;
pub mod gate_publish;
pub mod gate_status;
pub mod images;
pub mod integration;
pub mod k6;
pub mod ops;
pub mod release_gate;
pub mod report;
pub mod report_history;
pub mod setup;
