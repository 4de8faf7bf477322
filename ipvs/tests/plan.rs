//! plan(): hand-written cases and properties.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{
    plan, plan_owned, Destination, Forward, Netmask, Op, Service, ServiceFlags, ServiceKey, Table,
};
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A service key, its scheduler and its destinations as (address, weight).
type ServiceSpec<'a> = (ServiceKey, &'a str, &'a [(&'a str, u32)]);

fn table(services: &[ServiceSpec]) -> Table {
    let mut t = Table::new();
    for (key, sched, dests) in services {
        t.insert_service(Service::new(*key, sched));
        for (addr, weight) in *dests {
            let mut d = Destination::new(ip(addr), 80, Forward::Route);
            d.weight = *weight;
            t.insert_dest(key, d).unwrap();
        }
    }
    t
}

fn web() -> ServiceKey {
    ServiceKey::tcp(ip("192.0.2.1"), 80)
}

fn dns() -> ServiceKey {
    ServiceKey::udp(ip("192.0.2.1"), 53)
}

fn applied(actual: &Table, ops: &[Op]) -> Table {
    let mut t = actual.clone();
    for op in ops {
        t.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    t
}

#[test]
fn empty_to_full_creates_each_service_before_its_destinations() {
    let desired = table(&[
        (web(), "wrr", &[("10.0.0.1", 1), ("10.0.0.2", 2)]),
        (dns(), "rr", &[("10.0.0.3", 1)]),
    ]);
    let ops = plan(&desired, &Table::new());
    assert_eq!(ops.len(), 5);
    for (i, op) in ops.iter().enumerate() {
        if let Op::AddDest(k, _) = op {
            let created_at = ops
                .iter()
                .position(|o| matches!(o, Op::AddService(s) if s.key == *k))
                .unwrap();
            assert!(created_at < i, "{op} before its service");
        }
    }
    assert_eq!(applied(&Table::new(), &ops), desired);
}

#[test]
fn single_weight_change_is_one_set_dest() {
    let actual = table(&[(web(), "wrr", &[("10.0.0.1", 1), ("10.0.0.2", 2)])]);
    let desired = table(&[(web(), "wrr", &[("10.0.0.1", 1), ("10.0.0.2", 5)])]);
    let ops = plan(&desired, &actual);
    assert_eq!(ops.len(), 1);
    match &ops[0] {
        Op::EditDest(k, d) => {
            assert_eq!(*k, web());
            assert_eq!((d.addr, d.weight), (ip("10.0.0.2"), 5));
        }
        other => panic!("expected EditDest, got {other}"),
    }
}

#[test]
fn scheduler_persistence_and_pe_are_edited_in_place() {
    let actual = table(&[(web(), "wrr", &[("10.0.0.1", 1)])]);
    let mut desired = actual.clone();
    let vs = desired.services.get_mut(&web()).unwrap();
    vs.service.scheduler = "mh".into();
    vs.service.flags = ServiceFlags::PERSISTENT | ServiceFlags::MH_PORT;
    vs.service.timeout = 600;
    vs.service.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    vs.service.pe_name = Some("sip".into());
    let edited = vs.service.clone();
    let ops = plan(&desired, &actual);
    assert_eq!(ops, vec![Op::EditService(edited)]);
}

#[test]
fn forwarding_method_change_is_edited_in_place() {
    let actual = table(&[(web(), "wrr", &[("10.0.0.1", 1)])]);
    let mut desired = actual.clone();
    let d = desired
        .services
        .get_mut(&web())
        .unwrap()
        .dests
        .values_mut()
        .next()
        .unwrap();
    d.forward = Forward::Masq;
    let ops = plan(&desired, &actual);
    assert!(matches!(ops.as_slice(), [Op::EditDest(_, d)] if d.forward == Forward::Masq));
}

#[test]
fn changed_key_is_delete_and_add_with_adds_first() {
    // The service moves to a new VIP and one real server is replaced.
    let actual = table(&[(web(), "wrr", &[("10.0.0.1", 1), ("10.0.0.2", 1)])]);
    let moved = ServiceKey::tcp(ip("192.0.2.2"), 80);
    let desired = table(&[
        (web(), "wrr", &[("10.0.0.1", 1), ("10.0.0.9", 1)]),
        (moved, "wrr", &[("10.0.0.1", 1)]),
    ]);
    let ops = plan(&desired, &actual);
    let add_new = ops
        .iter()
        .position(|o| matches!(o, Op::AddDest(k, d) if *k == web() && d.addr == ip("10.0.0.9")))
        .unwrap();
    let del_old = ops
        .iter()
        .position(|o| matches!(o, Op::DelDest(k, d) if *k == web() && d.addr == ip("10.0.0.2")))
        .unwrap();
    assert!(add_new < del_old, "{ops:?}");
    assert_eq!(applied(&actual, &ops), desired);
}

#[test]
fn deleted_services_come_last() {
    let actual = table(&[(dns(), "rr", &[("10.0.0.3", 1)])]);
    let desired = table(&[(web(), "rr", &[("10.0.0.1", 1)])]);
    let ops = plan(&desired, &actual);
    assert_eq!(ops.last(), Some(&Op::DelService(dns())));
    assert_eq!(ops.len(), 3);
}

#[test]
fn services_we_do_not_own_are_left_alone() {
    let foreign = ServiceKey::tcp(ip("198.51.100.7"), 443);
    let actual = table(&[
        (foreign, "rr", &[("10.1.0.1", 1)]),
        (dns(), "rr", &[("10.0.0.3", 1)]),
    ]);
    let desired = table(&[(web(), "rr", &[("10.0.0.1", 1)])]);
    let ops = plan_owned(&desired, &actual, |k| *k != foreign);
    assert!(!ops
        .iter()
        .any(|o| matches!(o, Op::DelService(k) if *k == foreign)));
    assert!(ops.contains(&Op::DelService(dns())));
    let after = applied(&actual, &ops);
    assert!(after.services.contains_key(&foreign));
    assert!(after.services.contains_key(&web()));
}

// ---------------------------------------------------------------- properties

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (0u8..4, prop_oneof![Just(80u16), Just(443)])
            .prop_map(|(h, port)| ServiceKey::tcp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, h)), port)),
        (0u8..3).prop_map(|h| ServiceKey::udp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, h)), 53)),
        (1u32..3).prop_map(|mark| ServiceKey::Fwmark {
            family: ipvs::Family::Inet,
            mark
        }),
    ]
}

