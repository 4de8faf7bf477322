//! Every checker in flight holds a socket (or a pipe for MISC_CHECK), so thousands of checkers need
//! more than the usual soft limit of 1024 open files; past it every check fails with EMFILE and the
//! real servers leave IPVS. Like keepalived, raise the limit to what the configuration needs.

/// Files lvsd keeps besides its checkers (netlink, logs, VRRP sockets, scripts' pipes).
const MARGIN: u64 = 1024;

/// Raises RLIMIT_NOFILE so that `checkers` checks can run at once; returns the soft limit in force.
pub fn ensure(checkers: usize) -> u64 {
    let need = checkers as u64 + MARGIN;
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 0;
    }
    if r.rlim_cur >= need {
        return r.rlim_cur;
    }
    // Root may raise the hard limit too; otherwise go as far as the hard limit allows.
    let want = libc::rlimit {
        rlim_cur: need,
        rlim_max: r.rlim_max.max(need),
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        return need;
    }
    let capped = libc::rlimit {
        rlim_cur: r.rlim_max.min(need),
        rlim_max: r.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } == 0 {
        capped.rlim_cur
    } else {
        r.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limit_covers_the_checkers_within_the_hard_limit() {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscall on a local struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        let got = super::ensure(100);
        assert!(
            got >= (100 + super::MARGIN).min(r.rlim_max),
            "soft limit {got}"
        );
    }
}
