//! The kernel's connection table, as `/proc/net/ip_vs_conn` lists it, and the connection
//! synchronisation protocol (version 1) the kernel's sync daemons speak.
//!
//! Netlink has no command to read or create connection entries: the listing is the only way to
//! read them, and a sync message to a backup daemon's multicast group the only way to put them
//! into another kernel. [`sync_messages`] builds those messages; [`decode_sync_message`] reads
//! them back (for tests and tools).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::plan::{Table, VirtualService};
use crate::types::{DestKey, Family, Forward, Protocol, ServiceKey};

/// Connection flags (`IP_VS_CONN_F_*`, `<linux/ip_vs.h>`).
pub mod flags {
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    pub const TUNNEL: u32 = 0x0002;
    pub const DROUTE: u32 = 0x0003;
    pub const BYPASS: u32 = 0x0004;
    pub const SYNC: u32 = 0x0020;
    pub const NOOUTPUT: u32 = 0x0080;
    pub const INACTIVE: u32 = 0x0100;
    pub const NO_CPORT: u32 = 0x0800;
    pub const TEMPLATE: u32 = 0x1000;
}

/// IP protocol numbers the table shows.
pub const IPPROTO_IP: u8 = 0;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;

/// TCP states of an IPVS connection (`IP_VS_TCP_S_*`), in the kernel's numbering.
pub const TCP_STATES: [&str; 11] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];
pub const TCP_ESTABLISHED: u16 = 1;
/// Persistence template states (`IP_VS_CTPL_S_*`).
pub const TEMPLATE_STATES: [&str; 2] = ["NONE", "ASSURED"];

/// One line of `/proc/net/ip_vs_conn`: a connection, or a persistence template (which ties a
/// client to a real server for the persistence timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// IP protocol number; 0 ("IP") for the templates of fwmark services.
    pub protocol: u8,
    pub client: IpAddr,
    pub cport: u16,
    /// The address and port the client sent to; for a fwmark template, the mark as an address.
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// State as the kernel names it ("ESTABLISHED", "UDP", "ASSURED", ...).
    pub state: String,
    /// Seconds until the entry expires.
    pub expires: u64,
    pub template: bool,
}

impl Conn {
    /// The state's number in the kernel's table for this protocol, if lvsd knows it. SCTP's
    /// numbering changed between kernels, so SCTP entries have none.
    pub fn state_number(&self) -> Option<u16> {
        let table: &[&str] = if self.template {
            &TEMPLATE_STATES
        } else {
            match self.protocol {
                IPPROTO_TCP => &TCP_STATES,
                IPPROTO_UDP => &["UDP"],
                _ => return None,
            }
        };
        table
            .iter()
            .position(|s| *s == self.state)
            .map(|i| i as u16)
    }
}

/// A line that is not what the kernel prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnParseError {
    pub line: usize,
    pub why: String,
}

impl fmt::Display for ConnParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ip_vs_conn line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for ConnParseError {}

fn proto_number(name: &str) -> Option<u8> {
    match name {
        "IP" => Some(IPPROTO_IP),
        "TCP" => Some(IPPROTO_TCP),
        "UDP" => Some(IPPROTO_UDP),
        "SCTP" => Some(IPPROTO_SCTP),
        "ICMP" => Some(1),
        "ICMPv6" => Some(58),
        _ => name.strip_prefix("IP_")?.parse().ok(),
    }
}

/// An address as the listing prints it: 8 hex digits for IPv4, `%pI6` (eight groups) for IPv6.
fn parse_addr(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16)
        .ok()
        .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
}

fn parse_port(s: &str) -> Option<u16> {
    (s.len() == 4).then(|| u16::from_str_radix(s, 16).ok())?
}

