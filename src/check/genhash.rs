//! `lvsd genhash`: keepalived's genhash, printing the MD5 digest of a page for HTTP_GET/SSL_GET
//! `digest` lines. As keepalived 2.2.7's genhash, the plain output is the hex digest alone.

use super::http::{fetch, md5_hex, tls_setup, GetSpec, HttpProtocol};
use super::net::{within, Bind, Target};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct GenhashArgs {
    /// Use SSL connection to the remote server.
    #[arg(short = 'S', long = "use-ssl")]
    pub ssl: bool,
    /// Use SNI during the SSL handshake (the virtualhost, see -V).
    #[arg(short = 'I', long = "use-sni")]
    pub sni: bool,
    /// The remote server address.
    #[arg(short = 's', long = "server")]
    pub server: String,
    /// The remote server port.
    #[arg(short = 'p', long = "port")]
    pub port: u16,
    /// The url to get.
    #[arg(short = 'u', long = "url")]
    pub url: String,
    /// The virtualhost for the Host header (and SNI with -I).
    #[arg(short = 'V', long = "use-virtualhost")]
    pub virtualhost: Option<String>,
    /// Print the headers, the body and the hash.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Mark outgoing packets with this fwmark.
    #[arg(short = 'm', long = "fwmark")]
    pub fwmark: Option<u32>,
    /// HTTP protocol: 1.0, 1.0c (1.0 with Connection: close) or 1.1.
    #[arg(short = 'P', long = "protocol")]
    pub protocol: Option<String>,
    /// Timeout in seconds.
    #[arg(short = 't', long = "timeout", default_value_t = 5)]
    pub timeout: u64,
}

pub fn run(args: GenhashArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genhash: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(digest(&args)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("genhash: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What genhash prints on success.
pub async fn digest(args: &GenhashArgs) -> Result<String, String> {
    let ip = resolve(&args.server)?;
    let protocol = HttpProtocol::parse(args.protocol.as_deref()).ok_or_else(|| {
        format!(
            "bad protocol '{}', expected 1.0, 1.0c or 1.1",
            args.protocol.as_deref().unwrap_or("")
        )
    })?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut target = Target::new(SocketAddr::new(ip, args.port), "tcp", timeout);
    target.set_bind(Bind {
        fwmark: args.fwmark,
        ..Bind::default()
    });
    let tls = if args.ssl {
        Some(
            tls_setup(args.sni, None, args.virtualhost.as_deref(), ip, None, None)
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    let spec = GetSpec::get(&args.url, args.virtualhost.as_deref(), protocol);
    let started = std::time::Instant::now();
    let page = within(timeout, fetch(&target, tls.as_ref(), &spec))
        .await?
        .map_err(|e| format!("connection to [{ip}]:{} failed: {e}", args.port))?;
    let hash = md5_hex(page.body());
    if !args.verbose {
        return Ok(format!("{hash}\n"));
    }
    let mut out = String::new();
    section(&mut out, "HTTP Header Ascii Buffer");
    out.push_str(&String::from_utf8_lossy(page.head()).replace("\r\n", "\n"));
    section(&mut out, "HTML Buffer");
    hexdump(&mut out, page.body());
    section(&mut out, "HTML hash final resulting");
    let _ = writeln!(out, "{hash}");
    let _ = writeln!(
        out,
        "\nGlobal response time for [{}] = {} usecs",
        args.url,
        started.elapsed().as_micros()
    );
    Ok(out)
}

fn resolve(server: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = server.parse::<IpAddr>() {
        return Ok(ip);
    }
    (server, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| format!("cannot resolve '{server}'"))
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "-----------------------[ {title:^24} ]-----------------------"
    );
}

/// `0000  68 65 6c 6c 6f 0a - ...   hello.`, 16 bytes a line as genhash prints.
fn hexdump(out: &mut String, data: &[u8]) {
    for (i, chunk) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:04}  ", i * 16);
        for j in 0..16 {
            if j == 8 {
                out.push_str("- ");
            }
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  ");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
}
