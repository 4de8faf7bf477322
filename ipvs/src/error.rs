//! Errors of the IPVS library: kernel replies mapped to named objects, and decode failures.

use std::fmt;

/// What a request was about, so that an error can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A virtual service, printed like `TCP 10.0.0.1:80`.
    Service(String),
    /// A destination of a service, printed like `TCP 10.0.0.1:80 -> 10.0.0.2:80`.
    Dest(String),
    /// A sync daemon, printed like `sync daemon master`.
    Daemon(String),
    /// Anything else (flush, zero, config, info, family lookup).
    Other(&'static str),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Service(s) | Target::Dest(s) | Target::Daemon(s) => f.write_str(s),
            Target::Other(s) => f.write_str(s),
        }
    }
}

/// Errors of [`crate::Client`] operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The generic netlink controller does not know the "IPVS" family.
    #[error("this kernel has no IPVS (try: modprobe ip_vs)")]
    NoIpvs,
    /// The kernel refused a request; `errno` is positive (EEXIST, ENOENT, ...).
    #[error("{target}: {}", explain(*errno, target))]
    Kernel { target: Target, errno: i32 },
    /// Socket-level failure (create, bind, send, receive).
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel's reply could not be understood.
    #[error("malformed IPVS reply: {0}")]
    Decode(#[from] DecodeError),
    /// A value cannot be encoded (e.g. a scheduler name longer than the kernel accepts).
    #[error("{target}: {reason}")]
    Invalid { target: Target, reason: String },
    /// Acks were lost because the receive buffer overflowed: the kernel state is unknown.
    #[error("netlink receive buffer overflowed (ENOBUFS): re-read the table and plan again")]
    Overrun,
    /// The kernel's reply did not come within the client's timeout: the kernel state is unknown.
    #[error("no reply from the kernel within {0} s")]
    NoReply(u64),
}

impl Error {
    /// The kernel's errno (positive) when the kernel rejected the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// The cause without the object, for callers that name the object themselves
    /// (`no such service` rather than `TCP 10.0.0.1:80: no such service`).
    pub fn reason(&self) -> String {
        match self {
            Error::Kernel { target, errno } => explain(*errno, target),
            Error::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// True when the object to create already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// True when the object to change or delete does not exist (ESRCH for services, ENOENT
    /// for destinations).
    pub fn is_not_found(&self) -> bool {
        matches!(self.errno(), Some(libc::ESRCH) | Some(libc::ENOENT))
    }
}

/// Words for the errnos the IPVS code returns, specific to the kind of object.
fn explain(errno: i32, target: &Target) -> String {
    let what = match target {
        Target::Service(_) => "service",
        Target::Dest(_) => "destination",
        Target::Daemon(_) => "sync daemon",
        Target::Other(_) => "object",
    };
    match (errno, target) {
        (libc::EEXIST, Target::Daemon(_)) => "sync daemon already running".into(),
        (libc::EEXIST, _) => format!("{what} already exists"),
        (libc::ESRCH, _) => "no such service".into(),
        (libc::ENOENT, Target::Dest(_)) => "no such destination".into(),
        (libc::ENOENT, Target::Service(_)) => {
            "unknown scheduler or persistence engine (is its ip_vs_* module available?)".into()
        }
        (libc::EINVAL, _) => format!("invalid {what} parameters (EINVAL)"),
        (libc::ERANGE, _) => format!("{what} value out of range (ERANGE)"),
        (libc::EPERM, _) => "permission denied (needs CAP_NET_ADMIN)".into(),
        (libc::EAFNOSUPPORT, _) => "address family not supported by this kernel's IPVS".into(),
        _ => {
            let io = std::io::Error::from_raw_os_error(errno);
            format!("{io}")
        }
    }
}

/// A reply that does not follow the IPVS wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("attribute {kind} claims {len} bytes, {available} available")]
    BadAttrLength {
        kind: u16,
        len: usize,
        available: usize,
    },
    #[error("{context}: attribute {kind} has a bad value ({len} bytes)")]
    BadValue {
        context: &'static str,
        kind: u16,
        len: usize,
    },
    #[error("{context}: missing attribute {kind}")]
    Missing { context: &'static str, kind: u16 },
    #[error("message shorter than the generic netlink header")]
    ShortHeader,
    #[error("unknown address family {0}")]
    Family(u16),
    #[error("unknown protocol {0}")]
    Protocol(u16),
    #[error("unknown forwarding method {0}")]
    Forward(u32),
    #[error("unknown tunnel type {0}")]
    TunnelType(u8),
    #[error("unknown sync daemon state {0}")]
    DaemonState(u32),
    #[error("netlink framing: {0}")]
    Netlink(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_object_and_the_cause() {
        let e = Error::Kernel {
            target: Target::Dest("TCP 10.0.0.1:80 -> 10.0.0.2:80".into()),
            errno: libc::EEXIST,
        };
        assert_eq!(
            e.to_string(),
            "TCP 10.0.0.1:80 -> 10.0.0.2:80: destination already exists"
        );
        assert!(e.is_exists());
        let e = Error::Kernel {
            target: Target::Service("UDP 10.0.0.1:53".into()),
            errno: libc::ESRCH,
        };
        assert_eq!(e.to_string(), "UDP 10.0.0.1:53: no such service");
        assert_eq!(e.reason(), "no such service");
        assert!(e.is_not_found());
    }

    #[test]
    fn no_ipvs_message() {
        assert_eq!(
            Error::NoIpvs.to_string(),
            "this kernel has no IPVS (try: modprobe ip_vs)"
        );
    }

    #[test]
    fn unknown_errno_falls_back_to_the_os_text() {
        let e = Error::Kernel {
            target: Target::Other("flush"),
            errno: libc::EBUSY,
        };
        assert!(e.to_string().starts_with("flush: "));
        assert_eq!(e.errno(), Some(libc::EBUSY));
    }
}
