//! Where log lines go, as keepalived's flags say: syslog (facility daemon, or local0-7 with `-S`)
//! unless `-G`, and the console (stderr) with `-l`. Under systemd, when stderr is the journal
//! (JOURNAL_STREAM), lines go to stderr only, with `<N>` priority prefixes the journal understands,
//! since syslog would store every line a second time; `-S` asks for syslog there too.

use std::path::PathBuf;

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::syslog::{say, severity, Facility, SyslogLayer};

/// The logging flags of the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    /// `-l`
    pub console: bool,
    /// `-G`
    pub no_syslog: bool,
    /// `-S`, when given.
    pub facility: Option<Facility>,
    /// `-D`: debug lines too.
    pub detail: bool,
}

/// What to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub console: bool,
    /// Console lines carry `<N>` priority prefixes (stderr is the journal).
    pub journal: bool,
    pub syslog: Option<Facility>,
}

/// The destinations for `flags`; `journal`: stderr is connected to the systemd journal.
pub fn plan(flags: Flags, journal: bool) -> Plan {
    let syslog = (!flags.no_syslog && (!journal || flags.facility.is_some()))
        .then(|| flags.facility.unwrap_or(Facility::DAEMON));
    Plan {
        console: flags.console || (journal && syslog.is_none()),
        journal,
        syslog,
    }
}

/// True when stderr is the journal stream systemd gave us: JOURNAL_STREAM names its device and
/// inode (a child that inherited the variable but not the stream does not match).
pub fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat writes into our own zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    st.st_dev == dev && st.st_ino == ino
}

/// Writes `<N>` (the line's syslog severity) before each console line, for the journal.
struct Prefixed<F>(F);

impl<S, N, F> FormatEvent<S, N> for Prefixed<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", severity(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Installs the global subscriber; RUST_LOG overrides the level (`-D`: debug, else info).
pub fn init(flags: Flags) {
    let mut plan = plan(flags, stderr_is_journal());
    let syslog = plan.syslog.and_then(|facility| {
        let path: PathBuf = SyslogLayer::default_path();
        match SyslogLayer::connect(path.clone(), facility, "lvsd") {
            Ok(l) => Some(l),
            Err(e) => {
                // A daemon logging nowhere helps nobody (containers have no /dev/log).
                let also = if plan.console { " only" } else { "" };
                say(&format!(
                    "syslog {} unavailable ({e}); logging to stderr{also}",
                    path.display()
                ));
                plan.console = true;
                None
            }
        }
    });
    let default = if flags.detail { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let mut layers = Vec::new();
    if plan.console {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_target(false);
        layers.push(if plan.journal {
            // The journal stamps each line itself.
            fmt.event_format(Prefixed(
                format::format()
                    .without_time()
                    .with_target(false)
                    .with_ansi(false),
            ))
            .boxed()
        } else {
            fmt.boxed()
        });
    }
    if let Some(l) = syslog {
        layers.push(l.boxed());
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(console: bool, no_syslog: bool, facility: Option<u8>) -> Flags {
        Flags {
            console,
            no_syslog,
            facility: facility.and_then(Facility::local),
            detail: false,
        }
    }

    #[test]
    fn destinations_follow_keepalived_flags() {
        let p = |c, g, s| plan(flags(c, g, s), false);
        assert_eq!(
            p(false, false, None),
            Plan {
                console: false,
                journal: false,
                syslog: Some(Facility::DAEMON)
            },
            "keepalived's default: syslog, facility daemon"
        );
        assert_eq!(p(true, false, Some(3)).syslog, Facility::local(3));
        assert!(p(true, false, Some(3)).console);
        assert_eq!(
            p(true, true, None),
            Plan {
                console: true,
                journal: false,
                syslog: None
            }
        );
        assert_eq!(
            p(false, true, None),
            Plan {
                console: false,
                journal: false,
                syslog: None
            }
        );
    }

    #[test]
    fn under_the_journal_lines_are_stored_once() {
        let j = |c, g, s| plan(flags(c, g, s), true);
        assert_eq!(
            j(false, false, None),
            Plan {
                console: true,
                journal: true,
                syslog: None
            },
            "stderr is the journal: syslog would duplicate every line"
        );
        assert_eq!(j(true, false, None).syslog, None);
        let asked = j(false, false, Some(5));
        assert_eq!(asked.syslog, Facility::local(5), "-S asks for syslog");
        assert!(
            !asked.console,
            "and then the journal gets it from syslog only"
        );
        assert!(j(true, false, Some(5)).console, "-l keeps stderr too");
        assert!(
            j(false, true, None).console,
            "-G: the journal still gets the lines"
        );
    }
}