/// Reads the text of `/proc/net/ip_vs_conn` (or `ip_vs_conn_sync`, whose extra Origin column is
/// skipped). The header line is optional; empty lines are skipped.
pub fn parse_conns(text: &str) -> Result<Vec<Conn>, ConnParseError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0] == "Pro" {
            continue;
        }
        let err = |why: &str| ConnParseError {
            line: n + 1,
            why: why.to_string(),
        };
        if f.len() < 9 {
            return Err(err("too few fields"));
        }
        let protocol = proto_number(f[0]).ok_or_else(|| err("unknown protocol"))?;
        let addr = |i: usize| parse_addr(f[i]).ok_or_else(|| err("bad address"));
        let port = |i: usize| parse_port(f[i]).ok_or_else(|| err("bad port"));
        let (client, cport, vaddr, vport, daddr, dport) =
            (addr(1)?, port(2)?, addr(3)?, port(4)?, addr(5)?, port(6)?);
        let state = f[7].to_string();
        // ip_vs_conn_sync has "Origin" before "Expires"; ip_vs_conn may have PE columns after.
        let expires_at = if matches!(f[8], "LOCAL" | "SYNC") {
            9
        } else {
            8
        };
        let expires = f
            .get(expires_at)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err("bad expiry"))?;
        let template =
            protocol == IPPROTO_IP || state == "ASSURED" || (state == "NONE" && cport == 0);
        out.push(Conn {
            protocol,
            client,
            cport,
            vaddr,
            vport,
            daddr,
            dport,
            state,
            expires,
            template,
        });
    }
    Ok(out)
}

/// Reads the connection table of this network namespace.
pub fn read_conns() -> std::io::Result<Vec<Conn>> {
    let text = std::fs::read_to_string("/proc/net/ip_vs_conn")?;
    parse_conns(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// One entry of a version 1 sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConn {
    pub protocol: u8,
    /// `IP_VS_CONN_F_*` bits: forwarding method, INACTIVE, TEMPLATE, ...
    pub flags: u32,
    pub state: u16,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    pub fwmark: u32,
    /// Seconds; 0 lets the receiving kernel use its timeout for the state.
    pub timeout: u32,
}

impl SyncConn {
    fn family(&self) -> Family {
        Family::of(&self.caddr)
    }

    fn size(&self) -> usize {
        match self.family() {
            Family::Inet => SYNC_V4_LEN,
            Family::Inet6 => SYNC_V6_LEN,
        }
    }
}

/// The flags of a forwarding method as a connection carries them (NOOUTPUT unless NAT).
pub fn forward_flags(f: &Forward) -> u32 {
    match f {
        Forward::Masq => flags::MASQ,
        Forward::Local => flags::LOCALNODE | flags::NOOUTPUT,
        Forward::Tunnel { .. } => flags::TUNNEL | flags::NOOUTPUT,
        Forward::Route => flags::DROUTE | flags::NOOUTPUT,
        Forward::Bypass => flags::BYPASS | flags::NOOUTPUT,
    }
}

/// The sync entries that give another kernel with the same `table` the connections and
/// templates of `conns`: each is matched to its service (by address, else the fwmark service
/// holding its real server) and real server; entries of services or real servers not in `table`,
/// SCTP ones (whose state numbers differ between kernels) and those mixing address families are
/// left out. Connections get
/// timeout 0, so the receiving kernel uses its own timeout for the state; templates get their
/// service's persistence timeout.
pub fn sync_entries(conns: &[Conn], table: &Table) -> Vec<SyncConn> {
    conns.iter().filter_map(|c| sync_entry(c, table)).collect()
}

fn sync_entry(c: &Conn, table: &Table) -> Option<SyncConn> {
    // A version 1 entry has one family for its three addresses: a connection of an IPv4 service
    // to an IPv6 real server (tunnels may mix them) cannot be sent, and the kernel does not
    // sync one either.
    let family = Family::of(&c.client);
    if Family::of(&c.vaddr) != family || Family::of(&c.daddr) != family {
        return None;
    }
    let state = c.state_number()?;
    let dkey = DestKey {
        addr: c.daddr,
        port: c.dport,
    };
    let (vs, fwmark) = if c.template && c.protocol == IPPROTO_IP {
        let mark = match c.vaddr {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(a) => {
                let o = a.octets();
                if o[..12].iter().any(|b| *b != 0) {
                    return None;
                }
                u32::from_be_bytes([o[12], o[13], o[14], o[15]])
            }
        };
        let key = ServiceKey::Fwmark {
            family: Family::of(&c.client),
            mark,
        };
        (table.services.get(&key)?, mark)
    } else {
        let protocol = match c.protocol {
            IPPROTO_TCP => Protocol::Tcp,
            IPPROTO_UDP => Protocol::Udp,
            _ => return None,
        };
        let key = ServiceKey::Addr {
            protocol,
            addr: c.vaddr,
            port: c.vport,
        };
        match table.services.get(&key) {
            Some(vs) => (vs, 0),
            None => fwmark_service_of(table, &c.client, &dkey)?,
        }
    };
    let dest = vs.dests.get(&dkey)?;
    let mut flags = forward_flags(&dest.forward);
    let mut timeout = 0;
    if c.template {
        flags |= self::flags::TEMPLATE;
        timeout = vs.service.timeout;
    } else if c.protocol == IPPROTO_UDP || state != TCP_ESTABLISHED {
        flags |= self::flags::INACTIVE;
    }
    Some(SyncConn {
        protocol: c.protocol,
        flags,
        state,
        caddr: c.client,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
        daddr: c.daddr,
        dport: c.dport,
        fwmark,
        timeout,
    })
}

/// A connection of a fwmark service shows the address it was sent to: its service is the first
/// fwmark service of its family with that real server.
fn fwmark_service_of<'a>(
    table: &'a Table,
    client: &IpAddr,
    dest: &DestKey,
) -> Option<(&'a VirtualService, u32)> {
    let family = Family::of(client);
    table.services.iter().find_map(|(k, vs)| match k {
        ServiceKey::Fwmark { family: f, mark } if *f == family && vs.dests.contains_key(dest) => {
            Some((vs, *mark))
        }
        _ => None,
    })
}

