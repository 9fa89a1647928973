//! The fixed host ports a compose file publishes, read before `up`, so that
//! a taken one is named with its service instead of failing half-way
//! through `compose up` (the service publishes 5432, 6379, 2181, 9092 and
//! the balancer's `${APP_LB_PORT:-18080}`).
//!
//! A reader for the short and long `ports:` syntax only, not a YAML parser:
//! services under a `profiles:` key are skipped (compose does not start
//! them unless asked), ephemeral ports (`"8080"`, `"127.0.0.1::6379"`) and
//! ranges have nothing fixed to check. `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}` and `$VAR` are replaced as compose would.

/// One fixed host port: the service publishing it, the host address it
/// binds (None: every address) and the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub service: String,
    pub host_ip: Option<String>,
    pub port: u16,
    /// The container's side (`6379`, `8080/tcp`).
    pub target: String,
}

/// The fixed host ports of `text` (a compose file), variables looked up in `var`.
pub fn fixed_ports(text: &str, var: &dyn Fn(&str) -> Option<String>) -> Vec<Published> {
    let mut out = vec![];
    // (indent of `services:` children, current service, its ports so far, has profiles)
    let mut in_services = false;
    let mut service_indent = None::<usize>;
    let mut current: Option<(String, Vec<Published>, bool)> = None;
    let mut ports_indent = None::<usize>;
    let flush = |c: &mut Option<(String, Vec<Published>, bool)>, out: &mut Vec<Published>| {
        if let Some((_, ports, profiled)) = c.take() {
            if !profiled {
                out.extend(ports);
            }
        }
    };
    for raw in text.lines() {
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 0 {
            flush(&mut current, &mut out);
            in_services = t == "services:";
            service_indent = None;
            ports_indent = None;
            continue;
        }
        if !in_services {
            continue;
        }
        let si = *service_indent.get_or_insert(indent);
        if indent == si {
            flush(&mut current, &mut out);
            ports_indent = None;
            current = t
                .strip_suffix(':')
                .map(|name| (unquote(name).to_string(), vec![], false));
            continue;
        }
        let Some((name, ports, profiled)) = current.as_mut() else {
            continue;
        };
        if let Some(pi) = ports_indent {
            if indent > pi {
                let item = t.strip_prefix('-').map(str::trim).unwrap_or(t);
                let value = match item.split_once(':') {
                    // Long syntax: `published: 18080` (alone or after `- `).
                    Some((k, v)) if k.trim() == "published" => Some(format!("{}:0", v.trim())),
                    _ if t.starts_with('-') => Some(item.to_string()),
                    _ => None,
                };
                if let Some(p) = value.and_then(|v| parse_short(&interpolate(unquote(&v), var))) {
                    ports.push(Published {
                        service: name.clone(),
                        host_ip: p.0,
                        port: p.1,
                        target: p.2,
                    });
                }
                continue;
            }
            ports_indent = None;
        }
        match t {
            "ports:" => ports_indent = Some(indent),
            _ if t.starts_with("profiles:") => *profiled = true,
            _ => {}
        }
    }
    flush(&mut current, &mut out);
    out
}

/// `HOST:CONTAINER[/proto]` or `IP:HOST:CONTAINER`: the fixed host side
/// and the container's.
fn parse_short(spec: &str) -> Option<(Option<String>, u16, String)> {
    let spec = spec.split('/').next()?.trim();
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (ip, host, target) = match parts.as_slice() {
        [target, host] => (None, *host, *target),
        [target, host, ip] => (
            Some(ip.trim_matches(['[', ']']).to_string()),
            *host,
            *target,
        ),
        _ => return None,
    };
    let port: u16 = host.trim().parse().ok().filter(|p| *p != 0)?;
    Some((
        ip.filter(|i| !i.is_empty() && i != "0.0.0.0"),
        port,
        target.trim().to_string(),
    ))
}

fn strip_comment(line: &str) -> &str {
    // A `#` starts a comment at the line start or after a blank, outside quotes.
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// Compose's variable substitution, for what a port can hold.
fn interpolate(s: &str, var: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let expr = &inner[..end];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                var(name)
                    .filter(|v| !v.is_empty())
                    .unwrap_or(default.into())
            } else if let Some((name, default)) = expr.split_once('-') {
                var(name).unwrap_or(default.into())
            } else {
                var(expr).unwrap_or_default()
            };
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(&var(&after[..len]).unwrap_or_default());
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of the service's compose file (ports, profiles, comments).
    const SERVICE_SHAPED: &str = r#"version: "3.8"

services:
  postgres-db:
    image: postgres:16-alpine
    ports:
      - "5432:5432"
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
  redis:
    image: redis:alpine
    ports:
      - 127.0.0.1:6379:6379   # loopback only
  app:
    build: .
    expose:
      - "8080"
  nginx-lb:
    ports:
      - "${APP_LB_PORT:-18080}:8080"
      - "8081"
      - "127.0.0.1::9000"
      - target: 8443
        published: 18443
  frontend:
    profiles: ["frontend"]
    ports:
      - "5173:80"

networks:
  ticket-network:
    driver: bridge
"#;

    fn p(service: &str, ip: Option<&str>, port: u16, target: &str) -> Published {
        Published {
            service: service.into(),
            host_ip: ip.map(String::from),
            port,
            target: target.into(),
        }
    }

    #[test]
    fn fixed_host_ports_with_their_service_and_variables_resolved() {
        let none = |_: &str| None;
        assert_eq!(
            fixed_ports(SERVICE_SHAPED, &none),
            [
                p("postgres-db", None, 5432, "5432"),
                p("redis", Some("127.0.0.1"), 6379, "6379"),
                p("nginx-lb", None, 18080, "8080"),
                p("nginx-lb", None, 18443, "0"),
            ]
        );
        let lb = |k: &str| (k == "APP_LB_PORT").then(|| "21250".to_string());
        assert_eq!(
            fixed_ports(SERVICE_SHAPED, &lb)[2],
            p("nginx-lb", None, 21250, "8080")
        );
    }

    #[test]
    fn compose_substitution_forms() {
        let var = |k: &str| match k {
            "SET" => Some("1".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(interpolate("${SET:-2}", &var), "1");
        assert_eq!(interpolate("${EMPTY:-2}", &var), "2");
        assert_eq!(interpolate("${EMPTY-2}", &var), "");
        assert_eq!(interpolate("${UNSET-3}", &var), "3");
        assert_eq!(interpolate("$SET:$$x", &var), "1:$x");
    }
}
