//! Option precedence, read off the exact k6 command line `--dry-run` prints:
//! flag > legacy environment variable > xtask.toml > built-in default.

mod common;

use common::{k6_config, TempDir, Xtask};

/// The `VUS=` the printed k6 command passes to the script.
fn printed_vus(dir: &TempDir, config: &str, env_vus: Option<&str>, flag: Option<&str>) -> String {
    let mut x = Xtask::with(&k6_config(dir, config), &dir.join("reports")).args([
        "--dry-run",
        "k6",
        "run",
        "--api-host",
        "http://127.0.0.1:22999",
    ]);
    if let Some(v) = env_vus {
        x = x.env("K6_VUS", v);
    }
    if let Some(v) = flag {
        x = x.args(["--vus", v]);
    }
    let out = x.run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| {
            l.starts_with("[dry-run]") && l.contains(" run ") && l.contains("--summary-export")
        })
        .unwrap_or_else(|| panic!("no k6 command printed:\n{}", out.stdout));
    let vus: Vec<&str> = line
        .split(' ')
        .filter_map(|a| a.strip_prefix("VUS="))
        .collect();
    assert_eq!(vus.len(), 1, "{line}");
    assert!(
        !std::fs::exists(dir.join("reports/k6")).unwrap(),
        "a dry run writes nothing"
    );
    vus[0].to_string()
}

#[test]
fn vus_come_from_the_flag_then_the_variable_then_the_config_then_60() {
    let dir = TempDir::outside_repo("precedence");
    let with_config = "vus = 11\n";
    assert_eq!(printed_vus(&dir, with_config, Some("13"), Some("17")), "17");
    assert_eq!(printed_vus(&dir, with_config, Some("13"), None), "13");
    assert_eq!(printed_vus(&dir, with_config, None, None), "11");
    assert_eq!(printed_vus(&dir, "", None, None), "60");
}

#[test]
fn k6_itself_gets_the_resolved_vus_when_k6_vus_is_set() {
    // k6 reads K6_VUS on its own and it would beat the script's options:
    // the child must see the flag's value, not the shell's.
    let dir = TempDir::outside_repo("k6-own-env");
    let out = Xtask::with(&k6_config(&dir, ""), &dir.join("reports"))
        .args(["--dry-run", "k6", "run", "--vus", "4"])
        .env("K6_VUS", "9")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("K6_VUS=4 "), "{}", out.stdout);
    assert!(!out.stdout.contains("VUS=9 "), "{}", out.stdout);
}
