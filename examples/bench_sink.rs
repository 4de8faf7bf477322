//! Local answer for the checker benchmarks (scripts/bench/checker-load.sh): `bench_sink PORT tcp|http
//! [THREADS]` accepts on 0.0.0.0:PORT; tcp closes each connection at once, http reads the request and
//! sends a fixed 200 response. Compiled code, so that under emulation the sink is not what limits the
//! checks per second of the daemon being measured (a Python sink was).
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

const REPLY: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

fn listener(port: u16) -> std::io::Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SockAddr::from(SocketAddr::from(([0, 0, 0, 0], port))))?;
    s.listen(65535)?;
    Ok(s.into())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(mode)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2)) else {
        eprintln!("usage: bench_sink PORT tcp|http [THREADS]");
        std::process::exit(2);
    };
    let http = mode == "http";
    let threads: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(4);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let l = listener(port)?;
            Ok(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let Ok((mut c, _)) = l.accept() else { continue };
                    if http {
                        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(REPLY);
                    }
                }
            }))
        })
        .collect::<std::io::Result<_>>()?;
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}
