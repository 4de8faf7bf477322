//! Which processes a vrrp_track_process counts, as keepalived 2.2.7 decides it: the process name
//! (/proc/PID/comm) equal to `process`, or with `full_command` argv[0] equal to it and the
//! parameters after it compared byte-wise per `param_match`. Exact comparisons, no patterns.

use crate::config::model::{ParamMatch, TrackProcess};

/// What is known of one process: its name and, when some pattern needs it, its command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcInfo {
    pub pid: u32,
    /// /proc/PID/comm (at most 15 bytes), None when not read.
    pub comm: Option<Vec<u8>>,
    /// /proc/PID/cmdline: NUL-terminated arguments, possibly cut (see `Pattern::cmdline_needed`).
    pub cmdline: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    name: Vec<u8>,
    full_command: bool,
    /// The configured parameters, each followed by a NUL (as in /proc/PID/cmdline).
    params: Vec<u8>,
    mode: Option<ParamMatch>,
}

impl Pattern {
    pub fn new(def: &TrackProcess) -> Pattern {
        let mut params = Vec::new();
        for p in &def.params {
            params.extend_from_slice(p.as_bytes());
            params.push(0);
        }
        Pattern {
            name: def.process.as_bytes().to_vec(),
            full_command: def.full_command || def.param_match.is_some() || !def.params.is_empty(),
            params,
            mode: match def.param_match {
                None if !def.params.is_empty() => Some(ParamMatch::Exact),
                m => m,
            },
        }
    }

    pub fn full_command(&self) -> bool {
        self.full_command
    }

    /// Bytes of the command line that decide a match: one more than argv[0] and the parameters
    /// take, so that a longer command line is seen to be longer.
    pub fn cmdline_needed(&self) -> usize {
        self.name.len() + 1 + self.params.len() + 1
    }

    pub fn matches(&self, p: &ProcInfo) -> bool {
        if !self.full_command {
            return p.comm.as_deref() == Some(self.name.as_slice());
        }
        let Some(cmd) = p.cmdline.as_deref() else {
            return false;
        };
        let (argv0, rest) = match cmd.iter().position(|&b| b == 0) {
            Some(i) => (&cmd[..i], &cmd[i + 1..]),
            None => (cmd, &[][..]),
        };
        if argv0 != self.name.as_slice() {
            return false;
        }
        let want = self.params.as_slice();
        match self.mode {
            None => true,
            Some(ParamMatch::Exact) => rest == want,
            Some(ParamMatch::Partial) => rest.starts_with(want),
            // The last parameter may go on: compare without its terminating NUL.
            Some(ParamMatch::Initial) => rest.starts_with(&want[..want.len().saturating_sub(1)]),
        }
    }

    /// Whether a process name alone decides (a PROC_EVENT_COMM carries only the name).
    pub fn by_comm(&self) -> bool {
        !self.full_command
    }

    pub fn comm_matches(&self, comm: &[u8]) -> bool {
        !self.full_command && comm == self.name.as_slice()
    }
}

/// The name and state of /proc/PID/stat ("PID (NAME) S ..."): the name is everything between
/// the first '(' and the last ')' (a name may hold parentheses itself).
pub fn parse_stat(stat: &[u8]) -> Option<(&[u8], u8)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    if close <= open {
        return None;
    }
    let state = *stat.get(close + 2)?;
    Some((&stat[open + 1..close], state))
}

