//! Linux IPVS (IP Virtual Server) over generic netlink (family "IPVS", version 1).
//!
//! - [`types`]: services ([`Service`], keyed by [`ServiceKey`]), destinations
//!   ([`Destination`]), statistics, sync daemons, timeouts, info.
//! - [`wire`]: encoding of every IPVS command and public decoders working on a generic
//!   netlink payload (`genlmsghdr` + attributes), e.g. [`wire::decode_service`] and
//!   [`wire::decode_dest`], so kernel captures can be tested without a socket.
//! - [`Client`]: a blocking client: family lookup, every command (NEW/SET/DEL/GET_SERVICE,
//!   NEW/SET/DEL/GET_DEST, NEW/DEL/GET_DAEMON, SET/GET_CONFIG, GET_INFO, ZERO, FLUSH),
//!   multi-part dumps, acks mapped to [`Error`], and a pipelined batch ([`Client::apply`]).
//! - [`plan`](plan()): the fewest [`Op`]s that make one [`Table`] equal to another, with
//!   [`plan_owned`] to leave other programs' services alone.
//! - [`text`]: a line-based text form of a table and an `ipvsadm -Ln`-like listing.
//! - [`conns`]: the connection table as `/proc/net/ip_vs_conn` lists it, and version 1 sync
//!   messages (the only way to hand connection entries to another kernel).
//!
//! The library knows nothing of keepalived; it needs `CAP_NET_ADMIN` to talk to the kernel,
//! but everything except [`Client`] is plain data and works without privileges.
//!
//! # Example
//!
//! ```no_run
//! use ipvs::{plan, Client, Destination, Forward, Service, ServiceKey, Table};
//!
//! let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
//! let mut desired = Table::new();
//! desired.insert_service(Service::new(key, "wrr").persistent(300));
//! for (i, w) in [(2u8, 3u32), (3, 1)] {
//!     let mut d = Destination::new(format!("10.0.0.{i}").parse().unwrap(), 80, Forward::Route);
//!     d.weight = w;
//!     desired.insert_dest(&key, d).unwrap();
//! }
//!
//! let mut client = Client::connect_or_modprobe()?;
//! let actual = client.table()?;
//! let ops = plan(&desired, &actual);
//! let report = client.apply(&ops)?;
//! for (i, err) in &report.failed {
//!     eprintln!("{}: {err}", ops[*i]);
//! }
//! # Ok::<(), ipvs::Error>(())
//! ```
//!
//! # Wire details
//!
//! Attributes follow `<linux/ip_vs.h>`. Addresses are sent as 16 bytes (`union
//! nf_inet_addr`, IPv4 in the first four), ports as big-endian u16, service flags as
//! `struct ip_vs_flags { flags, mask = ~0 }`, the netmask as the IPv4 mask in network order
//! or the IPv6 prefix length as a host-order u32. Destinations always carry
//! IPVS_DEST_ATTR_ADDR_FAMILY (the kernel allows a family different from the service's for
//! tunnel forwarding); tunnel type, port and flags are sent for tunnel forwarding only.
//! The kernel reports the internal HASHED service flag; decoding removes it from
//! [`Service::flags`] (it stays in [`ServiceEntry::raw_flags`]).
//!
//! # Editing in place
//!
//! The kernel's `ip_vs_edit_service` changes scheduler, flags, persistence timeout, netmask
//! and persistence engine; SET_DEST changes forwarding method (with tunnel settings),
//! weight and thresholds. Only a changed key (protocol, address, port or fwmark of a
//! service; address or port of a destination) needs delete and add, which [`plan`](plan())
//! expresses naturally since tables are keyed by these.
//!
//! # The `ipvsctl` example
//!
//! `cargo run -p ipvs --example ipvsctl -- COMMAND`, as root where IPVS exists:
//!
//! - `list`: the kernel's table like `ipvsadm -Ln` (with version and counters).
//! - `dump`: the kernel's table in the text form below.
//! - `apply FILE [--keep-others] [--one-by-one]`: makes the kernel's table equal to FILE;
//!   prints the number of operations, failures and elapsed time. `--keep-others` leaves
//!   services not in FILE alone; `--one-by-one` waits for each ack (for comparison with the
//!   default pipelined batch).
//! - `flush`: removes everything.
//! - `gen SERVICES DESTS_PER_SERVICE [WEIGHT]`: prints a table in the text form, for
//!   benchmarks (services on 10.0.0.1.. port 80, destinations on 10.128.0.0/9).
//!
//! The text form (see [`text`]), one line per service or destination, `#` starts a comment:
//!
//! ```text
//! service tcp 10.0.0.1:80 sched wrr persistent 300 netmask 255.255.255.0
//! dest 10.0.0.2:80 route weight 3
//! dest 10.0.0.3:80 masq weight 1 uthresh 100 lthresh 10
//! service udp [2001:db8::1]:53 sched rr ops
//! dest [2001:db8::10]:53 tunnel gue tun-port 6080 tun-csum
//! service fwmark 7 inet6 sched sh sh-port sh-fallback pe sip
//! ```
//!
//! `service` takes `tcp|udp|sctp ADDR:PORT` or `fwmark MARK [inet|inet6]`, then `sched
//! NAME` (default wlc), `persistent SECONDS`, `netmask MASK|PREFIXLEN`, `pe NAME`, and the
//! flags `ops`, `sh-fallback`, `sh-port`, `mh-fallback`, `mh-port`, `flags N`. `dest`
//! belongs to the service above it and takes `ADDR:PORT`, a method
//! `masq|local|route|bypass|tunnel` (default route), tunnel options `ipip|gue|gre`,
//! `tun-port N`, `tun-csum`, `tun-remcsum`, and `weight N` (default 1), `uthresh N`,
//! `lthresh N`.

mod attr;
pub mod client;
pub mod conns;
pub mod consts;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod plan;
pub mod text;
pub mod types;
pub mod wire;

pub use client::{BatchReport, Client};
pub use error::{DecodeError, Error, Target};
pub use plan::{plan, plan_owned, ApplyError, Op, Table, VirtualService};
pub use types::*;
