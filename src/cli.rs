//! The command line: keepalived's flags where they apply, so users can swap binaries.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    disable_version_flag = true,
    about = "Load-balancer director: IPVS, health checks and VRRP from a keepalived.conf"
)]
pub struct Cli {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    /// Configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        value_name = "FILE",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    pub use_file: PathBuf,

    /// Check the configuration and exit: 0 when valid (warnings on stderr), 5 with the errors otherwise.
    /// An optional LOG_FILE receives the diagnostics instead of stderr.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1, require_equals = true)]
    pub config_test: Option<Option<PathBuf>>,

    /// Print the parsed configuration as JSON on stdout and exit.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,

    /// Stay in the foreground (lvsd always does; accepted for compatibility).
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,

    /// Log to the console (stderr), besides syslog.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,

    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,

    /// Syslog facility: 0-7 (local0-7), localN, user or daemon (default daemon).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY", value_parser = crate::daemon::syslog::Facility::parse)]
    pub log_facility: Option<crate::daemon::syslog::Facility>,

    /// Don't log via syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,

    /// Run VRRP only (IPVS is never touched).
    #[arg(short = 'P', long = "vrrp", conflicts_with = "check")]
    pub vrrp: bool,

    /// Run health checkers and IPVS only.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Pid file.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Config id selecting `@id` lines (default: the host name up to its first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,

    /// Print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR or JSON, and exit.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,

    /// At most N scripts (notify, track, MISC_CHECK) run at once; the others wait in order.
    /// Default: 64, or 4 per CPU when that is more.
    #[arg(long = "max-scripts", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_scripts: Option<u32>,

    /// Serve /metrics and /status on this address (e.g. 127.0.0.1:9650).
    #[arg(long = "metrics-listen", value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// The control socket `lvsd ctl` talks to (default: global_defs control_socket, else
    /// /run/lvsd/lvsd.sock).
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,

    /// Where operators' drains, maintenance and weights (lvsd ctl) are kept across reloads and
    /// restarts (default /var/lib/lvsd/state.json).
    #[arg(long = "state-file", value_name = "FILE")]
    pub state_file: Option<PathBuf>,

    /// On stop, leave the VRRP virtual addresses, virtual routes and rules and use_vmac interfaces in
    /// place, and send no priority 0 advert.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,

    /// On stop, leave the IPVS services lvsd programmed in the kernel.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,

    /// keepalived flags without meaning for lvsd, accepted so init scripts keep working.
    #[arg(short = 'R', long = "dont-respawn", hide = true)]
    pub dont_respawn: bool,
    #[arg(short = 'm', long = "core-dump", hide = true)]
    pub core_dump: bool,
    #[arg(short = 'B', long = "no_bfd", hide = true)]
    pub no_bfd: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a running lvsd to reload its configuration (SIGHUP to the pid in the pid file).
    Reload {
        /// Pid file of the running lvsd (default: lvsd's -p, else /run/lvsd.pid).
        #[arg(short = 'p', long = "pid", value_name = "FILE")]
        pid: Option<PathBuf>,
    },
    /// Print the MD5 digest of a web page for HTTP_GET / SSL_GET `digest`, as keepalived's genhash.
    Genhash(crate::check::genhash::GenhashArgs),
    /// One-shot IPVS programming from the configuration, without health checks or VRRP.
    Ipvs {
        #[command(subcommand)]
        action: IpvsAction,
    },
    /// Look at and steer a running lvsd over its control socket.
    Ctl(CtlArgs),
}