const HEADER_LEN: usize = 8;
const SYNC_V4_LEN: usize = 36;
const SYNC_V6_LEN: usize = 72;
const SYNC_PROTO_VER: u8 = 1;
/// The kernel's default message size: a 1500-byte MTU less the IPv4 and UDP headers.
pub const DEFAULT_SYNC_MAXLEN: usize = 1500 - 28;

/// Version 1 sync messages carrying `conns` for sync id `syncid`, each at most `maxlen` bytes
/// (at least one entry per message, at most 255: the count is one byte).
pub fn sync_messages(syncid: u8, maxlen: usize, conns: &[SyncConn]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut msg: Vec<u8> = Vec::new();
    let mut count = 0u8;
    let finish = |msg: &mut Vec<u8>, count: u8, out: &mut Vec<Vec<u8>>| {
        if count == 0 {
            return;
        }
        let len = msg.len() as u16;
        msg[2..4].copy_from_slice(&len.to_be_bytes());
        msg[4] = count;
        out.push(std::mem::take(msg));
    };
    for c in conns {
        if count == u8::MAX || (count > 0 && msg.len() + c.size() > maxlen) {
            finish(&mut msg, count, &mut out);
            count = 0;
        }
        if count == 0 {
            msg = vec![0, syncid, 0, 0, 0, SYNC_PROTO_VER, 0, 0];
        }
        encode_conn(&mut msg, c);
        count += 1;
    }
    finish(&mut msg, count, &mut out);
    out
}

fn encode_conn(out: &mut Vec<u8>, c: &SyncConn) {
    let v6 = c.family() == Family::Inet6;
    out.push(u8::from(v6)); // type: STYPE_F_INET6
    out.push(c.protocol);
    // Version 0 in the top 4 bits, the entry's size below.
    out.extend_from_slice(&(c.size() as u16).to_be_bytes());
    out.extend_from_slice(&c.flags.to_be_bytes());
    out.extend_from_slice(&c.state.to_be_bytes());
    out.extend_from_slice(&c.cport.to_be_bytes());
    out.extend_from_slice(&c.vport.to_be_bytes());
    out.extend_from_slice(&c.dport.to_be_bytes());
    out.extend_from_slice(&c.fwmark.to_be_bytes());
    out.extend_from_slice(&c.timeout.to_be_bytes());
    for a in [c.caddr, c.vaddr, c.daddr] {
        match a {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
    }
}

/// Why bytes are not a version 1 sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncDecodeError {
    TooShort,
    /// The size field disagrees with the datagram's length.
    Size {
        field: usize,
        len: usize,
    },
    NotVersion1,
    /// An entry runs past the end, has an unknown version, or mixes families.
    BadEntry(usize),
}

