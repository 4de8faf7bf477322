//! The man pages cover what lvsd accepts. The keywords are not copied into this test: every word
//! quoted in the parser's source (src/config/build) is offered to the parser in each kind of
//! block, and the parser itself says which it takes (no "unknown keyword" warning) and which it
//! only accepts for compatibility. Each such keyword must have an entry (a `.TP` tag) in its
//! block's section of lvsd.conf(5), the ignored ones in a paragraph that says so. Every flag and
//! command clap knows must be in lvsd(8). Both pages must render without groff warnings, and the
//! EXAMPLE of lvsd.conf(5) must load without a diagnostic.

use clap::CommandFactory;
use lvsd::config::{load, LoadOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The pages as sections, paragraphs and tags.

/// A paragraph of a page: the `.SH` and `.SS` it stands under, its `.TP` tag line (if it is a
/// tagged entry) and all its text, as troff source.
#[derive(Debug)]
struct Para {
    sh: String,
    ss: String,
    tag: Option<String>,
    text: String,
}

/// Resolves what matters for finding words: `\-` is a minus, `\(aq` a quote, `\&` nothing.
fn plain(line: &str) -> String {
    line.replace("\\-", "-")
        .replace("\\(aq", "'")
        .replace("\\&", "")
        .replace("\\ ", " ")
}

/// The words set in bold: `\fBword\fR` runs and `.B` / `.BR` / `.BI` arguments (the bold ones).
fn bold_words(line: &str) -> Vec<String> {
    let line = plain(line);
    let mut out = Vec::new();
    let words = |s: &str, out: &mut Vec<String>| {
        for w in s.split(|c: char| c.is_whitespace() || ",|[](){}=;:".contains(c)) {
            let w = w.trim_matches(|c: char| c == '"' || c == '.' || c == '\'');
            if !w.is_empty() {
                out.push(w.to_string());
            }
        }
    };
    if let Some(rest) = line.strip_prefix(".B ") {
        words(rest, &mut out);
    } else if let Some(rest) = line
        .strip_prefix(".BR ")
        .or_else(|| line.strip_prefix(".BI "))
    {
        // Alternating fonts: the 1st, 3rd, ... arguments are bold.
        for (i, a) in rest.split_whitespace().enumerate() {
            if i % 2 == 0 {
                words(a, &mut out);
            }
        }
    }
    let mut rest = line.as_str();
    while let Some(at) = rest.find("\\fB") {
        let after = &rest[at + 3..];
        let end = after.find("\\f").unwrap_or(after.len());
        words(&after[..end], &mut out);
        rest = &after[end..];
    }
    out
}

fn unquote(s: &str) -> String {
    plain(s.trim()).trim_matches('"').to_string()
}

fn paragraphs(page: &str) -> Vec<Para> {
    let mut out: Vec<Para> = Vec::new();
    let (mut sh, mut ss) = (String::new(), String::new());
    let mut lines = page.lines().peekable();
    let mut cur: Option<Para> = None;
    while let Some(line) = lines.next() {
        let mac = line.split_whitespace().next().unwrap_or("");
        let starts_para = matches!(mac, ".SH" | ".SS" | ".TP" | ".PP" | ".LP" | ".P" | ".IP");
        if starts_para {
            out.extend(cur.take());
        }
        match mac {
            ".SH" => {
                sh = unquote(&line[3..]);
                ss.clear();
            }
            ".SS" => ss = unquote(&line[3..]),
            ".TP" => {
                let tag = lines.next().unwrap_or_default().to_string();
                cur = Some(Para {
                    sh: sh.clone(),
                    ss: ss.clone(),
                    text: tag.clone(),
                    tag: Some(tag),
                });
            }
            _ if starts_para => {
                cur = Some(Para {
                    sh: sh.clone(),
                    ss: ss.clone(),
                    tag: None,
                    text: String::new(),
                })
            }
            _ => {
                let p = cur.get_or_insert_with(|| Para {
                    sh: sh.clone(),
                    ss: ss.clone(),
                    tag: None,
                    text: String::new(),
                });
                p.text.push('\n');
                p.text.push_str(line);
            }
        }
    }
    out.extend(cur);
    out
}

/// Where a block's keywords are documented: a `.SH`, and optionally one `.SS` under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    sh: &'static str,
    ss: Option<&'static str>,
}

