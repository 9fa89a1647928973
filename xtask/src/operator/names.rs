//! The names and values a TestRun carries, checked where they enter (the
//! config, the run stamp): Kubernetes names, the kubectl context, the
//! runners' image, resource quantities.

use std::{fmt, str::FromStr};

use anyhow::bail;
use serde::Deserialize;

use super::MAX_NAME;

/// A Kubernetes name we create or name: an RFC 1035 label (lowercase
/// letters, digits and `-`, a letter first, alphanumeric last, at most 63).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct Label(pub(super) String);

impl FromStr for Label {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Label> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            bail!(
                "bad Kubernetes name `{}`: lowercase letters, digits and `-`, starting with a letter, at most 63 (e.g. load-tests)",
                crate::units::quote(s)
            );
        }
        Ok(Label(s.to_string()))
    }
}

impl TryFrom<String> for Label {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Label> {
        s.parse()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Label {
    /// `xtask-<suite>-<stamp>`, lowercased, anything else made `-`, cut to
    /// what k6-operator's derived names allow.
    pub fn for_run(suite: &str, stamp: &str) -> Label {
        let raw = format!("xtask-{suite}-{stamp}").to_ascii_lowercase();
        let mut name: String = raw
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(MAX_NAME)
            .collect();
        while name.ends_with('-') {
            name.pop();
        }
        Label(name)
    }
}

/// A kubeconfig context name: EKS, GKE and kind names carry `:`, `/`, `@`,
/// `_`; never a leading `-`, a space or a control character.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct KubeContext(pub(super) String);

impl TryFrom<String> for KubeContext {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<KubeContext> {
        let ok = !s.is_empty()
            && s.len() <= 253
            && !s.starts_with('-')
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@')
            });
        if !ok {
            bail!(
                "bad kubectl context `{}`: letters, digits and . _ - : / @, not starting with `-`",
                crate::units::quote(&s)
            );
        }
        Ok(KubeContext(s))
    }
}

impl fmt::Display for KubeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container image reference (checked as the docker fallback's are).
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Image(pub(super) String);

impl TryFrom<String> for Image {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Image> {
        crate::units::check_image_ref(&s)?;
        Ok(Image(s))
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kubernetes resource quantity: a decimal number with an optional SI
/// or binary suffix (`500m`, `1`, `1.5`, `512Mi`, `2G`).
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Quantity(pub(super) String);

impl TryFrom<String> for Quantity {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Quantity> {
        const SUFFIXES: [&str; 14] = [
            "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
        ];
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &s[digits.len()..];
        let number = !digits.is_empty()
            && !digits.starts_with('.')
            && !digits.ends_with('.')
            && digits.bytes().filter(|b| *b == b'.').count() <= 1
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if !(number && SUFFIXES.contains(&suffix) && s.len() <= 32) {
            bail!(
                "bad resource quantity `{}`: a number with an optional suffix (500m, 1, 512Mi, 2Gi)",
                crate::units::quote(&s)
            );
        }
        Ok(Quantity(s))
    }
}