fn arb_forward() -> impl Strategy<Value = Forward> {
    prop_oneof![
        Just(Forward::Route),
        Just(Forward::Masq),
        Just(Forward::TUNNEL),
        Just(Forward::Local),
    ]
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (
        0u8..6,
        prop_oneof![Just(80u16), Just(8080)],
        arb_forward(),
        0u32..4,
        0u32..3,
    )
        .prop_map(|(h, port, fwd, weight, u)| {
            let mut d = Destination::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, h)), port, fwd);
            d.weight = weight;
            d.u_threshold = u * 100;
            d
        })
}

fn arb_service(key: ServiceKey) -> impl Strategy<Value = Service> {
    (
        prop_oneof![Just("rr"), Just("wrr"), Just("sh")],
        any::<bool>(),
        prop_oneof![Just(None), Just(Some("sip".to_string()))],
    )
        .prop_map(move |(sched, persistent, pe)| {
            let mut s = Service::new(key, sched);
            if persistent {
                s = s.persistent(300);
            }
            s.pe_name = pe;
            s
        })
}

fn arb_table() -> impl Strategy<Value = Table> {
    prop::collection::vec(
        arb_key().prop_flat_map(|k| (arb_service(k), prop::collection::vec(arb_dest(), 0..5))),
        0..5,
    )
    .prop_map(|entries| {
        let mut t = Table::new();
        for (s, dests) in entries {
            let key = s.key;
            t.insert_service(s);
            for d in dests {
                t.insert_dest(&key, d).unwrap();
            }
        }
        t
    })
}

proptest! {
    #[test]
    fn applying_the_plan_yields_desired(desired in arb_table(), actual in arb_table()) {
        let ops = plan(&desired, &actual);
        let mut t = actual.clone();
        for op in &ops {
            prop_assert!(t.apply(op).is_ok(), "{} failed", op);
        }
        prop_assert_eq!(t, desired);
    }

    #[test]
    fn plan_of_equal_tables_is_empty(x in arb_table()) {
        prop_assert!(plan(&x, &x).is_empty());
    }

    #[test]
    fn one_weight_change_is_exactly_one_set_dest(x in arb_table(), pick in any::<prop::sample::Index>(), w in 0u32..1000) {
        let keys: Vec<(ServiceKey, ipvs::DestKey)> = x
            .services
            .iter()
            .flat_map(|(k, vs)| vs.dests.keys().map(move |d| (*k, *d)))
            .collect();
        prop_assume!(!keys.is_empty());
        let (sk, dk) = keys[pick.index(keys.len())];
        let mut desired = x.clone();
        let d = desired.services.get_mut(&sk).unwrap().dests.get_mut(&dk).unwrap();
        prop_assume!(d.weight != w);
        d.weight = w;
        let ops = plan(&desired, &x);
        prop_assert_eq!(ops.len(), 1);
        prop_assert!(matches!(&ops[0], Op::EditDest(k, d) if *k == sk && d.key() == dk && d.weight == w));
    }

    #[test]
    fn plan_touches_each_object_at_most_once(desired in arb_table(), actual in arb_table()) {
        let ops = plan(&desired, &actual);
        let mut seen = std::collections::HashSet::new();
        for op in &ops {
            let id = match op {
                Op::AddService(s) | Op::EditService(s) => format!("s {}", s.key),
                Op::DelService(k) => format!("s {k}"),
                Op::AddDest(k, d) | Op::EditDest(k, d) => format!("d {k} {}", d.key()),
                Op::DelDest(k, d) => format!("d {k} {d}"),
            };
            prop_assert!(seen.insert(id.clone()), "{} touched twice", id);
        }
    }
}
