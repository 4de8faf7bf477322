//! The master's side of catch-up: answers requests by sending its kernel's connection table to
//! the sync group as IPVS sync messages. Runs whenever the sync daemon follows a VRRP instance.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use ipvs::conns::{sync_messages, SyncConn, DEFAULT_SYNC_MAXLEN};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::{Msg, MAX_DATAGRAM};
use crate::director::syncd::SyncSpec;
use crate::status;

/// Asks the IPVS thread for the table as sync entries.
pub type Fetch = Box<dyn Fn() -> Option<oneshot::Receiver<Result<Vec<SyncConn>, String>>>>;

/// A dump this recent answers a new request too (two instances of a sync group ask at once).
const REUSE: Duration = Duration::from_millis(500);
/// Sync messages sent back to back before a pause, so the receiver's socket buffer keeps up.
const BURST: usize = 32;

/// Serves catch-up requests on UDP `port` until the task is dropped.
pub async fn run(port: u16, spec: SyncSpec, fetch: Fetch) {
    let sock = match bind(port) {
        Ok(s) => s,
        Err(e) => {
            warn!("catch-up: cannot listen on UDP port {port}: {e}; a returning director will preempt without this director's connection table");
            return;
        }
    };
    let mcast = match sender(&spec) {
        Ok(s) => s,
        Err(e) => {
            warn!(
                "catch-up: cannot send to the sync group {} on {}: {e}",
                spec.group(),
                spec.interface
            );
            return;
        }
    };
    info!("catch-up: answering on UDP port {port}");
    let mut last: Option<(Instant, u8, u64, u64)> = None;
    let mut buf = [0u8; MAX_DATAGRAM];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                warn!("catch-up: receiving: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(Msg::Request { syncid, nonce }) = Msg::decode(&buf[..n]) else {
            debug!("catch-up: ignored a datagram from {peer} that is not a request");
            continue;
        };
        if spec.syncid != 0 && syncid != spec.syncid {
            let reason = format!("syncid-{}-not-{}", syncid, spec.syncid);
            warn!(
                "catch-up: refused {peer}: it follows sync id {syncid}, ours is {}",
                spec.syncid
            );
            reply(&sock, peer, &Msg::Refused { nonce, reason }).await;
            continue;
        }
        reply(&sock, peer, &Msg::Ack { nonce }).await;
        let (entries, messages) = match last {
            Some((at, id, e, m)) if id == syncid && at.elapsed() < REUSE => (e, m),
            _ => match dump(&fetch, &mcast, &spec, syncid).await {
                Ok((e, m)) => {
                    last = Some((Instant::now(), syncid, e, m));
                    info!(
                        "catch-up: sent {e} connection entries in {m} sync messages to {}:{} for {peer}",
                        spec.group(),
                        spec.port()
                    );
                    status::emit(status::Event::CatchUp {
                        served: true,
                        entries: e,
                    });
                    (e, m)
                }
                Err(why) => {
                    warn!("catch-up: cannot send the connection table to {peer}: {why}");
                    reply(
                        &sock,
                        peer,
                        &Msg::Refused {
                            nonce,
                            reason: "no-table".into(),
                        },
                    )
                    .await;
                    continue;
                }
            },
        };
        reply(
            &sock,
            peer,
            &Msg::Done {
                nonce,
                entries,
                messages,
            },
        )
        .await;
    }
}

async fn reply(sock: &UdpSocket, peer: SocketAddr, m: &Msg) {
    if let Err(e) = sock.send_to(m.encode().as_bytes(), peer).await {
        warn!("catch-up: answering {peer}: {e}");
    }
}

/// Sends the table; returns the entries and messages sent.
async fn dump(
    fetch: &Fetch,
    mcast: &UdpSocket,
    spec: &SyncSpec,
    syncid: u8,
) -> Result<(u64, u64), String> {
    let rx = fetch().ok_or("the IPVS thread is not running")?;
    let entries = rx.await.map_err(|_| "the IPVS thread ended")??;
    let maxlen = spec.maxlen.map_or(DEFAULT_SYNC_MAXLEN, usize::from);
    let msgs = sync_messages(syncid, maxlen, &entries);
    let to = SocketAddr::new(spec.group(), spec.port());
    for (i, m) in msgs.iter().enumerate() {
        if i > 0 && i % BURST == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        mcast
            .send_to(m, to)
            .await
            .map_err(|e| format!("sending to {to}: {e}"))?;
    }
    Ok((entries.len() as u64, msgs.len() as u64))
}

/// Both families on one socket where IPv6 is there, else IPv4 only.
fn bind(port: u16) -> std::io::Result<UdpSocket> {
    let v6 = || -> std::io::Result<Socket> {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_only_v6(false)?;
        s.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).into())?;
        Ok(s)
    };
    let s = match v6() {
        Ok(s) => s,
        Err(_) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.bind(&SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port).into())?;
            s
        }
    };
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    UdpSocket::from_std(s.into())
}

/// A socket sending to the sync group out of the sync interface, as the kernel's master daemon
/// does (its TTL, no loopback).
fn sender(spec: &SyncSpec) -> std::io::Result<UdpSocket> {
    let group = spec.group();
    let domain = if group.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.bind_device(Some(spec.interface.as_bytes()))?;
    let ttl = u32::from(spec.ttl.unwrap_or(1));
    if group.is_ipv4() {
        s.set_multicast_ttl_v4(ttl)?;
        s.set_multicast_loop_v4(false)?;
    } else {
        let name = std::ffi::CString::new(spec.interface.as_str())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: if_nametoindex reads a NUL-terminated string and has no other preconditions.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        s.set_multicast_if_v6(index)?;
        s.set_multicast_hops_v6(ttl)?;
        s.set_multicast_loop_v6(false)?;
    }
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    UdpSocket::from_std(s.into())
}