impl Place {
    fn holds(&self, p: &Para) -> bool {
        p.sh == self.sh && self.ss.is_none_or(|ss| p.ss == ss)
    }
}

const fn sh(sh: &'static str) -> Place {
    Place { sh, ss: None }
}

const fn ss(ss: &'static str) -> Place {
    Place {
        sh: "CHECKERS",
        ss: Some(ss),
    }
}

// ---------------------------------------------------------------------------------------------
// Asking the parser which keywords each block takes.

/// A kind of block: a configuration with `@` where the probed lines go, and where lvsd.conf(5)
/// documents its keywords.
struct Block {
    name: &'static str,
    template: &'static str,
    places: &'static [Place],
}

const EVERY_CHECKER: Place = ss("Every checker");

macro_rules! checker {
    ($name:literal, $section:literal) => {
        Block {
            name: $name,
            template: concat!(
                "virtual_server 10.0.0.1 80 {\nprotocol TCP\nreal_server 10.0.0.2 80 {\n",
                $name,
                " {\n@\n}\n}\n}\n"
            ),
            places: &[ss($section), EVERY_CHECKER],
        }
    };
}

const BLOCKS: &[Block] = &[
    Block {
        name: "the top level",
        template: "@\n",
        places: &[sh("BLOCKS")],
    },
    Block {
        name: "global_defs",
        template: "global_defs {\n@\n}\n",
        places: &[sh("GLOBAL_DEFS")],
    },
    Block {
        name: "lvs_sysctl",
        template: "lvs_sysctl {\n@\n}\n",
        places: &[Place {
            sh: "CONNECTION SYNC",
            ss: Some("lvs_sysctl"),
        }],
    },
    Block {
        name: "lvs_sync_catchup",
        template: "lvs_sync_catchup {\n@\n}\n",
        places: &[Place {
            sh: "CONNECTION SYNC",
            ss: Some("lvs_sync_catchup"),
        }],
    },
    Block {
        name: "SSL",
        template: "SSL {\n@\n}\n",
        places: &[ss("SSL block")],
    },
    Block {
        name: "bgp_announce",
        template: "bgp_announce {\n@\n}\n",
        places: &[Place {
            sh: "SCALE OUT",
            ss: Some("bgp_announce"),
        }],
    },
    Block {
        name: "vrrp_script",
        template: "vrrp_script s {\n@\n}\n",
        places: &[sh("VRRP_SCRIPT")],
    },
    Block {
        name: "track_file",
        template: "track_file f {\n@\n}\n",
        places: &[sh("TRACK_FILE")],
    },
    Block {
        name: "vrrp_track_process",
        template: "vrrp_track_process p {\n@\n}\n",
        places: &[sh("VRRP_TRACK_PROCESS")],
    },
    Block {
        name: "vrrp_sync_group",
        template: "vrrp_sync_group g {\n@\n}\n",
        places: &[sh("VRRP_SYNC_GROUP")],
    },
    Block {
        name: "vrrp_instance",
        template: "vrrp_instance v {\n@\n}\n",
        places: &[sh("VRRP_INSTANCE")],
    },
    Block {
        name: "authentication",
        template: "vrrp_instance v {\nauthentication {\n@\n}\n}\n",
        places: &[sh("VRRP_INSTANCE")],
    },
    Block {
        name: "virtual_server_group",
        template: "virtual_server_group g {\n@\n}\n",
        places: &[sh("VIRTUAL_SERVER_GROUP")],
    },
    Block {
        name: "virtual_server",
        template: "virtual_server 10.0.0.1 80 {\nprotocol TCP\n@\n}\n",
        places: &[sh("VIRTUAL_SERVER")],
    },
    Block {
        name: "real_server",
        template: "virtual_server 10.0.0.1 80 {\nprotocol TCP\nreal_server 10.0.0.2 80 {\n@\n}\n}\n",
        places: &[sh("REAL_SERVER")],
    },
    checker!("TCP_CHECK", "TCP_CHECK"),
    checker!("HTTP_GET", "HTTP_GET and SSL_GET"),
    checker!("SSL_GET", "HTTP_GET and SSL_GET"),
    checker!("SMTP_CHECK", "SMTP_CHECK"),
    checker!("DNS_CHECK", "DNS_CHECK"),
    checker!("MISC_CHECK", "MISC_CHECK"),
    checker!("UDP_CHECK", "UDP_CHECK"),
    checker!("PING_CHECK", "PING_CHECK"),
    checker!("FILE_CHECK", "FILE_CHECK"),
    checker!("BFD_CHECK", "BFD_CHECK"),
    Block {
        name: "url",
        template: "virtual_server 10.0.0.1 80 {\nprotocol TCP\nreal_server 10.0.0.2 80 {\nHTTP_GET {\nurl {\n@\n}\n}\n}\n}\n",
        places: &[ss("HTTP_GET and SSL_GET")],
    },
    Block {
        name: "SMTP_CHECK host",
        template: "virtual_server 10.0.0.1 80 {\nprotocol TCP\nreal_server 10.0.0.2 80 {\nSMTP_CHECK {\nhost {\n@\n}\n}\n}\n}\n",
        places: &[ss("SMTP_CHECK"), EVERY_CHECKER],
    },
];

