use clap::Parser;
use lvsd::cli::{signum, Cli, Command, IpvsAction};
use lvsd::config::{self, LoadOptions};
use std::io::Write;
use std::process::ExitCode;

/// keepalived exits 5 (KEEPALIVED_EXIT_CONFIG) on configuration errors; scripts test for it.
const EXIT_CONFIG: u8 = 5;

fn main() -> ExitCode {
    // One malloc arena for every thread: the IPVS thread's large start-up batch is freed into the
    // arena the checkers then reuse, instead of a second arena that keeps its pages (glibc's
    // default is up to 8 per CPU).
    // SAFETY: mallopt only changes allocator tuning, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let cli = Cli::parse();
    if let Some(name) = &cli.signum {
        return match signum(name) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("Unknown sigfunc {name}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Reload { pid }) = &cli.command {
        return reload(pid.as_ref().or(cli.pid.as_ref()));
    }
    if let Some(Command::Genhash(args)) = cli.command {
        return lvsd::check::genhash::run(args);
    }
    if let Some(Command::Ctl(args)) = &cli.command {
        return lvsd::control::client::run(args, &ctl_socket(&cli, args));
    }
    let opts = LoadOptions {
        config_id: cli
            .config_id
            .clone()
            .unwrap_or_else(config::default_config_id),
        check_machine: true,
    };
    let loaded = config::load(&cli.use_file, &opts);
    let lines = loaded.render();
    let mut sink: Box<dyn Write> = match &cli.config_test {
        Some(Some(log)) => match std::fs::File::create(log) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("lvsd: cannot write {}: {e}", log.display());
                Box::new(std::io::stderr())
            }
        },
        _ => Box::new(std::io::stderr()),
    };
    for l in &lines {
        let _ = writeln!(sink, "{l}");
    }
    let Some(cfg) = loaded.config else {
        let n = loaded.error_count();
        let _ = writeln!(
            sink,
            "{}: {n} error{} in the configuration",
            cli.use_file.display(),
            if n == 1 { "" } else { "s" }
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if cli.dump_conf {
        match serde_json::to_string_pretty(&cfg) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("lvsd: cannot render the configuration: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    if cli.config_test.is_some() {
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Ipvs { action }) = cli.command {
        return ipvs_once(action, &cfg);
    }
    lvsd::daemon::run(&cli, cfg)
}

/// The socket `lvsd ctl` talks to: its -s, else the daemon's rule (--control-socket, the
/// configuration's control_socket, beside a -p pid file, the default).
fn ctl_socket(cli: &lvsd::cli::Cli, args: &lvsd::cli::CtlArgs) -> std::path::PathBuf {
    if let Some(s) = &args.socket {
        return s.clone();
    }
    let opts = LoadOptions {
        config_id: cli
            .config_id
            .clone()
            .unwrap_or_else(config::default_config_id),
        check_machine: false,
    };
    // The configuration only matters when it moves the socket; a missing or broken file does not.
    let cfg = if cli.control_socket.is_none() && cli.use_file.exists() {
        config::load(&cli.use_file, &opts).config
    } else {
        None
    };
    lvsd::daemon::control_socket(cli, &cfg.unwrap_or_else(config::model::Config::empty))
}

/// `lvsd reload`: SIGHUP to the pid in the pid file (`reload -p FILE` or `-p FILE reload`).
fn reload(pid_file: Option<&std::path::PathBuf>) -> ExitCode {
    let pid_file = pid_file
        .cloned()
        .unwrap_or_else(|| lvsd::daemon::DEFAULT_PID_FILE.into());
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let Some(pid) = pid else {
        eprintln!("lvsd reload: cannot read a pid from {}", pid_file.display());
        return ExitCode::FAILURE;
    };
    // SAFETY: kill(2) with a pid read from our pid file and a valid signal number has no memory effects.
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        eprintln!(
            "lvsd reload: cannot signal pid {pid}: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn ipvs_once(action: IpvsAction, cfg: &lvsd::config::Config) -> ExitCode {
    use lvsd::director::{kernel::Kernel, Director};
    let director = Director::new(&std::sync::Arc::new(cfg.clone()));
    let desired = director.desired();
    if let IpvsAction::Show = action {
        print!("{}", ipvs::text::format_table(&desired));
        return ExitCode::SUCCESS;
    }
    let mut kernel = match Kernel::start(&cfg.global) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("lvsd: IPVS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match action {
        IpvsAction::Clear => {
            kernel.adopt(director.owned_keys());
            kernel
                .sync(&ipvs::Table::new(), |_, _| 0)
                .map(|r| ("removed", r))
        }
        _ => {
            let ranks = director.ranks();
            let r = kernel
                .sync(&desired, |k, d| ranks.rank(k, d))
                .map(|r| ("programmed", r));
            // The kernel keeps the daemons after lvsd exits; with no VRRP to follow they
            // receive (and both run without an instance).
            if let Some(spec) = lvsd::director::syncd::SyncSpec::from_config(cfg) {
                let role = spec.role(&Default::default());
                kernel.set_sync(Some(&spec), role);
            }
            r
        }
    };
    match result {
        Ok((what, r)) => {
            println!(
                "{what} {} services, {} destinations: {} operations, {} failed, {:.3} s",
                desired.services.len(),
                desired.dest_count(),
                r.ops,
                r.failed.len(),
                r.elapsed.as_secs_f64()
            );
            if r.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("lvsd: IPVS: {e}");
            ExitCode::FAILURE
        }
    }
}
