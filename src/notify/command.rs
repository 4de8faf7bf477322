//! A script line as keepalived runs it: split like a shell command line (quotes and backslashes),
//! executed directly, or through /bin/sh when it uses shell syntax; as the script user.

use std::process::Stdio;
use std::time::Duration;

use thiserror::Error;

use crate::config::model::Script;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("unterminated {0} quote in script '{1}'")]
    Unterminated(char, String),
    #[error("empty script")]
    Empty,
    #[error("unknown user '{0}'")]
    NoUser(String),
    #[error("unknown group '{0}'")]
    NoGroup(String),
}

/// Splits a command line into words: whitespace separates, '...' and "..." group, a backslash
/// outside single quotes escapes the next character.
pub fn split(line: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(CommandError::Unterminated(c, line.into())),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => cur.push(e),
                            Some(e) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => return Err(CommandError::Unterminated(c, line.into())),
                        },
                        Some(q) => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// True when the line uses shell syntax outside single quotes (pipes, redirections, lists,
/// substitutions, globs): such a line runs through /bin/sh.
pub fn needs_shell(line: &str) -> bool {
    let mut single = false;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' => single = !single,
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '~' if !single => {
                return true
            }
            _ => {}
        }
    }
    false
}

/// A script ready to run: the program and its arguments, and the credentials to run it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub argv: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub line: String,
}

/// The program and arguments for `line` with `extra` arguments appended.
pub fn argv(line: &str, extra: &[String]) -> Result<Vec<String>, CommandError> {
    if needs_shell(line) {
        // "$@" passes the extra arguments to the shell line unchanged.
        let mut v = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            format!("{line} \"$@\""),
            "sh".to_string(),
        ];
        v.extend(extra.iter().cloned());
        return Ok(v);
    }
    let mut v = split(line)?;
    if v.is_empty() {
        return Err(CommandError::Empty);
    }
    v.extend(extra.iter().cloned());
    Ok(v)
}