/// Every word quoted in the parser's source: a superset of its keywords.
fn candidates() -> BTreeSet<String> {
    let dir = root().join("src/config/build");
    // A string literal that is one word; messages (with spaces) and format strings are not.
    let literal = regex::Regex::new(r#""([A-Za-z_][A-Za-z0-9_.-]*)""#).expect("regex");
    let mut out = BTreeSet::new();
    let mut files = 0;
    for e in std::fs::read_dir(&dir).expect("src/config/build") {
        let path = e.expect("entry").path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).expect("read source");
        out.extend(literal.captures_iter(&text).map(|c| c[1].to_string()));
    }
    assert!(files >= 5, "the parser's sources moved: {}", dir.display());
    out
}

#[derive(Debug, Default)]
struct Keywords {
    /// Keywords lvsd acts on (or at least checks and keeps in its model).
    used: BTreeSet<String>,
    /// Keywords accepted for compatibility and ignored.
    ignored: BTreeSet<String>,
}

fn opts() -> LoadOptions {
    LoadOptions {
        config_id: "man".into(),
        check_machine: false,
    }
}

/// Loads `text` from a temporary file.
fn load_text(dir: &Path, text: &str) -> lvsd::config::Loaded {
    let path = dir.join("probe.conf");
    std::fs::write(&path, text).expect("write probe");
    load(&path, &opts())
}

/// Offers every candidate, one a line, to the block and sorts what the parser said about each.
fn probe(dir: &Path, block: &Block, cands: &BTreeSet<String>) -> Keywords {
    let (head, tail) = block.template.split_once('@').expect("template has @");
    let first_line = head.matches('\n').count() as u32 + 1;
    let list: Vec<&str> = cands.iter().map(String::as_str).collect();
    let loaded = load_text(dir, &format!("{head}{}{tail}", list.join("\n")));
    let mut said: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for d in &loaded.diagnostics {
        said.entry(d.span.line).or_default().push(d.message.clone());
    }
    let mut k = Keywords::default();
    for (i, word) in list.iter().enumerate() {
        let msgs = said
            .get(&(first_line + i as u32))
            .cloned()
            .unwrap_or_default();
        // A virtual_server_group's lines are addresses: a word that is none is not a keyword.
        let unknown = msgs.iter().any(|m| {
            m.contains("unknown keyword")
                || m.starts_with("virtual_server_group: expected an address")
        });
        if unknown {
            continue;
        }
        if msgs
            .iter()
            .any(|m| m.contains("accepted for compatibility"))
        {
            k.ignored.insert(word.to_string());
        } else {
            k.used.insert(word.to_string());
        }
    }
    k
}

