//! Offline container images.
//!
//! Where no container registry is reachable, no image (redis, nginx, a JRE) can be
//! pulled, but the Debian package mirror usually still is. This module builds one
//! local image that stands in for all four (postgres, redis, nginx, a JRE): a
//! `debootstrap` minbase root filesystem with postgresql, redis-server, nginx-light
//! and openjdk-17-jre-headless, brought in with
//! `docker import`. The demo compose file takes every image from a `TCS_*` variable,
//! so [`compose_env`] is all it takes to run the stack on it.
//!
//! The procedure is plain data ([`plan`]: one argument vector per step, never a shell
//! string), so it can be printed, reviewed and replayed by hand. Measured on a
//! 2-core bookworm host: debootstrap ~75 s, tar + import ~6 s, image ~700 MB
//! (PostgreSQL brings LLVM for its JIT, ~100 MB, and ICU).
//! debootstrap needs root.
//!
//! `cmd/images.rs` runs the plan through the process runner.

use std::time::Duration;

use crate::runner::{Runner, Step};

/// Tag of the locally built image. Reused across runs: see [`image_present`].
pub const OFFLINE_IMAGE: &str = "tcs-offline/debian-runtime:bookworm";

/// Packages on top of minbase. ca-certificates is also pulled by the JRE, but is
/// listed so TLS clients work whatever the dependency graph does.
pub const PACKAGES: &[&str] = &[
    "postgresql",
    "redis-server",
    "nginx-light",
    "openjdk-17-jre-headless",
    "ca-certificates",
];

/// `docker import` creates an image with no config at all; PATH is set explicitly
/// so `redis-server`, `nginx` (in /usr/sbin) and `java` resolve in exec-form commands.
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const FALLBACK_RELEASE: &str = "bookworm";
const OS_RELEASE: &str = "/etc/os-release";
const APT_SOURCES_LIST: &str = "/etc/apt/sources.list";
const APT_SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// One step of the build: a name for logs and reports, and the exact argv,
/// as the process runner takes it (a build step may take minutes).
fn step(name: &str, argv: &[&str]) -> Step {
    let hint = match argv[0] {
        "debootstrap" => "apt-get install debootstrap",
        "docker" => "install Docker Engine",
        _ => "",
    };
    Step::new(name, argv[0])
        .args(argv[1..].iter().copied())
        .deadline(Duration::from_secs(15 * 60))
        .hint(hint)
}

/// The step that exits 0 exactly when `image` is present locally, run by
/// `docker` (the compose environment's own engine program, or `docker`).
pub fn inspect(docker: &str, image: &str) -> Step {
    Step::new("docker image inspect", docker)
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .hint("install Docker Engine")
        .read_only()
}

/// Whether `image` is present locally (a build or a pull is skipped then).
pub fn image_present(runner: &Runner, docker: &str, image: &str) -> bool {
    runner.read(&inspect(docker, image)).is_ok()
}

// ---------------------------------------------------------------------------
// Host facts: the Debian release and mirror, read at run time (never hard-coded).
// ---------------------------------------------------------------------------

/// The host's Debian codename from /etc/os-release (`VERSION_CODENAME`), else "bookworm".
pub fn debian_release() -> String {
    std::fs::read_to_string(OS_RELEASE)
        .ok()
        .and_then(|text| os_release_codename(&text))
        .unwrap_or_else(|| FALLBACK_RELEASE.to_string())
}

fn os_release_codename(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        // debootstrap takes it as an argument: a plain name, never an option.
        .find(|v| is_plain_suite(v))
}

