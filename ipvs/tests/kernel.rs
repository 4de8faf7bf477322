//! Against a real kernel with IPVS (root, e.g. the qemu kernel lab, with `lo` up so that
//! IPv4 real servers are routable). Ignored by default because it flushes the kernel's
//! table: `cargo test -p ipvs --test kernel -- --ignored`.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{
    plan, Client, Config, Daemon, DaemonState, Destination, Forward, Netmask, Op, Service,
    ServiceFlags, ServiceKey, Table, TunnelFlags, TunnelType,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One test function, because they all share (and flush) the kernel's single table.
#[test]
#[ignore = "needs root and a kernel with IPVS; flushes its table"]
fn kernel_round_trip() {
    let mut c = Client::connect_or_modprobe().expect("connect");
    c.flush().unwrap();
    let info = c.info().unwrap();
    assert_eq!(info.version_string(), "1.2.1");
    assert!(info.conn_tab_size > 0);

    // Services of every kind, edited in place.
    let web = ServiceKey::tcp(ip("192.0.2.1"), 80);
    let mut s = Service::new(web, "wrr").persistent(300);
    s.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    c.new_service(&s).unwrap();
    let e = c.new_service(&s).unwrap_err();
    assert!(e.is_exists(), "{e}");
    assert_eq!(e.to_string(), "TCP 192.0.2.1:80: service already exists");
    assert_eq!(c.service(&web).unwrap().service, s);
    s.scheduler = "sh".into();
    s.flags = ServiceFlags::PERSISTENT | ServiceFlags::SH_PORT;
    s.pe_name = Some("sip".into());
    c.set_service(&s).unwrap();
    assert_eq!(c.service(&web).unwrap().service, s);
    let mut v6 = Service::new(
        ServiceKey::Fwmark {
            family: ipvs::Family::Inet6,
            mark: 9,
        },
        "mh",
    )
    .persistent(60);
    v6.netmask = Netmask::V6(64);
    c.new_service(&v6).unwrap();
    let bad = Service::new(ServiceKey::udp(ip("192.0.2.1"), 53), "no-such-sched");
    let e = c.new_service(&bad).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");

    // Destinations: every forwarding method, mixed family through a tunnel.
    let mut d = Destination::new(ip("10.0.0.2"), 80, Forward::Masq);
    d.weight = 3;
    d.u_threshold = 100;
    d.l_threshold = 10;
    c.new_dest(&web, &d).unwrap();
    let e = c.new_dest(&web, &d).unwrap_err();
    assert_eq!(
        e.to_string(),
        "TCP 192.0.2.1:80 -> 10.0.0.2:80: destination already exists"
    );
    let gue = Destination::new(
        ip("2001:db8::2"),
        80,
        Forward::Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            flags: TunnelFlags::CSUM,
        },
    );
    c.new_dest(&web, &gue).unwrap();
    d.forward = Forward::Route;
    d.weight = 7;
    c.set_dest(&web, &d).unwrap();
    let dests = c.dests(&web).unwrap();
    assert_eq!(dests.len(), 2);
    assert!(dests.iter().any(|x| x.dest == d));
    assert!(dests.iter().any(|x| x.dest == gue), "{dests:?}");
    let missing = ipvs::DestKey {
        addr: ip("10.9.9.9"),
        port: 80,
    };
    let e = c.del_dest(&web, &missing).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let nosvc = ServiceKey::tcp(ip("192.0.2.99"), 80);
    let e = c.del_service(&nosvc).unwrap_err();
    assert_eq!(e.to_string(), "TCP 192.0.2.99:80: no such service");
    c.del_dest(&web, &gue.key()).unwrap();
    c.zero(Some(&web)).unwrap();
    c.zero(None).unwrap();

    // Timeouts and sync daemons.
    let cfg = Config {
        tcp: 901,
        tcp_fin: 121,
        udp: 301,
    };
    c.set_config(&cfg).unwrap();
    assert_eq!(c.config().unwrap(), cfg);
    let mut dm = Daemon::new(DaemonState::Backup, "lo", 7);
    dm.mcast_port = Some(8849);
    dm.mcast_ttl = Some(3);
    c.new_daemon(&dm).unwrap();
    let ds = c.daemons().unwrap();
    assert!(
        ds.iter().any(|x| x.state == DaemonState::Backup
            && x.syncid == 7
            && x.mcast_ifn == "lo"
            && x.mcast_port == Some(8849)),
        "{ds:?}"
    );
    c.del_daemon(DaemonState::Backup).unwrap();
    // A daemon stopped right after its start, before its kernel thread ran, gets no netlink ack
    // (-EINTR): the stop must still return, at once and Ok, and leave no daemon.
    for st in [DaemonState::Backup, DaemonState::Master] {
        for i in 0..20 {
            c.new_daemon(&Daemon::new(st, "lo", 8)).unwrap();
            c.del_daemon(st)
                .unwrap_or_else(|e| panic!("{st:?} stop {i} right after its start: {e}"));
            assert_eq!(c.daemons().unwrap(), [], "{st:?} stop {i} left a daemon");
        }
    }

    // Deleted destinations wait in the kernel's trash list, which every later add searches: the large
    // tables below are built without deleting anything in between, so the timings mean something.
    // 100,000 destinations dump completely: one service with 3,000 (a dump of many parts) and
    // 970 services with 100 each. (The kernel looks a new destination up in its service's list, so a
    // single service of 100,000 would take minutes under emulation; the dump path is the same.)
    c.flush().unwrap();
    let big = ServiceKey::udp(ip("192.0.2.50"), 53);
    let mut t100k = Table::new();
    t100k.insert_service(Service::new(big, "rr"));
    for j in 0..3_000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + j));
        t100k
            .insert_dest(&big, Destination::new(addr, 53, Forward::Route))
            .unwrap();
    }
    for i in 0..970u32 {
        let key = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0x0c00_0000 + i)), 80);
        t100k.insert_service(Service::new(key, "rr"));
        for j in 0..100u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0d00_0000 + i * 100 + j));
            t100k
                .insert_dest(&key, Destination::new(addr, 80, Forward::Route))
                .unwrap();
        }
    }
    assert_eq!(t100k.dest_count(), 100_000);
    let t = std::time::Instant::now();
    let report = c.apply(&plan(&t100k, &Table::new())).unwrap();
    assert!(report.failed.is_empty());
    eprintln!("apply of 100000 dests in 971 services: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    assert_eq!(c.dests(&big).unwrap().len(), 3_000);
    let all = c.table().unwrap();
    eprintln!("dump of 100000 dests: {:?}", t.elapsed());
    assert_eq!(all, t100k);
    // plan + batch: a table with 40,000 destinations over 40 services, then a few changes.
    let mut desired = Table::new();
    for i in 0..40u32 {
        let key = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i)), 80);
        desired.insert_service(Service::new(key, "wrr"));
        for j in 0..1000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a80_0000 + i * 1000 + j));
            desired
                .insert_dest(&key, Destination::new(addr, 80, Forward::Masq))
                .unwrap();
        }
    }
    let others = c.table().unwrap();
    let ours = |k: &ServiceKey| desired.services.contains_key(k);
    let ops = ipvs::plan_owned(&desired, &others, ours);
    assert_eq!(ops.len(), 40 + 40_000);
    let t = std::time::Instant::now();
    let report = c.apply(&ops).unwrap();
    eprintln!("batch of {} ops: {:?}", ops.len(), t.elapsed());
    assert!(
        report.failed.is_empty(),
        "{:?}",
        &report.failed[..3.min(report.failed.len())]
    );
    assert_eq!(report.ok, ops.len());
    let mut actual = c.table().unwrap();
    actual
        .services
        .retain(|k, _| desired.services.contains_key(k));
    assert_eq!(actual, desired);
    assert!(plan(&desired, &actual).is_empty());

    // One weight change is one SET_DEST and the kernel agrees afterwards.
    let key = *desired.services.keys().next().unwrap();
    let dk = *desired.services[&key].dests.keys().next().unwrap();
    desired
        .services
        .get_mut(&key)
        .unwrap()
        .dests
        .get_mut(&dk)
        .unwrap()
        .weight = 9;
    let ops = plan(&desired, &actual);
    assert!(matches!(ops.as_slice(), [Op::EditDest(..)]));
    assert!(c.apply(&ops).unwrap().failed.is_empty());
    let mut after = c.table().unwrap();
    after
        .services
        .retain(|k, _| desired.services.contains_key(k));
    assert_eq!(after, desired);

    c.flush().unwrap();
    assert!(c.services().unwrap().is_empty());
}