/// Zombies ('Z') and dead tasks ('X') do not run: they are not counted.
pub fn is_running(state: u8) -> bool {
    !matches!(state, b'Z' | b'X' | b'x')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Timer;

    fn def(process: &str, params: &[&str], mode: Option<ParamMatch>, full: bool) -> Pattern {
        Pattern::new(&TrackProcess {
            name: "t".into(),
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: mode,
            full_command: full,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Timer::default(),
            terminate_delay: Timer::default(),
            span: Default::default(),
        })
    }

    fn proc(comm: &str, cmdline: &[&str]) -> ProcInfo {
        let mut c = Vec::new();
        for a in cmdline {
            c.extend_from_slice(a.as_bytes());
            c.push(0);
        }
        ProcInfo {
            pid: 1,
            comm: Some(comm.as_bytes().to_vec()),
            cmdline: Some(c),
        }
    }

    #[test]
    fn the_name_is_the_whole_process_name_not_a_pattern() {
        let p = def("nginx", &[], None, false);
        assert!(p.matches(&proc("nginx", &["/usr/sbin/nginx", "-g", "daemon off;"])));
        assert!(
            !p.matches(&proc("nginx-debug", &["nginx"])),
            "no prefix match"
        );
        assert!(!p.matches(&proc("ngin", &["nginx"])));
        // Without full_command the command line does not count.
        assert!(!p.matches(&proc("worker", &["nginx"])));
    }

    #[test]
    fn full_command_compares_argv0_and_ignores_parameters_without_param_match() {
        let p = def("/usr/sbin/nginx", &[], None, true);
        assert!(p.matches(&proc("nginx", &["/usr/sbin/nginx", "-g", "x"])));
        assert!(p.matches(&proc("nginx", &["/usr/sbin/nginx"])));
        assert!(!p.matches(&proc("nginx", &["nginx"])), "argv[0] as written");
        assert!(!p.matches(&ProcInfo {
            pid: 1,
            comm: Some(b"nginx".to_vec()),
            cmdline: None
        }));
    }

    #[test]
    fn parameters_alone_match_exactly() {
        let p = def("python3", &["-m", "http.server"], None, false);
        assert!(p.full_command(), "parameters imply full_command");
        assert!(p.matches(&proc("python3", &["python3", "-m", "http.server"])));
        assert!(!p.matches(&proc("python3", &["python3", "-m", "http.server", "80"])));
        assert!(!p.matches(&proc("python3", &["python3", "-m"])));
        assert!(!p.matches(&proc("python3", &["python3", "-m", "http.serve"])));
    }

    #[test]
    fn param_match_without_parameters_means_none() {
        let p = def("sleep", &[], Some(ParamMatch::Exact), false);
        assert!(p.matches(&proc("sleep", &["sleep"])));
        assert!(!p.matches(&proc("sleep", &["sleep", "10"])));
        // initial / partial without parameters: any.
        for m in [ParamMatch::Initial, ParamMatch::Partial] {
            assert!(def("sleep", &[], Some(m), false).matches(&proc("sleep", &["sleep", "10"])));
        }
    }

    #[test]
    fn partial_takes_whole_leading_parameters() {
        let p = def(
            "haproxy",
            &["-f", "/etc/haproxy"],
            Some(ParamMatch::Partial),
            false,
        );
        assert!(p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy"])));
        assert!(p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy", "-D"])));
        assert!(!p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy.cfg"])));
        assert!(!p.matches(&proc("haproxy", &["haproxy", "-f"])));
    }

    #[test]
    fn initial_lets_the_last_parameter_go_on() {
        let p = def(
            "haproxy",
            &["-f", "/etc/haproxy"],
            Some(ParamMatch::Initial),
            false,
        );
        assert!(p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy.cfg"])));
        assert!(p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/haproxy", "-D"])));
        assert!(!p.matches(&proc("haproxy", &["haproxy", "-f", "/etc/hap"])));
        assert!(!p.matches(&proc("haproxy", &["haproxy", "-x", "/etc/haproxy"])));
    }

    #[test]
    fn a_cut_command_line_is_still_longer_than_the_exact_one() {
        let p = def("a", &["b"], None, false);
        let needed = p.cmdline_needed();
        let mut long = b"a\0b\0c\0".to_vec();
        long.truncate(needed);
        assert!(!p.matches(&ProcInfo {
            pid: 1,
            comm: None,
            cmdline: Some(long)
        }));
        assert!(p.matches(&ProcInfo {
            pid: 1,
            comm: None,
            cmdline: Some(b"a\0b\0".to_vec())
        }));
    }

    #[test]
    fn odd_command_lines_do_not_match_or_panic() {
        let p = def("a", &["b"], Some(ParamMatch::Initial), false);
        for c in [&b""[..], b"\0", b"a", b"a\0", b"\0\0\0", b"ab"] {
            let info = ProcInfo {
                pid: 1,
                comm: None,
                cmdline: Some(c.to_vec()),
            };
            assert!(!p.matches(&info), "{c:?}");
        }
    }

    #[test]
    fn stat_names_may_hold_parentheses_and_spaces() {
        assert_eq!(
            parse_stat(b"42 (my (odd) name) S 1 2 3"),
            Some((&b"my (odd) name"[..], b'S'))
        );
        assert_eq!(parse_stat(b"7 (x) Z 1"), Some((&b"x"[..], b'Z')));
        assert!(!is_running(b'Z'));
        assert!(is_running(b'S'));
        for bad in [&b""[..], b"1 (x", b"1 x) S", b"1 (x)", b"1 )x( S"] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }
}