/// Resolves the user: the script's own `user`, else global `script_user`, else root.
pub fn prepare(
    script: &Script,
    default_user: Option<&(String, Option<String>)>,
    extra: &[String],
) -> Result<Prepared, CommandError> {
    let argv = argv(&script.command, extra)?;
    let (user, group) = match (&script.user, default_user) {
        (Some(u), _) => (Some(u.clone()), script.group.clone()),
        (None, Some((u, g))) => (Some(u.clone()), g.clone()),
        (None, None) => (None, None),
    };
    let (uid, gid) = match &user {
        Some(u) => {
            let (uid, gid) = ids(u, group.as_deref())?;
            (Some(uid), Some(gid))
        }
        None => (None, group.as_deref().map(group_id_of).transpose()?),
    };
    Ok(Prepared {
        argv,
        uid,
        gid,
        line: script.command.clone(),
    })
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    if let Ok(n) = name.parse::<u32>() {
        return Some((n, n));
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getpwnam_r writes into pw and buf, both live and of the stated sizes.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    let r = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    (r == 0 && !res.is_null()).then_some((pw.pw_uid, pw.pw_gid))
}

/// The uid and gid to run as `user` (a name or a number): `group`'s gid when given, else the user's
/// own group. Shared by notify scripts and MISC_CHECK.
pub fn ids(user: &str, group: Option<&str>) -> Result<(u32, u32), CommandError> {
    let (uid, gid) = user_ids(user).ok_or_else(|| CommandError::NoUser(user.to_string()))?;
    match group {
        Some(g) => Ok((uid, group_id_of(g)?)),
        None => Ok((uid, gid)),
    }
}

fn group_id_of(g: &str) -> Result<u32, CommandError> {
    group_id(g).ok_or_else(|| CommandError::NoGroup(g.to_string()))
}

pub(crate) fn group_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getgrnam_r writes into gr and buf, both live and of the stated sizes.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::group = std::ptr::null_mut();
    let r = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    (r == 0 && !res.is_null()).then_some(gr.gr_gid)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled,
    TimedOut,
    SpawnFailed(String),
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

/// Runs to completion (or kills it at `timeout`), without a terminal and without output. It first
/// waits for a slot under the shared script limit; `timeout` counts from the start.
pub async fn run(p: &Prepared, timeout: Option<Duration>) -> Outcome {
    run_with(p, timeout, false).await
}

/// `run` for a check script (vrrp_script): it dies with lvsd.
pub async fn run_check(p: &Prepared, timeout: Option<Duration>) -> Outcome {
    run_with(p, timeout, true).await
}

async fn run_with(p: &Prepared, timeout: Option<Duration>, check: bool) -> Outcome {
    let Some((prog, args)) = p.argv.split_first() else {
        return Outcome::SpawnFailed("empty command".into());
    };
    let _slot = super::limit::slot(&p.line).await;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(g) = p.gid {
        cmd.gid(g);
    }
    if let Some(u) = p.uid {
        cmd.uid(u);
    }
    crate::daemon::memory::children_default(cmd.as_std_mut());
    if check {
        crate::daemon::memory::dies_with_lvsd(cmd.as_std_mut());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::SpawnFailed(e.to_string()),
    };
    let status = match timeout {
        None => child.wait().await,
        Some(t) => match tokio::time::timeout(t, child.wait()).await {
            Ok(s) => s,
            Err(_) => {
                let _ = child.kill().await;
                return Outcome::TimedOut;
            }
        },
    };
    match status {
        Ok(s) => s.code().map_or(Outcome::Signalled, Outcome::Exited),
        Err(e) => Outcome::SpawnFailed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_by_name_or_number_and_group() {
        assert_eq!(ids("root", None), Ok((0, 0)));
        assert_eq!(ids("0", Some("0")), Ok((0, 0)));
        assert_eq!(
            ids("no-such-user-lvsd", None).unwrap_err().to_string(),
            "unknown user 'no-such-user-lvsd'"
        );
        assert!(matches!(
            ids("root", Some("no-such-group-lvsd")),
            Err(CommandError::NoGroup(_))
        ));
    }

    fn words(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    #[test]
    fn splits_like_a_shell_honouring_quotes() {
        assert_eq!(words("/bin/echo a  b"), ["/bin/echo", "a", "b"]);
        assert_eq!(words("x 'a b' \"c d\""), ["x", "a b", "c d"]);
        assert_eq!(words("x a\\ b 'it''s'"), ["x", "a b", "its"]);
        assert_eq!(words("x \"say \\\"hi\\\"\""), ["x", "say \"hi\""]);
        assert_eq!(words("x ''"), ["x", ""]);
        assert!(matches!(
            split("x 'open"),
            Err(CommandError::Unterminated('\'', _))
        ));
    }

    #[test]
    fn shell_syntax_goes_through_sh_with_the_extra_args() {
        assert!(!needs_shell("/usr/bin/check --port 80"));
        assert!(needs_shell("pidof nginx || exit 1"));
        assert!(needs_shell("echo $HOME"));
        assert!(
            !needs_shell("echo '$HOME | x'"),
            "quoted metacharacters are literal"
        );
        let extra = vec!["INSTANCE".to_string(), "VI_1".to_string()];
        assert_eq!(
            argv("/n.sh 'a b'", &extra).unwrap(),
            ["/n.sh", "a b", "INSTANCE", "VI_1"]
        );
        let v = argv("echo x >> /tmp/f", &extra).unwrap();
        assert_eq!(v[..3], ["/bin/sh", "-c", "echo x >> /tmp/f \"$@\""]);
        assert_eq!(v[3..], ["sh", "INSTANCE", "VI_1"]);
    }

    #[tokio::test]
    async fn outcome_reports_exit_codes_and_timeouts() {
        let p = |line: &str| Prepared {
            argv: argv(line, &[]).unwrap(),
            uid: None,
            gid: None,
            line: line.into(),
        };
        assert_eq!(run(&p("/bin/true"), None).await, Outcome::Exited(0));
        assert_eq!(run(&p("exit 3 ;"), None).await, Outcome::Exited(3));
        let t0 = std::time::Instant::now();
        assert_eq!(
            run(&p("/bin/sleep 5"), Some(Duration::from_millis(100))).await,
            Outcome::TimedOut
        );
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "killed at the timeout"
        );
        assert!(matches!(
            run(&p("/nonexistent/x"), None).await,
            Outcome::SpawnFailed(_)
        ));
    }
}