#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The control socket (default: the running configuration's, /run/lvsd/lvsd.sock).
    #[arg(short = 's', long = "socket", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print the reply as JSON (one object; `events`: one per line) instead of tables.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// VRRP instances, virtual and real servers (health, weights, connections, overrides), sync daemons.
    Status,
    /// Weight 0 now; out of the table once the active connections end or TIMEOUT passes.
    Drain {
        /// Virtual server: ADDR:PORT, tcp:ADDR:PORT, fwm:N, group:NAME or * (every one).
        vs: String,
        /// Real server: ADDR or ADDR:PORT.
        rs: String,
        /// Seconds to wait for the connections (default 300).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// Out of the table now, until enable.
    Disable { vs: String, rs: String },
    /// Back to the configured state, through slow start if configured.
    Enable { vs: String, rs: String },
    /// A runtime weight, until enable.
    Weight { vs: String, rs: String, weight: u32 },
    /// Hand an instance's VIPs over (backup) and keep it BACKUP until resume.
    Vrrp {
        instance: String,
        #[arg(value_enum)]
        action: CtlVrrpAction,
        /// Hand over even when no other router was heard.
        #[arg(long)]
        force: bool,
    },
    /// Reload the configuration and print what changed; --dry-run only prints what would.
    Reload {
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
    /// Stream VRRP transitions, real-server health, quorum changes and reloads as JSON lines.
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CtlVrrpAction {
    Backup,
    Resume,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum IpvsAction {
    /// Make the kernel's table hold the configured virtual servers, every real server up; print the
    /// number of operations and the time taken. Other services are left alone.
    Sync,
    /// Print the desired table (all real servers up) in the ipvs crate's text form, without root.
    Show,
    /// Remove the configured virtual servers from the kernel.
    Clear,
}

/// keepalived's `--signum` table (glibc real-time signal numbering for JSON and STATS_CLEAR).
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMAX() - 1,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_numbers_match_keepalived_on_linux() {
        assert_eq!(signum("STOP"), Some(15));
        assert_eq!(signum("RELOAD"), Some(1));
        assert_eq!(signum("DATA"), Some(10));
        assert_eq!(signum("STATS"), Some(12));
        assert_eq!(signum("JSON"), Some(36));
        assert_eq!(signum("STATS_CLEAR"), Some(63));
        assert_eq!(signum("TDATA"), None);
    }

    #[test]
    fn keepalived_command_lines_parse() {
        let c = Cli::try_parse_from([
            "lvsd", "-t", "-f", "/x.conf", "-i", "main", "-D", "-l", "-S", "7",
        ])
        .expect("parse");
        assert_eq!(c.config_test, Some(None));
        assert_eq!(c.use_file, PathBuf::from("/x.conf"));
        let c = Cli::try_parse_from(["lvsd", "--config-test=/tmp/log", "--use-file=/y"])
            .expect("parse");
        assert_eq!(c.config_test, Some(Some(PathBuf::from("/tmp/log"))));
        assert!(Cli::try_parse_from(["lvsd", "-P", "-C"]).is_err());
        let c = Cli::try_parse_from(["lvsd", "-S", "local2", "-G", "--max-scripts", "8"])
            .expect("parse");
        assert_eq!(c.log_facility.map(|f| f.code()), Some(18));
        assert_eq!(c.max_scripts, Some(8));
        assert!(Cli::try_parse_from(["lvsd", "-S", "9"]).is_err());
        assert!(Cli::try_parse_from(["lvsd", "--max-scripts", "0"]).is_err());
    }

    #[test]
    fn keepalived_release_flags_parse() {
        let c = Cli::try_parse_from(["lvsd", "-V", "-I", "-n"]).expect("parse");
        assert!(c.dont_release_vrrp && c.dont_release_ipvs);
        let c = Cli::try_parse_from(["lvsd", "--dont-release-vrrp"]).expect("parse");
        assert!(c.dont_release_vrrp && !c.dont_release_ipvs);
        let e = Cli::try_parse_from(["lvsd", "-v"]).expect_err("-v prints the version");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
    }

    #[test]
    fn reload_takes_the_pid_file_before_or_after_the_command() {
        let pid_of = |args: &[&str]| match Cli::try_parse_from(args).expect("parse").command {
            Some(Command::Reload { pid }) => pid,
            other => panic!("not a reload: {other:?}"),
        };
        assert_eq!(
            pid_of(&["lvsd", "reload", "-p", "/a.pid"]),
            Some("/a.pid".into())
        );
        assert_eq!(
            pid_of(&["lvsd", "reload", "--pid=/b.pid"]),
            Some("/b.pid".into())
        );
        let c = Cli::try_parse_from(["lvsd", "-p", "/c.pid", "reload"]).expect("parse");
        assert_eq!(c.pid, Some("/c.pid".into()));
    }
}