/// The apt source files as (path, text), in the order apt reads them: sources.list,
/// then sources.list.d sorted by name. Like apt, only `*.list` and `*.sources` count
/// (so `foo.list.disabled` is ignored); unreadable files are skipped.
pub fn read_apt_sources() -> Vec<(String, String)> {
    let mut paths = vec![APT_SOURCES_LIST.to_string()];
    if let Ok(dir) = std::fs::read_dir(APT_SOURCES_DIR) {
        let mut more: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.path().to_string_lossy().into_owned())
            .filter(|p| p.ends_with(".list") || p.ends_with(".sources"))
            .collect();
        more.sort();
        paths.extend(more);
    }
    paths
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The first Debian archive URI among apt sources (`*.sources` files are deb822,
/// everything else one-line format). An entry qualifies when it is a binary (`deb`)
/// source, enabled, its URI is http(s)/file (what debootstrap can fetch) with a path
/// ending in `/debian` (rules out debian-security and third-party repositories), and
/// one of its suites is a plain release name such as `bookworm` (rules out
/// `bookworm-updates`, `bookworm-security`, `cloud-sdk-bookworm`), and it has the
/// `main` component (rules out look-alikes such as download.docker.com/linux/debian).
/// Returned without a trailing slash.
pub fn debian_mirror(sources: &[(String, String)]) -> Option<String> {
    sources.iter().find_map(|(path, text)| {
        let entries = if path.ends_with(".sources") {
            parse_deb822(text)
        } else {
            parse_one_line(text)
        };
        entries.into_iter().find_map(|e| e.debian_archive_uri())
    })
}

/// One apt source entry, whatever the file format.
#[derive(Debug)]
struct Entry {
    types: Vec<String>,
    uris: Vec<String>,
    suites: Vec<String>,
    components: Vec<String>,
    enabled: bool,
}

impl Entry {
    fn debian_archive_uri(&self) -> Option<String> {
        let binary = self.types.iter().any(|t| t == "deb");
        let plain_suite = self.suites.iter().any(|s| is_plain_suite(s));
        // The Debian archive always has `main` (and debootstrap needs it); vendor
        // repositories laid out like it (e.g. download.docker.com/linux/debian,
        // component `stable`) do not.
        let main = self.components.iter().any(|c| c == "main");
        if !(self.enabled && binary && plain_suite && main) {
            return None;
        }
        self.uris
            .iter()
            .map(|u| u.trim_end_matches('/'))
            .find(|u| is_debian_archive_uri(u))
            .map(str::to_string)
    }
}

/// A release name or alias (`bookworm`, `stable`, `sid`), not a pocket such as
/// `bookworm-updates` nor a flat/third-party suite path.
fn is_plain_suite(suite: &str) -> bool {
    !suite.is_empty()
        && suite
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn is_debian_archive_uri(uri: &str) -> bool {
    ["http://", "https://", "file://", "file:"]
        .iter()
        .find_map(|scheme| uri.strip_prefix(scheme))
        .is_some_and(|rest| rest.ends_with("/debian"))
}

/// deb822 (`*.sources`): paragraphs split by blank lines, `#` lines are comments,
/// indented lines continue the previous field, field names are case-insensitive.
fn parse_deb822(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let flush = |fields: &mut Vec<(String, String)>, entries: &mut Vec<Entry>| {
        if fields.is_empty() {
            return;
        }
        let get = |name: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let enabled = get("Enabled").first().map(|v| v != "no").unwrap_or(true);
        entries.push(Entry {
            types: get("Types"),
            uris: get("URIs"),
            suites: get("Suites"),
            components: get("Components"),
            enabled,
        });
        fields.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut fields, &mut entries);
        } else if line.starts_with('#') {
            continue;
        } else if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            fields.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    flush(&mut fields, &mut entries);
    entries
}

/// One-line format: `deb [opt=val ...] URI suite [component ...]`; `#` starts a comment.
fn parse_one_line(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|raw| {
            let line = raw.split('#').next().unwrap_or("").trim();
            let (kind, rest) = line.split_once(char::is_whitespace)?;
            let mut rest = rest.trim_start();
            if rest.starts_with('[') {
                rest = rest.split_once(']')?.1.trim_start();
            }
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_string();
            let suite = words.next()?.to_string();
            let components = words.map(str::to_string).collect();
            Some(Entry {
                types: vec![kind.to_string()],
                uris: vec![uri],
                suites: vec![suite],
                components,
                enabled: true,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The build plan.
// ---------------------------------------------------------------------------

/// Where [`plan`] writes the root filesystem tarball: next to the rootfs, never
/// inside it (tar would otherwise try to archive its own output).
pub fn tarball_path(rootfs_dir: &str) -> String {
    format!("{}.tar", rootfs_dir.trim_end_matches('/'))
}

/// The steps that build `image` from `mirror` for `release`, using `rootfs_dir`
/// (and `<rootfs_dir>.tar`) as scratch space, which the last step removes.
///
/// Why a tarball file: `docker import` reads a tarball from a path, a URL or stdin.
/// Stdin would need a pipe between two processes (a shell, or plumbing in the
/// caller), which breaks "one argv per step"; a file keeps every step a plain argv
/// that can be replayed by hand, costs only ~700 MB of scratch disk for a moment,
/// and tar takes under a second.
///
/// Cache pruning uses `find ... -delete`, which needs no shell glob: the downloaded
/// .debs (~90 MB) and the apt lists (~50 MB) are dead weight in the image (run
/// `apt-get update` in it before installing anything).
pub fn plan(mirror: &str, release: &str, rootfs_dir: &str, image: &str) -> Vec<Step> {
    let dir = rootfs_dir.trim_end_matches('/');
    let tar = tarball_path(dir);
    let include = format!("--include={}", PACKAGES.join(","));
    let archives = format!("{dir}/var/cache/apt/archives");
    let lists = format!("{dir}/var/lib/apt/lists");
    let path_env = format!("ENV PATH={IMAGE_PATH}");
    let message = format!(
        "tcs offline runtime: debootstrap {release} minbase + {}",
        PACKAGES.join(", ")
    );
    // --one-file-system: should a crashed debootstrap have left /proc or /sys
    // mounted inside the rootfs, never recurse into the host's files through them.
    let remove_scratch = ["rm", "-rf", "--one-file-system", dir, &tar];
    vec![
        // A leftover rootfs from an interrupted run would make debootstrap resume
        // from an unknown state: always start empty.
        step("remove-stale-scratch", &remove_scratch),
        // minbase: only Essential + apt; --components=main: nothing non-free needed.
        // The Release file signature is checked against the host's
        // debian-archive-keyring (debootstrap's default on Debian).
        step(
            "debootstrap",
            &[
                "debootstrap",
                "--variant=minbase",
                "--components=main",
                &include,
                release,
                dir,
                mirror,
            ],
        ),
        step(
            "prune-apt-archives",
            &["find", &archives, "-type", "f", "-name", "*.deb", "-delete"],
        ),
        step(
            "prune-apt-lists",
            &["find", &lists, "-type", "f", "-delete"],
        ),
        // --numeric-owner: keep the rootfs's own uids/gids (redis, nginx users...),
        // not whatever those names map to on the host.
        step(
            "tar-rootfs",
            &["tar", "--numeric-owner", "-C", dir, "-c", "-f", &tar, "."],
        ),
        // An imported image has no config: set PATH, a UTF-8 locale that exists
        // without the locales package, and a harmless default command (compose
        // and the app Dockerfile always override it).
        step(
            "docker-import",
            &[
                "docker",
                "import",
                "--change",
                &path_env,
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                r#"CMD ["bash"]"#,
                "--message",
                &message,
                &tar,
                image,
            ],
        ),
        step("remove-scratch", &remove_scratch),
    ]
}

/// Quick checks that the image can play each role.
pub fn smoke_checks(image: &str) -> Vec<Step> {
    let run = |name, tool: &[&str]| {
        let mut argv = vec!["docker", "run", "--rm", image];
        argv.extend_from_slice(tool);
        step(name, &argv)
    };
    vec![
        run("smoke-postgres", &["pg_isready", "--version"]),
        run("smoke-redis", &["redis-server", "--version"]),
        run("smoke-nginx", &["nginx", "-v"]),
        run("smoke-java", &["java", "-version"]),
    ]
}

/// Environment for docker-compose so the demo stack runs entirely on `image`.
pub fn compose_env(image: &str) -> Vec<(String, String)> {
    [
        "TCS_POSTGRES_IMAGE",
        "TCS_REDIS_IMAGE",
        "TCS_NGINX_IMAGE",
        "TCS_JRE_IMAGE",
    ]
    .iter()
    .map(|k| (k.to_string(), image.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, text: &str) -> (String, String) {
        (path.to_string(), text.to_string())
    }

    // Verbatim shape of this machine's /etc/apt/sources.list.d/debian.sources.
    const HOST_DEB822: &str = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

    const NODESOURCE: &str = "\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/nodesource.gpg
";

    #[test]
    fn deb822_host_file() {
        let s = [src("/etc/apt/sources.list.d/debian.sources", HOST_DEB822)];
        assert_eq!(
            debian_mirror(&s).as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }

    #[test]
    fn deb822_security_first_is_skipped() {
        let text = "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb-src deb\nURIs: https://mirror.example.org/debian/\nSuites: bookworm\nComponents: main contrib\n";
        let s = [src("/etc/apt/sources.list.d/x.sources", text)];
        assert_eq!(
            debian_mirror(&s).as_deref(),
            Some("https://mirror.example.org/debian")
        );
    }

    #[test]
    fn deb822_disabled_src_only_and_folded_fields() {
        let text = "Types: deb\nEnabled: no\nURIs: http://a.example/debian\nSuites: bookworm\nComponents: main\n\n\
                    Types: deb-src\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n\n\
                    types: deb\nuris: http://c.example/ubuntu\n  http://c.example/debian\nsuites: bookworm\ncomponents: main\n";
        let s = [src("/etc/apt/sources.list.d/x.sources", text)];
        assert_eq!(
            debian_mirror(&s).as_deref(),
            Some("http://c.example/debian")
        );
    }

    #[test]
    fn one_line_with_comments_and_options() {
        let text = "# deb http://commented.example/debian bookworm main\n\
                    \n\
                    deb http://security.debian.org/debian-security bookworm-security main\n\
                    deb http://deb.debian.org/debian bookworm-updates main\n\
                    deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://ftp.fr.debian.org/debian/ bookworm main contrib # fr\n";
        let s = [src("/etc/apt/sources.list", text)];
        assert_eq!(
            debian_mirror(&s).as_deref(),
            Some("http://ftp.fr.debian.org/debian")
        );
    }

    #[test]
    fn third_party_entries_are_ignored() {
        let s = [
            src("/etc/apt/sources.list", ""),
            src(
                "/etc/apt/sources.list.d/google-cloud-sdk.list",
                "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n",
            ),
            src("/etc/apt/sources.list.d/nodesource.sources", NODESOURCE),
            src(
                "/etc/apt/sources.list.d/docker.list",
                "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n",
            ),
        ];
        assert_eq!(debian_mirror(&s), None);
        // ...while a real Debian entry after them is still found.
        let mut more = s.to_vec();
        more.push(src("/etc/apt/sources.list.d/debian.sources", HOST_DEB822));
        assert_eq!(
            debian_mirror(&more).as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }

    #[test]
    fn first_debian_entry_wins_across_files() {
        let s = [
            src(
                "/etc/apt/sources.list",
                "deb http://first.example/debian bookworm main\n",
            ),
            src("/etc/apt/sources.list.d/debian.sources", HOST_DEB822),
        ];
        assert_eq!(
            debian_mirror(&s).as_deref(),
            Some("http://first.example/debian")
        );
    }

    #[test]
    fn no_debian_source() {
        assert_eq!(debian_mirror(&[]), None);
        let s = [
            src(
                "/etc/apt/sources.list",
                "# only comments\n#deb http://deb.debian.org/debian bookworm main\n",
            ),
            src(
                "/etc/apt/sources.list.d/debian.sources",
                "# Types: deb\n# URIs: http://deb.debian.org/debian\n",
            ),
            src(
                "/etc/apt/sources.list.d/sec.list",
                "deb http://deb.debian.org/debian-security bookworm-security main\n",
            ),
            src(
                "/etc/apt/sources.list.d/cd.list",
                "deb cdrom:[Debian 12]/ bookworm main\n",
            ),
        ];
        assert_eq!(debian_mirror(&s), None);
    }

    #[test]
    fn os_release_codename_parsing() {
        assert_eq!(
            os_release_codename("ID=debian\nVERSION_CODENAME=bookworm\n").as_deref(),
            Some("bookworm")
        );
        assert_eq!(
            os_release_codename("VERSION_CODENAME=\"trixie\"\n").as_deref(),
            Some("trixie")
        );
        assert_eq!(os_release_codename("VERSION_CODENAME=\nID=debian\n"), None);
    }

    #[test]
    fn plan_is_argv_only_and_ordered() {
        let steps = plan(
            "http://m.example/debian",
            "bookworm",
            "/tmp/x/rootfs/",
            "img:tag",
        );
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "remove-stale-scratch",
                "debootstrap",
                "prune-apt-archives",
                "prune-apt-lists",
                "tar-rootfs",
                "docker-import",
                "remove-scratch"
            ]
        );
        let deb = &steps[1].argv();
        assert_eq!(deb[0], "debootstrap");
        assert!(deb.contains(&"--variant=minbase".to_string()));
        assert!(deb.contains(
            &"--include=postgresql,redis-server,nginx-light,openjdk-17-jre-headless,ca-certificates"
                .to_string()
        ));
        assert_eq!(
            &deb[deb.len() - 3..],
            ["bookworm", "/tmp/x/rootfs", "http://m.example/debian"]
        );
        // The tarball lives beside the rootfs and is what docker import reads.
        assert_eq!(
            steps[4].argv(),
            [
                "tar",
                "--numeric-owner",
                "-C",
                "/tmp/x/rootfs",
                "-c",
                "-f",
                "/tmp/x/rootfs.tar",
                "."
            ]
        );
        let import = &steps[5].argv();
        assert_eq!(&import[..2], ["docker", "import"]);
        assert_eq!(
            &import[import.len() - 2..],
            ["/tmp/x/rootfs.tar", "img:tag"]
        );
        assert!(import.contains(&format!("ENV PATH={IMAGE_PATH}")));
        assert_eq!(steps[0].argv(), steps[6].argv());
        assert_eq!(
            steps[6].argv(),
            [
                "rm",
                "-rf",
                "--one-file-system",
                "/tmp/x/rootfs",
                "/tmp/x/rootfs.tar"
            ]
        );
    }

    #[test]
    fn env_and_inspect() {
        let env = compose_env(OFFLINE_IMAGE);
        let keys: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "TCS_POSTGRES_IMAGE",
                "TCS_REDIS_IMAGE",
                "TCS_NGINX_IMAGE",
                "TCS_JRE_IMAGE"
            ]
        );
        assert!(env.iter().all(|(_, v)| v == OFFLINE_IMAGE));
        assert_eq!(
            inspect("docker", "a:b").argv(),
            ["docker", "image", "inspect", "--format", "{{.Id}}", "a:b"]
        );
        assert_eq!(
            smoke_checks("a:b")[3].argv(),
            ["docker", "run", "--rm", "a:b", "java", "-version"]
        );
    }
}
