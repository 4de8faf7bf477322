//! The returning director's side of catch-up: asks the master for its connection table and waits
//! until this kernel holds it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::time::timeout;
use tracing::{info, warn};

use super::{Msg, MAX_DATAGRAM};

/// How a catch-up ended; preemption goes on after every one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The master sent `entries`; this kernel holds `synced` entries that came by sync.
    Synced {
        entries: u64,
        synced: u64,
    },
    /// Nothing answered (a keepalived peer, or lvsd without catch-up).
    NoResponder,
    Refused(String),
    /// The master acknowledged but did not finish in time.
    TimedOut,
    Failed(String),
}

/// Without an acknowledgement within this time there is nobody to wait for.
const ACK_WAIT: Duration = Duration::from_secs(1);
const RESEND: Duration = Duration::from_millis(250);
/// After "done": how long the kernel's backup daemon gets to take the messages in.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn ask(master: IpAddr, port: u16, syncid: u8, hold: Duration) -> Outcome {
    let started = Instant::now();
    let deadline = started + hold;
    let sock = match UdpSocket::bind(SocketAddr::new(unspecified(master), 0)).await {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("cannot open a UDP socket: {e}")),
    };
    let to = SocketAddr::new(master, port);
    let nonce: u64 = rand::random();
    let request = Msg::Request { syncid, nonce }.encode();
    let mut buf = [0u8; MAX_DATAGRAM];
    let mut acked = false;
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Outcome::TimedOut;
        }
        if !acked && now >= started + ACK_WAIT {
            return Outcome::NoResponder;
        }
        if !acked && now >= next_send {
            if let Err(e) = sock.send_to(request.as_bytes(), to).await {
                return Outcome::Failed(format!("sending to {to}: {e}"));
            }
            next_send = now + RESEND;
        }
        let wait_until = if acked {
            deadline
        } else {
            next_send.min(started + ACK_WAIT)
        };
        let wait = wait_until.saturating_duration_since(Instant::now());
        let Ok(r) = timeout(wait, sock.recv_from(&mut buf)).await else {
            continue;
        };
        let (n, from) = match r {
            Ok(x) => x,
            // An ICMP port unreachable from a master without catch-up shows up here.
            Err(_) if !acked => return Outcome::NoResponder,
            Err(e) => return Outcome::Failed(format!("receiving: {e}")),
        };
        if from.ip() != master {
            continue;
        }
        match Msg::decode(&buf[..n]) {
            Some(m) if m.nonce() != nonce => {}
            Some(Msg::Ack { .. }) => acked = true,
            Some(Msg::Refused { reason, .. }) => return Outcome::Refused(reason),
            Some(Msg::Done { entries, .. }) => {
                let synced = settle(entries, deadline).await;
                return Outcome::Synced { entries, synced };
            }
            _ => {}
        }
    }
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::from([0, 0, 0, 0]),
        IpAddr::V6(_) => IpAddr::from([0u16; 8]),
    }
}

/// Waits until this kernel lists at least `entries` synced entries (or SETTLE passes), and
/// returns how many it lists.
async fn settle(entries: u64, deadline: Instant) -> u64 {
    let until = deadline.min(Instant::now() + SETTLE);
    loop {
        let n = synced_entries();
        if n >= entries || Instant::now() >= until {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Entries of this namespace's table that came by sync (`/proc/net/ip_vs_conn_sync`).
fn synced_entries() -> u64 {
    std::fs::read_to_string("/proc/net/ip_vs_conn_sync")
        .map(|t| {
            t.lines()
                .filter(|l| l.split_whitespace().nth(8) == Some("SYNC"))
                .count() as u64
        })
        .unwrap_or(0)
}

/// One log line for an outcome, as operators read it.
pub fn log(master: IpAddr, took: Duration, o: &Outcome) {
    let secs = took.as_secs_f64();
    match o {
        Outcome::Synced { entries, synced } if synced >= entries => info!(
            "catch-up: {master} sent {entries} connection entries; this director holds them ({synced} synced entries) after {secs:.3} s"
        ),
        Outcome::Synced { entries, synced } => warn!(
            "catch-up: {master} sent {entries} connection entries but only {synced} arrived within {secs:.3} s (sync messages lost?)"
        ),
        Outcome::NoResponder => info!(
            "catch-up: {master} does not answer catch-up requests (not lvsd, or catch-up off); preempting with what the kernel synced"
        ),
        Outcome::Refused(why) => warn!("catch-up: {master} refused: {why}"),
        Outcome::TimedOut => warn!("catch-up: {master} did not send its table within {secs:.1} s"),
        Outcome::Failed(why) => warn!("catch-up: asking {master}: {why}"),
    }
}