impl fmt::Display for SyncDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncDecodeError::TooShort => f.write_str("shorter than a sync message header"),
            SyncDecodeError::Size { field, len } => {
                write!(f, "size field {field} but {len} bytes")
            }
            SyncDecodeError::NotVersion1 => f.write_str("not a version 1 message"),
            SyncDecodeError::BadEntry(i) => write!(f, "entry {i} is malformed"),
        }
    }
}

impl std::error::Error for SyncDecodeError {}

/// Reads a version 1 sync message: its sync id and entries (options are skipped).
pub fn decode_sync_message(b: &[u8]) -> Result<(u8, Vec<SyncConn>), SyncDecodeError> {
    if b.len() < HEADER_LEN {
        return Err(SyncDecodeError::TooShort);
    }
    let size = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if size != b.len() {
        return Err(SyncDecodeError::Size {
            field: size,
            len: b.len(),
        });
    }
    if b[0] != 0 || b[5] != SYNC_PROTO_VER || b[6] != 0 || b[7] != 0 {
        return Err(SyncDecodeError::NotVersion1);
    }
    let mut at = HEADER_LEN;
    let mut out = Vec::new();
    for i in 0..usize::from(b[4]) {
        let bad = SyncDecodeError::BadEntry(i);
        let head = b.get(at..at + 4).ok_or(bad.clone())?;
        let ver_size = u16::from_be_bytes([head[2], head[3]]);
        let len = usize::from(ver_size & 0x0fff);
        let v6 = head[0] & 1 == 1;
        let fixed = if v6 { SYNC_V6_LEN } else { SYNC_V4_LEN };
        if ver_size >> 12 != 0 || len < fixed || head[0] & !1 != 0 {
            return Err(bad);
        }
        let e = b.get(at..at + len).ok_or(bad)?;
        let u16_at = |o: usize| u16::from_be_bytes([e[o], e[o + 1]]);
        let u32_at = |o: usize| u32::from_be_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
        let addr = |o: usize| -> IpAddr {
            if v6 {
                let mut a = [0u8; 16];
                a.copy_from_slice(&e[o..o + 16]);
                IpAddr::from(a)
            } else {
                IpAddr::from([e[o], e[o + 1], e[o + 2], e[o + 3]])
            }
        };
        let step = if v6 { 16 } else { 4 };
        out.push(SyncConn {
            protocol: e[1],
            flags: u32_at(4),
            state: u16_at(8),
            cport: u16_at(10),
            vport: u16_at(12),
            dport: u16_at(14),
            fwmark: u32_at(16),
            timeout: u32_at(20),
            caddr: addr(24),
            vaddr: addr(24 + step),
            daddr: addr(24 + 2 * step),
        });
        // Entries are padded to 32 bits.
        at += (len + 3) & !3;
    }
    Ok((b[1], out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Table;

    const LISTING: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C0A80A05 D431 0A000064 0050 0A010002 0050 ESTABLISHED     897
UDP C0A80A05 8B2C 0A000064 0035 0A010003 0035 UDP             297
TCP C0A80A00 0000 0A000064 0050 0A010002 0050 NONE            295
IP  C0A80A05 0000 00000001 0000 0A010002 0000 ASSURED         118
TCP 2001:0db8:0000:0000:0000:0000:0000:0005 C350 2001:0db8:0000:0000:0000:0000:0000:0064 01BB 2001:0db8:0001:0000:0000:0000:0000:0002 01BB FIN_WAIT        100
";

    #[test]
    fn the_kernel_listing_parses_with_templates_told_apart() {
        let c = parse_conns(LISTING).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(c[0].protocol, IPPROTO_TCP);
        assert_eq!(c[0].client, "192.168.10.5".parse::<IpAddr>().unwrap());
        assert_eq!(c[0].cport, 0xD431);
        assert_eq!(c[0].vaddr, "10.0.0.100".parse::<IpAddr>().unwrap());
        assert_eq!((c[0].vport, c[0].dport), (80, 80));
        assert_eq!(c[0].state_number(), Some(TCP_ESTABLISHED));
        assert_eq!(c[0].expires, 897);
        assert!(!c[0].template);
        assert_eq!(c[1].state_number(), Some(0));
        assert!(
            c[2].template,
            "a client network with port 0 in NONE is a template"
        );
        assert!(c[3].template && c[3].protocol == IPPROTO_IP);
        assert_eq!(c[3].state_number(), Some(1));
        assert_eq!(c[4].client, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert_eq!(c[4].state_number(), Some(4));
    }

    #[test]
    fn the_sync_listing_with_its_origin_column_parses() {
        let t = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n\
                 TCP C0A80A05 D431 0A000064 0050 0A010002 0050 ESTABLISHED SYNC       897\n";
        let c = parse_conns(t).unwrap();
        assert_eq!(c[0].expires, 897);
    }

    #[test]
    fn garbage_lines_are_errors_with_their_line() {
        for bad in [
            "TCP C0A80A05 D431",
            "XYZ C0A80A05 D431 0A000064 0050 0A010002 0050 ESTABLISHED 1",
            "TCP C0A80A0 D431 0A000064 0050 0A010002 0050 ESTABLISHED 1",
            "TCP C0A80A05 D43 0A000064 0050 0A010002 0050 ESTABLISHED 1",
            "TCP C0A80A05 D431 0A000064 0050 0A010002 0050 ESTABLISHED x",
        ] {
            let e = parse_conns(&format!("\n{bad}\n")).unwrap_err();
            assert_eq!(e.line, 2, "{bad}");
        }
    }

    fn conn(i: u32) -> SyncConn {
        SyncConn {
            protocol: IPPROTO_TCP,
            flags: flags::DROUTE | flags::NOOUTPUT,
            state: TCP_ESTABLISHED,
            caddr: IpAddr::from((0xC0A8_0000 + i).to_be_bytes()),
            cport: 40000,
            vaddr: "10.0.0.100".parse().unwrap(),
            vport: 80,
            daddr: "10.1.0.2".parse().unwrap(),
            dport: 8080,
            fwmark: 0,
            timeout: 0,
        }
    }

    #[test]
    fn an_entry_has_the_kernels_layout() {
        let m = sync_messages(51, DEFAULT_SYNC_MAXLEN, &[conn(5)]);
        assert_eq!(m.len(), 1);
        let b = &m[0];
        assert_eq!(b.len(), 8 + 36);
        // Header: reserved 0, syncid, size, count, version 1, spare 0.
        assert_eq!(&b[..8], &[0, 51, 0, 44, 1, 1, 0, 0]);
        // type 0 (IPv4), TCP, version 0 and size 36, flags DROUTE|NOOUTPUT, ESTABLISHED.
        assert_eq!(&b[8..18], &[0, 6, 0, 36, 0, 0, 0, 0x83, 0, 1]);
        // cport 40000, vport 80, dport 8080, fwmark 0, timeout 0.
        assert_eq!(
            &b[18..32],
            &[0x9c, 0x40, 0, 80, 0x1f, 0x90, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(&b[32..36], &[192, 168, 0, 5]);
        assert_eq!(&b[36..40], &[10, 0, 0, 100]);
        assert_eq!(&b[40..44], &[10, 1, 0, 2]);
    }

    #[test]
    fn messages_split_at_maxlen_and_at_255_entries_and_decode_back() {
        let conns: Vec<SyncConn> = (0..1000).map(conn).collect();
        let msgs = sync_messages(7, DEFAULT_SYNC_MAXLEN, &conns);
        // 40 IPv4 entries fit in 1472 bytes.
        assert_eq!(msgs.len(), 25);
        assert!(msgs.iter().all(|m| m.len() <= DEFAULT_SYNC_MAXLEN));
        let back: Vec<SyncConn> = msgs
            .iter()
            .flat_map(|m| {
                let (id, c) = decode_sync_message(m).unwrap();
                assert_eq!(id, 7);
                c
            })
            .collect();
        assert_eq!(back, conns);
        let big = sync_messages(7, 65000, &conns);
        assert!(big.iter().all(|m| m[4] as usize <= 255));
        assert_eq!(big.len(), 4);
    }

    fn table() -> Table {
        use crate::types::{Destination, Service};
        let mut t = Table::new();
        let web = ServiceKey::tcp("10.0.0.100".parse().unwrap(), 80);
        t.insert_service(Service::new(web, "rr").persistent(600));
        let mut d = Destination::new("10.1.0.2".parse().unwrap(), 80, Forward::Masq);
        d.weight = 1;
        t.insert_dest(&web, d).unwrap();
        let fwm = ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 1,
        };
        t.insert_service(Service::new(fwm, "rr").persistent(120));
        t.insert_dest(
            &fwm,
            Destination::new("10.1.0.2".parse().unwrap(), 0, Forward::Route),
        )
        .unwrap();
        t
    }

    #[test]
    fn listed_connections_become_sync_entries_of_their_service() {
        let mut conns = parse_conns(LISTING).unwrap();
        // A connection to the fwmark service shows the address the client sent to.
        conns.push(Conn {
            vaddr: "10.0.0.200".parse().unwrap(),
            vport: 443,
            dport: 0,
            ..conns[0].clone()
        });
        let e = sync_entries(&conns, &table());
        // The UDP connection (no service), the FIN_WAIT IPv6 one (no service) are left out.
        assert_eq!(e.len(), 4, "{e:#?}");
        assert_eq!(e[0].flags, flags::MASQ);
        assert_eq!((e[0].state, e[0].timeout, e[0].fwmark), (1, 0, 0));
        assert_eq!(e[1].flags, flags::MASQ | flags::TEMPLATE);
        assert_eq!(e[1].timeout, 600);
        assert_eq!(
            e[2].flags,
            flags::DROUTE | flags::NOOUTPUT | flags::TEMPLATE
        );
        assert_eq!((e[2].fwmark, e[2].timeout, e[2].protocol), (1, 120, 0));
        assert_eq!((e[3].fwmark, e[3].vport), (1, 443));
    }

    /// Found by fuzzing: a listed connection whose client is IPv4 but whose service and real
    /// server are IPv6 was encoded as an IPv4 entry that cannot hold their addresses, and the
    /// message did not decode. The kernel's own listing never mixes them; the text is outside
    /// input all the same.
    #[test]
    fn a_connection_mixing_address_families_is_left_out() {
        let mut c = parse_conns(LISTING).unwrap()[0].clone();
        c.vaddr = "2001:db8::100".parse().unwrap();
        c.daddr = "2001:db8:1::2".parse().unwrap();
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: c.vaddr,
            port: c.vport,
        };
        let mut t = Table::new();
        t.insert_service(crate::Service::new(key, "rr"));
        t.insert_dest(
            &key,
            crate::Destination::new(c.daddr, c.dport, Forward::Masq),
        )
        .unwrap();
        assert_eq!(sync_entries(&[c], &t), []);
    }

    #[test]
    fn ipv6_entries_round_trip() {
        let mut c = conn(1);
        c.caddr = "2001:db8::5".parse().unwrap();
        c.vaddr = "2001:db8::100".parse().unwrap();
        c.daddr = "2001:db8:1::2".parse().unwrap();
        let m = sync_messages(1, DEFAULT_SYNC_MAXLEN, std::slice::from_ref(&c));
        assert_eq!(m[0].len(), 8 + 72);
        assert_eq!(decode_sync_message(&m[0]).unwrap().1, vec![c]);
    }

    #[test]
    fn malformed_messages_are_refused() {
        let m = sync_messages(1, DEFAULT_SYNC_MAXLEN, &[conn(1)]).remove(0);
        assert_eq!(decode_sync_message(&m[..7]), Err(SyncDecodeError::TooShort));
        assert!(matches!(
            decode_sync_message(&m[..40]),
            Err(SyncDecodeError::Size { .. })
        ));
        let mut v0 = m.clone();
        v0[5] = 0;
        assert_eq!(decode_sync_message(&v0), Err(SyncDecodeError::NotVersion1));
        let mut lying = m.clone();
        lying[4] = 2;
        assert_eq!(
            decode_sync_message(&lying),
            Err(SyncDecodeError::BadEntry(1))
        );
        let mut short_entry = m;
        short_entry[11] = 20;
        assert_eq!(
            decode_sync_message(&short_entry),
            Err(SyncDecodeError::BadEntry(0))
        );
    }
}
