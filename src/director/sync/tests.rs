//! The sync loop against an in-memory table that accepts and refuses as the kernel does (its
//! checks are `ipvs::Table::apply`'s, errnos as ip_vs_ctl.c returns them), counting reads and
//! operations, with "another program" editing it between syncs.

use super::*;
use ipvs::{ApplyError, Destination, Forward, Service, Target};

#[derive(Default)]
struct Memory {
    table: Table,
    reads: usize,
    sent: usize,
    /// Applies this many operations of the next batch, then fails like a lost socket.
    break_after: Option<usize>,
}

fn kernel_error(errno: i32) -> ipvs::Error {
    ipvs::Error::Kernel {
        target: Target::Other("test"),
        errno,
    }
}

impl Backend for Memory {
    fn table(&mut self) -> Result<Table, ipvs::Error> {
        self.reads += 1;
        Ok(self.table.clone())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<BatchReport, ipvs::Error> {
        let mut report = BatchReport::default();
        for (i, op) in ops.iter().enumerate() {
            if self.break_after.is_some_and(|n| i == n) {
                self.break_after = None;
                return Err(ipvs::Error::Overrun);
            }
            self.sent += 1;
            let unknown_scheduler =
                matches!(op, Op::AddService(s) | Op::EditService(s) if s.scheduler == "nosuch");
            let result = match self.table.clone().apply(op) {
                Ok(()) if unknown_scheduler => Err(libc::ENOENT),
                Ok(()) => self.table.apply(op).map_err(|_| libc::EINVAL),
                Err(ApplyError::ServiceExists(_) | ApplyError::DestExists(..)) => Err(libc::EEXIST),
                Err(ApplyError::NoService(_)) => Err(libc::ESRCH),
                Err(ApplyError::NoDest(..)) => Err(libc::ENOENT),
            };
            match result {
                Ok(()) => report.ok += 1,
                Err(errno) => report.failed.push((i, kernel_error(errno))),
            }
        }
        Ok(report)
    }
}

fn key(n: u16) -> ServiceKey {
    ServiceKey::tcp(
        format!("192.0.{}.{}", n / 256, n % 256)
            .parse()
            .expect("ip"),
        80,
    )
}

fn dest(n: u8, weight: u32) -> Destination {
    let mut d = Destination::new(
        format!("10.0.0.{n}").parse().expect("ip"),
        80,
        Forward::Masq,
    );
    d.weight = weight;
    d
}

/// `services` services with four destinations each, weights 1..4.
fn desired(services: u16) -> Table {
    let mut t = Table::new();
    for s in 0..services {
        t.insert_service(Service::new(key(s), "wrr"));
        for d in 1..=4 {
            t.insert_dest(&key(s), dest(d, u32::from(d)))
                .expect("service");
        }
    }
    t
}

/// The kernel's table without the services lvsd does not own.
fn ours(m: &Memory, sync: &TableSync) -> Table {
    let mut t = m.table.clone();
    t.services.retain(|k, _| sync.owned().contains(k));
    t
}

fn no_rank(_: &ServiceKey, _: &DestKey) -> usize {
    0
}

/// A kernel holding another program's service, and lvsd's first sync of 100 services.
fn started() -> (Memory, TableSync, Table) {
    let mut m = Memory::default();
    let foreign = key(9999);
    m.table.insert_service(Service::new(foreign, "rr"));
    let want = desired(100);
    let mut sync = TableSync::default();
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert!(r.reread, "the first sync reads the kernel");
    assert_eq!(r.ops, 100 * 5);
    (m, sync, want)
}

#[test]
fn a_small_change_costs_its_own_operation_and_no_read() {
    let (mut m, mut sync, mut want) = started();
    want.insert_dest(&key(50), dest(2, 7)).expect("service");
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert_eq!((r.ops, r.reread, r.drifted), (1, false, false));
    assert_eq!(m.reads, 1);
    assert_eq!(ours(&m, &sync), want);
    // Nothing changed: nothing sent.
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert_eq!((r.ops, m.reads), (0, 1));
    // The other program's service is left alone.
    assert!(m.table.services.contains_key(&key(9999)));
}

#[test]
fn a_refusal_that_shows_drift_reads_the_kernel_once_and_corrects_it() {
    let (mut m, mut sync, mut want) = started();
    // Another program deletes one of lvsd's services and adds a destination lvsd will add too.
    m.table.services.remove(&key(3));
    m.table.insert_dest(&key(4), dest(5, 1)).expect("service");
    want.insert_dest(&key(3), dest(1, 9)).expect("service");
    want.insert_dest(&key(4), dest(5, 2)).expect("service");
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert!(r.drifted && r.reread);
    assert_eq!(m.reads, 2);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(ours(&m, &sync), want);
    // The belief is right again: the next change costs one operation and no read.
    want.insert_dest(&key(7), dest(1, 3)).expect("service");
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert_eq!((r.ops, r.reread, m.reads), (1, false, 2));
    assert_eq!(ours(&m, &sync), want);
}

#[test]
fn drift_no_change_touches_stays_until_the_reload_recheck_corrects_it() {
    let (mut m, mut sync, mut want) = started();
    // An operator sets a weight by hand; an unrelated change does not undo it (as keepalived).
    m.table.insert_dest(&key(10), dest(1, 0)).expect("service");
    want.insert_dest(&key(20), dest(1, 5)).expect("service");
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert_eq!((r.ops, r.drifted), (1, false));
    assert_eq!(
        m.table.services[&key(10)].dests[&dest(1, 0).key()].weight,
        0
    );
    // The reload's re-check reads the kernel, says it drifted and restores the weight.
    let r = sync.recheck(&mut m, &want, no_rank).expect("recheck");
    assert!(r.drifted && r.reread);
    assert_eq!(r.ops, 1);
    assert_eq!(ours(&m, &sync), want);
    // Without drift, a re-check reads and sends nothing.
    let r = sync.recheck(&mut m, &want, no_rank).expect("recheck");
    assert_eq!((r.ops, r.drifted), (0, false));
    assert_eq!(m.reads, 3);
}

#[test]
fn an_emptied_kernel_is_restored_by_the_recheck() {
    let (mut m, mut sync, want) = started();
    m.table = Table::new(); // ipvsadm -C
    let r = sync.recheck(&mut m, &want, no_rank).expect("recheck");
    assert!(r.drifted);
    assert_eq!(r.ops, 100 * 5);
    assert_eq!(ours(&m, &sync), want);
}

#[test]
fn a_refused_request_is_retried_without_reading_the_kernel_each_time() {
    let (mut m, mut sync, mut want) = started();
    want.insert_service(Service::new(key(500), "nosuch"));
    want.insert_dest(&key(500), dest(1, 1)).expect("service");
    for round in 1..=3 {
        let r = sync.sync(&mut m, &want, no_rank).expect("sync");
        assert!(!r.drifted && !r.reread, "round {round}");
        assert_eq!(r.ops, 2);
        assert_eq!(r.failed.len(), 2, "{:?}", r.failed);
    }
    assert_eq!(m.reads, 1);
    assert!(!m.table.services.contains_key(&key(500)));
}

#[test]
fn a_socket_failure_mid_batch_reads_the_kernel_and_finishes() {
    let (mut m, mut sync, mut want) = started();
    for s in 0..10 {
        want.insert_dest(&key(s), dest(1, 8)).expect("service");
    }
    m.break_after = Some(4);
    let r = sync.sync(&mut m, &want, no_rank).expect("sync");
    assert!(r.reread && !r.drifted);
    assert_eq!(m.reads, 2);
    assert_eq!(m.sent, 500 + 4 + 6);
    assert_eq!(ours(&m, &sync), want);
}

#[test]
fn adopted_services_are_read_and_removed() {
    let mut m = Memory::default();
    let want = desired(3);
    m.table = want.clone();
    let mut sync = TableSync::default();
    sync.adopt(want.services.keys());
    let r = sync.sync(&mut m, &Table::new(), no_rank).expect("sync");
    assert!(r.reread);
    assert_eq!(r.ops, 3);
    assert!(m.table.services.is_empty());
}

#[test]
fn adds_follow_the_configuration_order_within_each_service() {
    let k = key(1);
    let mut ops = vec![
        Op::AddService(Service::new(k, "rr")),
        Op::AddDest(k, dest(1, 1)),
        Op::AddDest(k, dest(2, 1)),
        Op::AddDest(k, dest(3, 1)),
    ];
    // Configuration order: .3, .1, .2
    order_adds(&mut ops, |_, dk| match dk.addr.to_string().as_str() {
        "10.0.0.3" => 0,
        "10.0.0.1" => 1,
        _ => 2,
    });
    let order: Vec<String> = ops[1..]
        .iter()
        .map(|o| match o {
            Op::AddDest(_, d) => d.addr.to_string(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(order, vec!["10.0.0.3", "10.0.0.1", "10.0.0.2"]);
}
