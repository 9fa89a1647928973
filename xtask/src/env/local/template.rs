//! `{name}` placeholders in the configured app command and environment.

use anyhow::Context;

/// Replaces `{name}` placeholders. An unknown name is an error (a typo would
/// otherwise reach the service as text); braces around anything that is not
/// a plain lower-case name (JSON, say) are kept as they are.
pub(crate) fn substitute(template: &str, vars: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            let value = vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .with_context(|| {
                    let known: Vec<String> = vars.iter().map(|(k, _)| format!("{{{k}}}")).collect();
                    format!(
                        "unknown placeholder `{{{name}}}` in `{template}`: use {}",
                        known.join(", ")
                    )
                })?;
            out.push_str(value);
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, String)> {
        vec![
            ("port", "21081".into()),
            ("index", "2".into()),
            ("redis_host", "127.0.0.1".into()),
            ("redis_port", "40000".into()),
        ]
    }

    #[test]
    fn placeholders_are_replaced_in_values() {
        assert_eq!(substitute("app-{index}", &vars()).unwrap(), "app-2");
        assert_eq!(
            substitute("{redis_host}:{redis_port}/{port}", &vars()).unwrap(),
            "127.0.0.1:40000/21081"
        );
        assert_eq!(substitute("plain", &vars()).unwrap(), "plain");
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        assert_eq!(substitute(r#"{"a":1}"#, &vars()).unwrap(), r#"{"a":1}"#);
        assert_eq!(substitute("{}{ port}{", &vars()).unwrap(), "{}{ port}{");
        assert_eq!(substitute("{{port}}", &vars()).unwrap(), "{21081}");
    }

    #[test]
    fn a_mistyped_placeholder_is_an_error_listing_the_known_ones() {
        let e = substitute("{prot}", &vars()).unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown placeholder `{prot}` in `{prot}`: use {port}, {index}, {redis_host}, {redis_port}"
        );
    }
}
