//! Blocking IPVS client on a generic netlink socket (netlink-sys), with netlink-packet-core
//! framing and the netlink-packet-generic controller for the family lookup.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;

use netlink_packet_core::{
    DoneBuffer, Emitable, ErrorBuffer, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, ParseableParametrized, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::consts::{IPVS_GENL_NAME, IPVS_GENL_VERSION};
use crate::error::{DecodeError, Error, Target};
use crate::plan::{Op, Table, VirtualService};
use crate::types::*;
use crate::wire::{self, Request};

/// Bytes read per recv: more than the kernel puts in one dump skb (about 32 KiB).
const RECV_LEN: usize = 256 * 1024;
/// Socket receive buffer asked for (SO_RCVBUFFORCE when root, else capped by rmem_max), so
/// that a window of acks or a burst of dump replies never overflows.
const SOCK_RCVBUF: usize = 16 * 1024 * 1024;
/// Requests in flight in a batch: their acks must fit in the receive buffer even when only
/// the default rmem_max (~208 KiB, doubled) is available.
const WINDOW: usize = 256;

/// The IPVS generic netlink payload: command, and attributes encoded by [`crate::wire`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct IpvsGenl {
    cmd: u8,
    attrs: Vec<u8>,
}

impl GenlFamily for IpvsGenl {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsGenl {
    fn buffer_len(&self) -> usize {
        self.attrs.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        buffer[..self.attrs.len()].copy_from_slice(&self.attrs);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsGenl {
    fn parse_with_param(
        buf: &[u8],
        header: GenlHeader,
    ) -> Result<Self, netlink_packet_core::DecodeError> {
        Ok(IpvsGenl {
            cmd: header.cmd,
            attrs: buf.to_vec(),
        })
    }
}

/// Serialises one IPVS request as a complete netlink message.
fn frame(family: u16, seq: u32, req: &Request) -> Vec<u8> {
    let genl = GenlMessage::new(
        GenlHeader {
            cmd: req.cmd,
            version: IPVS_GENL_VERSION,
        },
        IpvsGenl {
            cmd: req.cmd,
            attrs: req.attrs.clone(),
        },
        family,
    );
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | if req.dump { NLM_F_DUMP } else { NLM_F_ACK };
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// One message out of a receive buffer, classified.
pub(crate) enum Reply<'a> {
    /// ACK (errno 0) or NACK (positive errno) of the request with this sequence number.
    Ack { seq: u32, errno: i32 },
    /// End of a dump; a non-zero errno means the dump failed.
    Done { seq: u32, errno: i32 },
    /// A data message: its generic netlink payload.
    Data { seq: u32, payload: &'a [u8] },
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Splits a receive buffer into messages, without copying.
pub(crate) fn replies(mut buf: &[u8]) -> Result<Vec<Reply<'_>>, DecodeError> {
    let framing = |e: netlink_packet_core::DecodeError| DecodeError::Netlink(e.to_string());
    let mut out = Vec::new();
    while !buf.is_empty() {
        let nb = NetlinkBuffer::new_checked(buf).map_err(framing)?;
        let len = nb.length() as usize;
        let seq = nb.sequence_number();
        let payload = nb.payload();
        match nb.message_type() {
            NLMSG_ERROR => {
                let eb = ErrorBuffer::new_checked(payload).map_err(framing)?;
                // The kernel sends -errno; i32::MIN has no negation, and stays an error.
                let errno = eb.code().map_or(0, |c| c.get().saturating_neg());
                out.push(Reply::Ack { seq, errno });
            }
            NLMSG_DONE => {
                let errno = if payload.len() >= 4 {
                    DoneBuffer::new_checked(payload)
                        .map_err(framing)?
                        .code()
                        .saturating_neg()
                } else {
                    0
                };
                out.push(Reply::Done { seq, errno });
            }
            NLMSG_NOOP => {}
            _ => out.push(Reply::Data { seq, payload }),
        }
        buf = &buf[align4(len).min(buf.len())..];
    }
    Ok(out)
}

#[cfg(test)]
mod reply_tests {
    use super::*;

    fn nlmsg(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        m
    }

    /// A dump reply cut short anywhere (a truncated datagram) is a framing error or the
    /// messages before the cut, never a panic or a message read past its end.
    #[test]
    fn a_reply_cut_short_anywhere_is_an_error_or_the_messages_before_it() {
        let mut buf = nlmsg(0x20, &[1, 1, 0, 0, 8, 0, 1, 0, 7, 0, 0, 0]);
        buf.extend_from_slice(&nlmsg(0x20, &[1, 1, 0, 0]));
        buf.extend_from_slice(&nlmsg(NLMSG_DONE, &0i32.to_ne_bytes()));
        let whole = replies(&buf).expect("framing").len();
        assert_eq!(whole, 3);
        for cut in 0..buf.len() {
            if let Ok(got) = replies(&buf[..cut]) {
                assert!(got.len() < whole, "cut at {cut}");
                for r in got {
                    if let Reply::Data { payload, .. } = r {
                        assert!(payload.len() <= 12);
                    }
                }
            }
        }
    }

    /// Found by fuzzing (ipvs_netlink): negating i32::MIN panicked with overflow checks.
    #[test]
    fn an_errno_of_i32_min_is_an_error_not_an_overflow() {
        let mut err = i32::MIN.to_ne_bytes().to_vec();
        err.extend_from_slice(&[0; 16]); // the request's header, echoed
        let buf = nlmsg(NLMSG_ERROR, &err);
        let got = replies(&buf).expect("framing");
        assert!(matches!(got[..], [Reply::Ack { errno, .. }] if errno != 0));
        let buf = nlmsg(NLMSG_DONE, &i32::MIN.to_ne_bytes());
        let got = replies(&buf).expect("framing");
        assert!(matches!(got[..], [Reply::Done { errno, .. }] if errno != 0));
    }
}

/// Result of [`Client::apply`]: how many operations succeeded and which failed.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub ok: usize,
    /// Index into the operations given, and the error of that operation.
    pub failed: Vec<(usize, Error)>,
}

/// A connection to the kernel's IPVS over generic netlink.
pub struct Client {
    sock: Socket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
}

/// How long a request waits for its ack.
#[derive(Clone, Copy)]
enum AckWait {
    /// Until it comes (or the reply timeout).
    Block,
    /// Only for one already queued when the send returned: the kernel handles a generic-netlink
    /// request inside the send, so one not queued then never comes (IPVS_CMD_DEL_DAEMON).
    QueuedOnly,
}

impl Client {
    /// Opens a generic netlink socket and resolves the "IPVS" family.
    /// Fails with [`Error::NoIpvs`] when the kernel does not know the family.
    pub fn connect() -> Result<Self, Error> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Acks carry only the request's header, not its payload: smaller, more fit in flight.
        let _ = sock.set_cap_ack(true);
        set_rcvbuf(&sock, SOCK_RCVBUF);
        set_rcvtimeo(&sock, REPLY_TIMEOUT);
        let mut client = Client {
            sock,
            family: 0,
            seq: 0,
            buf: vec![0u8; RECV_LEN],
        };
        client.family = client.resolve_family()?;
        Ok(client)
    }

    /// Like [`Client::connect`], but runs `modprobe ip_vs` once when IPVS is missing.
    pub fn connect_or_modprobe() -> Result<Self, Error> {
        match Self::connect() {
            Err(Error::NoIpvs) => {
                let _ = std::process::Command::new("modprobe")
                    .arg("ip_vs")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                Self::connect()
            }
            other => other,
        }
    }

    /// The generic netlink id the kernel gave the IPVS family.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn resolve_family(&mut self) -> Result<u16, Error> {
        let seq = self.next_seq();
        let genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_string())],
        });
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        msg.finalize();
        let mut out = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut out);
        self.send_all(&out)?;
        let mut id = None;
        loop {
            let n = self.recv()?;
            for r in replies(&self.buf[..n])? {
                match r {
                    Reply::Data { seq: s, payload } if s == seq => {
                        let parsed = GenlMessage::<GenlCtrl>::parse_with_param(payload, 0)
                            .map_err(|e| DecodeError::Netlink(e.to_string()))?;
                        for nla in parsed.payload.nlas {
                            if let GenlCtrlAttrs::FamilyId(f) = nla {
                                id = Some(f);
                            }
                        }
                    }
                    Reply::Ack { seq: s, errno } if s == seq => {
                        return match (errno, id) {
                            (0, Some(f)) => Ok(f),
                            (libc::ENOENT, _) | (0, None) => Err(Error::NoIpvs),
                            (e, _) => Err(Error::Kernel {
                                target: Target::Other("generic netlink family lookup"),
                                errno: e,
                            }),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    fn send_all(&self, bytes: &[u8]) -> Result<(), Error> {
        loop {
            match self.sock.send(bytes, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads one datagram into `self.buf`; returns its length.
    fn recv(&mut self) -> Result<usize, Error> {
        self.recv_with(libc::MSG_TRUNC)
    }

    fn recv_with(&mut self, flags: libc::c_int) -> Result<usize, Error> {
        loop {
            let mut slice = &mut self.buf[..];
            match self.sock.recv(&mut slice, flags) {
                Ok(n) if n > RECV_LEN => {
                    return Err(DecodeError::Netlink(format!(
                        "reply of {n} bytes truncated to {RECV_LEN}"
                    ))
                    .into())
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => return Err(Error::Overrun),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::NoReply(REPLY_TIMEOUT.as_secs()))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one request and hands each data reply's genl payload to `on_data`, until the
    /// ack (plain requests) or NLMSG_DONE (dumps).
    fn request(
        &mut self,
        req: &Request,
        on_data: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.exchange(req, AckWait::Block, on_data)
    }

    fn exchange(
        &mut self,
        req: &Request,
        wait: AckWait,
        mut on_data: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let seq = self.next_seq();
        let bytes = frame(self.family, seq, req);
        self.send_all(&bytes)?;
        loop {
            let n = match wait {
                AckWait::Block => self.recv()?,
                AckWait::QueuedOnly => match self.recv_with(libc::MSG_TRUNC | libc::MSG_DONTWAIT) {
                    Err(Error::NoReply(_)) => return Ok(()),
                    r => r?,
                },
            };
            let mut result = None;
            for r in replies(&self.buf[..n])? {
                match r {
                    Reply::Data { seq: s, payload } if s == seq => on_data(payload)?,
                    Reply::Ack { seq: s, errno } | Reply::Done { seq: s, errno } if s == seq => {
                        result = Some(if errno == 0 {
                            Ok(())
                        } else {
                            Err(Error::Kernel {
                                target: req.target.clone(),
                                errno,
                            })
                        });
                    }
                    _ => {}
                }
            }
            if let Some(r) = result {
                return r;
            }
        }
    }

    fn simple(&mut self, req: Result<Request, Error>) -> Result<(), Error> {
        self.request(&req?, |_| Ok(()))
    }

    pub fn new_service(&mut self, s: &Service) -> Result<(), Error> {
        self.simple(wire::new_service(s))
    }

    /// Edits scheduler, flags, timeout, netmask and persistence engine of a service.
    pub fn set_service(&mut self, s: &Service) -> Result<(), Error> {
        self.simple(wire::set_service(s))
    }

    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.simple(wire::del_service(key))
    }

    pub fn new_dest(&mut self, key: &ServiceKey, d: &Destination) -> Result<(), Error> {
        self.simple(wire::new_dest(key, d))
    }

    /// Edits forwarding method, weight and thresholds of a destination.
    pub fn set_dest(&mut self, key: &ServiceKey, d: &Destination) -> Result<(), Error> {
        self.simple(wire::set_dest(key, d))
    }

    pub fn del_dest(&mut self, key: &ServiceKey, d: &DestKey) -> Result<(), Error> {
        self.simple(Ok(wire::del_dest(key, d)))
    }

    /// One service with its statistics.
    pub fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, Error> {
        let mut found = None;
        self.request(&wire::get_service(key), |p| {
            found = Some(wire::decode_service(p)?);
            Ok(())
        })?;
        found.ok_or_else(|| Error::Kernel {
            target: Target::Service(key.to_string()),
            errno: libc::ESRCH,
        })
    }

    /// All services (a dump).
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        let mut out = Vec::new();
        self.request(&wire::get_services(), |p| {
            out.push(wire::decode_service(p)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// All destinations of one service (a dump, however many parts it takes).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, Error> {
        let family = key.family();
        let mut out = Vec::new();
        self.request(&wire::get_dests(key), |p| {
            out.push(wire::decode_dest(p, Some(family))?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every service with its destinations and counters, in the kernel's order.
    pub fn entries(&mut self) -> Result<Vec<(ServiceEntry, Vec<DestEntry>)>, Error> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for s in services {
            let d = self.dests(&s.service.key)?;
            out.push((s, d));
        }
        Ok(out)
    }

    /// The kernel's table, without counters: the `actual` argument of [`crate::plan`].
    pub fn table(&mut self) -> Result<Table, Error> {
        let mut table = Table::new();
        for (s, dests) in self.entries()? {
            let mut vs = VirtualService::new(s.service);
            vs.dests = dests.into_iter().map(|d| (d.dest.key(), d.dest)).collect();
            table.services.insert(vs.service.key, vs);
        }
        Ok(table)
    }

    pub fn new_daemon(&mut self, d: &Daemon) -> Result<(), Error> {
        self.simple(wire::new_daemon(d))
    }

    /// Stops a sync daemon. A daemon stopped before its kernel thread first ran gets no answer at
    /// all: kthread_stop returns -EINTR, and netlink sends no ack for -EINTR (seen in the kernel lab
    /// for a stop right after a start: the daemon was gone, the ack never came). The kernel handles
    /// a generic-netlink request inside the send, so an ack that is not queued when the send
    /// returns never comes, and the daemon is stopped.
    pub fn del_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        match self.exchange(&wire::del_daemon(state), AckWait::QueuedOnly, |_| Ok(())) {
            Err(Error::Kernel {
                errno: libc::EINTR, ..
            }) => Ok(()),
            r => r,
        }
    }

    /// Running sync daemons.
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, Error> {
        let mut out = Vec::new();
        self.request(&wire::get_daemons(), |p| {
            out.push(wire::decode_daemon(p)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Sets connection timeouts; zero fields are left unchanged by the kernel.
    pub fn set_config(&mut self, c: &Config) -> Result<(), Error> {
        self.simple(Ok(wire::set_config(c)))
    }

    pub fn config(&mut self) -> Result<Config, Error> {
        let mut out = None;
        self.request(&wire::get_config(), |p| {
            out = Some(wire::decode_config(p)?);
            Ok(())
        })?;
        out.ok_or_else(|| missing_reply("timeouts"))
    }

    pub fn info(&mut self) -> Result<Info, Error> {
        let mut out = None;
        self.request(&wire::get_info(), |p| {
            out = Some(wire::decode_info(p)?);
            Ok(())
        })?;
        out.ok_or_else(|| missing_reply("info"))
    }

    /// Zeroes the counters of one service, or of all when `key` is `None`.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        self.simple(Ok(wire::zero(key)))
    }

    /// Removes every service and destination.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.simple(Ok(wire::flush()))
    }

    /// Performs one planned operation and waits for its ack.
    pub fn execute(&mut self, op: &Op) -> Result<(), Error> {
        self.simple(Request::from_op(op))
    }

    /// Performs many operations pipelined: windows of requests are written with one send
    /// each and their acks collected afterwards, so the cost is a few syscalls per window
    /// rather than a round trip per operation. The kernel handles the requests in order and
    /// independently: a failed one does not stop the others (so a destination whose service
    /// failed to be created fails too). `Err` only when the socket itself fails, in which
    /// case the kernel's state is unknown and should be read again.
    pub fn apply(&mut self, ops: &[Op]) -> Result<BatchReport, Error> {
        let mut report = BatchReport::default();
        let mut requests = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match Request::from_op(op) {
                Ok(r) => requests.push((i, r)),
                Err(e) => report.failed.push((i, e)),
            }
        }
        for window in requests.chunks(WINDOW) {
            let mut pending: HashMap<u32, usize> = HashMap::with_capacity(window.len());
            let mut bytes = Vec::with_capacity(window.len() * 160);
            for (pos, (_, req)) in window.iter().enumerate() {
                let seq = self.next_seq();
                pending.insert(seq, pos);
                bytes.extend_from_slice(&frame(self.family, seq, req));
            }
            self.send_all(&bytes)?;
            while !pending.is_empty() {
                let n = self.recv()?;
                for r in replies(&self.buf[..n])? {
                    let Reply::Ack { seq, errno } = r else {
                        continue;
                    };
                    let Some(pos) = pending.remove(&seq) else {
                        continue;
                    };
                    if errno == 0 {
                        report.ok += 1;
                    } else {
                        let (index, req) = &window[pos];
                        report.failed.push((
                            *index,
                            Error::Kernel {
                                target: req.target.clone(),
                                errno,
                            },
                        ));
                    }
                }
            }
        }
        report.failed.sort_by_key(|(i, _)| *i);
        Ok(report)
    }
}

fn missing_reply(what: &'static str) -> Error {
    Error::Decode(DecodeError::Missing {
        context: what,
        kind: 0,
    })
}

/// The kernel answers a request while it is sent; a reply this late is one that will not come, and
/// a client waiting for it forever would stop its owner (lvsd's IPVS thread) for good.
pub const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn set_rcvtimeo(sock: &Socket, t: std::time::Duration) {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: setsockopt on a valid fd with a pointer to a timeval of the given length.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

/// Asks for a large receive buffer: SO_RCVBUFFORCE passes rmem_max when we have
/// CAP_NET_ADMIN (which IPVS needs anyway); otherwise SO_RCVBUF gets what rmem_max allows.
fn set_rcvbuf(sock: &Socket, size: usize) {
    let val = size as libc::c_int;
    // SAFETY: setsockopt on a valid fd with a pointer to a c_int of the given length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &val as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let _ = sock.set_rx_buf_sz(val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_a_request_with_nlmsghdr_and_genl_header() {
        let key = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
        let req = wire::del_service(&key).unwrap();
        let bytes = frame(0x1234, 7, &req);
        let total = 16 + 4 + req.attrs.len();
        assert_eq!(bytes.len(), total);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
            total
        );
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x1234);
        let flags = u16::from_ne_bytes([bytes[6], bytes[7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);
        assert_eq!(
            &bytes[16..20],
            &[crate::consts::IPVS_CMD_DEL_SERVICE, 1, 0, 0]
        );
        assert_eq!(&bytes[20..], &req.attrs[..]);
    }

    #[test]
    fn dump_requests_carry_the_dump_flag_and_no_ack() {
        let bytes = frame(30, 1, &wire::get_services());
        let flags = u16::from_ne_bytes([bytes[6], bytes[7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_DUMP);
    }

    /// nlmsghdr (len, type, flags, seq, pid) followed by a payload.
    fn msg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn classifies_acks_nacks_done_and_data() {
        let mut buf = Vec::new();
        // NLMSG_ERROR with code 0 (ack), then -EEXIST (nack), each with the request header.
        let mut ack = 0i32.to_ne_bytes().to_vec();
        ack.extend_from_slice(&[0u8; 16]);
        buf.extend(msg(NLMSG_ERROR, 1, &ack));
        let mut nack = (-libc::EEXIST).to_ne_bytes().to_vec();
        nack.extend_from_slice(&[0u8; 16]);
        buf.extend(msg(NLMSG_ERROR, 2, &nack));
        buf.extend(msg(30, 3, &[5, 1, 0, 0]));
        buf.extend(msg(NLMSG_DONE, 3, &0i32.to_ne_bytes()));
        let r = replies(&buf).unwrap();
        assert!(matches!(r[0], Reply::Ack { seq: 1, errno: 0 }));
        assert!(matches!(r[1], Reply::Ack { seq: 2, errno } if errno == libc::EEXIST));
        assert!(matches!(r[2], Reply::Data { seq: 3, payload } if payload == [5, 1, 0, 0]));
        assert!(matches!(r[3], Reply::Done { seq: 3, errno: 0 }));
    }

    #[test]
    fn a_lying_length_is_an_error() {
        let mut m = msg(30, 1, &[0; 8]);
        m[0] = 200;
        assert!(replies(&m).is_err());
    }
}