/// global_defs keywords lvsd ignores say nothing: they are those `--dump-conf` lists under
/// global.ignored when given alone.
fn split_global_ignored(dir: &Path, k: &mut Keywords) {
    let used = std::mem::take(&mut k.used);
    for word in used {
        let loaded = load_text(dir, &format!("global_defs {{\n{word}\n}}\n"));
        let ignored = loaded
            .config
            .as_ref()
            .is_some_and(|c| c.global.ignored.contains(&word));
        if ignored {
            k.ignored.insert(word);
        } else {
            k.used.insert(word);
        }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("lvsd-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every block's keywords, as the parser judges them.
fn parser_keywords() -> Vec<(&'static Block, Keywords)> {
    let dir = TempDir::new("man-probe");
    let cands = candidates();
    BLOCKS
        .iter()
        .map(|b| {
            let mut k = probe(&dir.0, b, &cands);
            if b.name == "global_defs" {
                split_global_ignored(&dir.0, &mut k);
            }
            (b, k)
        })
        .collect()
}

#[test]
fn the_probe_finds_the_keywords_the_parser_takes() {
    // Guards the method: the probe must see what the parser obviously takes and leaves.
    let all = parser_keywords();
    let get = |name: &str| &all.iter().find(|(b, _)| b.name == name).expect(name).1;
    assert!(get("vrrp_instance").used.contains("virtual_router_id"));
    assert!(get("vrrp_instance").used.contains("notify_master"));
    assert!(!get("vrrp_instance").used.contains("real_server"));
    assert!(get("global_defs").ignored.contains("enable_snmp_vrrp"));
    assert!(get("global_defs").used.contains("router_id"));
    assert!(get("the top level").ignored.contains("bfd_instance"));
    assert!(get("real_server").used.contains("TCP_CHECK"));
    assert!(get("HTTP_GET").used.contains("connect_timeout"));
    assert!(!get("TCP_CHECK").used.contains("url"));
    assert!(get("virtual_server_group").used.contains("fwmark"));
    let total: usize = all
        .iter()
        .map(|(_, k)| k.used.len() + k.ignored.len())
        .sum();
    assert!(
        total > 400,
        "only {total} keywords found: the probe is broken"
    );
}

#[test]
fn every_keyword_the_parser_takes_is_in_lvsd_conf_5() {
    let page = read("man/lvsd.conf.5");
    let paras = paragraphs(&page);
    let mut missing = Vec::new();
    let mut undocumented_ignore = Vec::new();
    let mut known_at: Vec<(Place, BTreeSet<String>)> = Vec::new();
    for (block, k) in parser_keywords() {
        let here: Vec<&Para> = paras
            .iter()
            .filter(|p| block.places.iter().any(|pl| pl.holds(p)))
            .collect();
        assert!(
            !here.is_empty(),
            "lvsd.conf.5 has no section {:?} for {}",
            block.places,
            block.name
        );
        let tagged: BTreeSet<String> = here
            .iter()
            .filter_map(|p| p.tag.as_deref())
            .flat_map(bold_words)
            .collect();
        for kw in &k.used {
            if !tagged.contains(kw) {
                missing.push(format!("{} in {} ({:?})", kw, block.name, block.places[0]));
            }
        }
        let said_ignored: BTreeSet<String> = here
            .iter()
            .filter(|p| p.text.to_lowercase().contains("ignored"))
            .flat_map(|p| p.text.lines().flat_map(bold_words).collect::<Vec<_>>())
            .collect();
        for kw in &k.ignored {
            if !said_ignored.contains(kw) {
                undocumented_ignore.push(format!("{} in {}", kw, block.name));
            }
        }
        for pl in block.places {
            match known_at.iter_mut().find(|(p, _)| p == pl) {
                Some((_, set)) => set.extend(k.used.iter().chain(&k.ignored).cloned()),
                None => known_at.push((*pl, k.used.iter().chain(&k.ignored).cloned().collect())),
            }
        }
    }
    // The other way round: an entry's first bold word is a keyword of its section (catches typos
    // and keywords the parser no longer takes).
    let mut stale = Vec::new();
    for p in &paras {
        let Some(tag) = &p.tag else { continue };
        let places: Vec<&(Place, BTreeSet<String>)> =
            known_at.iter().filter(|(pl, _)| pl.holds(p)).collect();
        if places.is_empty() {
            continue;
        }
        let Some(first) = bold_words(tag).into_iter().next() else {
            continue;
        };
        if !places.iter().any(|(_, set)| set.contains(&first)) {
            stale.push(format!("{first} ({} / {})", p.sh, p.ss));
        }
    }
    let mut report = String::new();
    for (what, list) in [
        (
            "keywords the parser takes without an entry (.TP tag) in their section",
            &missing,
        ),
        (
            "keywords lvsd ignores that are not listed in a paragraph saying 'ignored'",
            &undocumented_ignore,
        ),
        (
            "entries for words the parser does not take in their section",
            &stale,
        ),
    ] {
        if !list.is_empty() {
            report.push_str(&format!("{what}:\n  {}\n", list.join("\n  ")));
        }
    }
    assert!(report.is_empty(), "man/lvsd.conf.5:\n{report}");
}

// ---------------------------------------------------------------------------------------------
// lvsd(8) and clap.

/// A flag or command word found anywhere in the text, as a whole word.
fn has_word(text: &str, word: &str) -> bool {
    let text = plain(text)
        .replace("\\fB", " ")
        .replace("\\fI", " ")
        .replace("\\fR", " ")
        .replace("\\fP", " ");
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_".contains(c)))
        .any(|w| w == word)
}

/// Each short and long flag of `c` must be a word of `text`.
fn check_args(c: &clap::Command, where_: &str, text: &str, missing: &mut Vec<String>) {
    for a in c.get_arguments() {
        let names = a
            .get_short()
            .map(|s| format!("-{s}"))
            .into_iter()
            .chain(a.get_long().map(|l| format!("--{l}")));
        for n in names {
            if !has_word(text, &n) {
                missing.push(format!("{n} ({where_})"));
            }
        }
    }
}

#[test]
fn every_flag_and_command_clap_knows_is_in_lvsd_8() {
    let page = read("man/lvsd.8");
    let paras = paragraphs(&page);
    let text_of = |sh: &str, ss: Option<&str>| -> String {
        paras
            .iter()
            .filter(|p| p.sh == sh && ss.is_none_or(|s| p.ss == s))
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut cmd = lvsd::cli::Cli::command();
    cmd.build();
    let mut missing = Vec::new();
    let options = text_of("OPTIONS", None);
    assert!(!options.is_empty(), "lvsd.8 has no OPTIONS section");
    check_args(&cmd, "OPTIONS", &options, &mut missing);
    // A command is named in the text or in a subsection heading of COMMANDS.
    let commands: String = paras
        .iter()
        .filter(|p| p.sh == "COMMANDS")
        .map(|p| format!("{}\n{}", p.ss, p.text))
        .collect();
    // clap's own `help` command and `-h, --help` of each command are described once, in OPTIONS.
    let own_flag = |a: &clap::Arg| a.get_long().is_some_and(|l| l != "help");
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_name();
        if !has_word(&commands, name) {
            missing.push(format!("command {name} (COMMANDS)"));
        }
        if !sub.get_arguments().any(own_flag) && sub.get_subcommands().next().is_none() {
            continue;
        }
        let heading = format!("lvsd {name}");
        let text = text_of("COMMANDS", Some(&heading));
        if text.is_empty() {
            missing.push(format!("a subsection .SS \"{heading}\" under COMMANDS"));
            continue;
        }
        check_args(sub, &heading, &text, &mut missing);
        for subsub in sub.get_subcommands().filter(|s| s.get_name() != "help") {
            if !has_word(&text, subsub.get_name()) {
                missing.push(format!("command {name} {} ({heading})", subsub.get_name()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags and commands of lvsd's command line missing from man/lvsd.8:\n  {}",
        missing.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Rendering.

fn render_warnings(rel: &str) -> String {
    let path = root().join(rel);
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&path)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .env_remove("MANPAGER")
        .env_remove("PAGER")
        .output()
        .unwrap_or_else(|e| panic!("cannot run man (apt package man-db): {e}"));
    assert!(out.status.success(), "man -l {rel} failed: {out:?}");
    assert!(
        out.stdout.len() > 2000,
        "man -l {rel} rendered almost nothing"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn the_pages_render_without_warnings() {
    for page in ["man/lvsd.8", "man/lvsd.conf.5"] {
        let w = render_warnings(page);
        assert!(w.trim().is_empty(), "{page} renders with warnings:\n{w}");
    }
}

#[test]
fn the_example_in_lvsd_conf_5_is_a_valid_configuration() {
    let page = read("man/lvsd.conf.5");
    let mut in_example = false;
    let mut text = String::new();
    for line in page.lines() {
        if line.starts_with(".SH") {
            in_example = line.contains("EXAMPLE");
            continue;
        }
        if in_example && !matches!(line, ".nf" | ".fi") {
            text.push_str(&line.replace("\\-", "-").replace("\\e", "\\"));
            text.push('\n');
        }
    }
    assert!(text.contains("virtual_server"), "no EXAMPLE in lvsd.conf.5");
    let dir = TempDir::new("man-example");
    let loaded = load_text(&dir.0, &text);
    let said = loaded.render();
    assert!(
        loaded.config.is_some() && said.is_empty(),
        "the EXAMPLE of lvsd.conf.5 does not load cleanly:\n{}",
        said.join("\n")
    );
}
