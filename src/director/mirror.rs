//! What lvsd believes the kernel's IPVS table holds for the services it owns, so that a change is
//! planned against memory instead of a dump of the whole kernel table (seconds for 50,000 entries
//! under emulation, for a change of one operation). The kernel's replies keep the belief honest: an
//! operation that fails because the kernel differs (EEXIST, ESRCH, ENOENT on a destination) is
//! evidence of drift, and the caller reads the table again.

use ipvs::{Op, ServiceKey, Table};

/// The belief: `None` until the kernel has been read, and again after anything left it unknown.
#[derive(Debug, Default)]
pub struct Mirror {
    table: Option<Table>,
}

/// How one operation of a batch ended: `None` = done, `Some(errno)` = refused (errno `None`
/// when it could not even be encoded).
pub type Outcome = Option<Option<i32>>;

impl Mirror {
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// The kernel must be read before the next plan (at start, or the socket failed mid-batch).
    pub fn forget(&mut self) -> Option<Table> {
        self.table.take()
    }

    /// Believes a dump, restricted to the services `ours` names: the others belong to other
    /// programs and are neither planned against nor deleted.
    pub fn load(&mut self, mut actual: Table, ours: impl Fn(&ServiceKey) -> bool) {
        actual.services.retain(|k, _| ours(k));
        self.table = Some(actual);
    }

    /// Updates the belief with the outcome of `ops` (planned against it, sent in order) and
    /// returns the indexes of the refusals that show the kernel differs from the belief.
    /// A refusal the belief predicts (a destination of a service whose creation was refused)
    /// or that judges the request itself (unknown scheduler, bad value) is not drift: the
    /// belief then simply does not include that operation.
    pub fn record(&mut self, ops: &[Op], outcome: impl Fn(usize) -> Outcome) -> Vec<usize> {
        let Some(t) = self.table.as_mut() else {
            return Vec::new();
        };
        let mut drift = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match outcome(i) {
                None => {
                    if t.apply(op).is_err() {
                        // The kernel accepted what the belief says it must refuse.
                        drift.push(i);
                    }
                }
                Some(errno) => {
                    if would_apply(t, op) && errno.is_some_and(|e| shows_drift(op, e)) {
                        drift.push(i);
                    }
                }
            }
        }
        drift
    }
}

/// Whether the kernel, were it equal to `t`, would accept `op` (the checks of `Table::apply`).
fn would_apply(t: &Table, op: &Op) -> bool {
    let svc = |k: &ServiceKey| t.services.get(k);
    match op {
        Op::AddService(s) => svc(&s.key).is_none(),
        Op::EditService(s) => svc(&s.key).is_some(),
        Op::DelService(k) => svc(k).is_some(),
        Op::AddDest(k, d) => svc(k).is_some_and(|vs| !vs.dests.contains_key(&d.key())),
        Op::EditDest(k, d) => svc(k).is_some_and(|vs| vs.dests.contains_key(&d.key())),
        Op::DelDest(k, dk) => svc(k).is_some_and(|vs| vs.dests.contains_key(dk)),
    }
}

/// The errnos with which the kernel says an object is there or missing, per operation. ENOENT on a
/// service means an unknown scheduler or persistence engine: the request, not the table, is wrong.
fn shows_drift(op: &Op, errno: i32) -> bool {
    match op {
        Op::AddService(_) => errno == libc::EEXIST,
        Op::EditService(_) | Op::DelService(_) => errno == libc::ESRCH,
        Op::AddDest(..) => errno == libc::EEXIST || errno == libc::ESRCH,
        Op::EditDest(..) | Op::DelDest(..) => errno == libc::ENOENT || errno == libc::ESRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::{plan, Destination, Forward, Service};

    fn key(last: u8) -> ServiceKey {
        ServiceKey::tcp(format!("192.0.2.{last}").parse().expect("ip"), 80)
    }

    fn dest(last: u8, weight: u32) -> Destination {
        let mut d = Destination::new(
            format!("10.0.0.{last}").parse().expect("ip"),
            80,
            Forward::Masq,
        );
        d.weight = weight;
        d
    }

    /// Service 192.0.2.S: its scheduler and destinations 10.0.0.D with weight W.
    type Spec<'a> = (u8, &'a str, &'a [(u8, u32)]);

    fn table(spec: &[Spec]) -> Table {
        let mut t = Table::new();
        for (s, sched, dests) in spec {
            t.insert_service(Service::new(key(*s), sched));
            for (d, w) in *dests {
                t.insert_dest(&key(*s), dest(*d, *w)).expect("service");
            }
        }
        t
    }

    fn loaded(t: Table) -> Mirror {
        let mut m = Mirror::default();
        m.load(t, |_| true);
        m
    }

    #[test]
    fn an_accepted_batch_makes_the_belief_the_desired_table() {
        let mut m = loaded(table(&[(1, "wrr", &[(1, 1), (2, 1)])]));
        let want = table(&[(1, "wrr", &[(1, 5), (3, 1)]), (2, "rr", &[(1, 1)])]);
        let ops = plan(&want, m.table().expect("known"));
        assert!(m.record(&ops, |_| None).is_empty());
        assert_eq!(m.table(), Some(&want));
        // Nothing left to do: the next plan against the belief is empty.
        assert!(plan(&want, m.table().expect("known")).is_empty());
    }

    #[test]
    fn exists_and_missing_replies_are_drift() {
        let m0 = || loaded(table(&[(1, "wrr", &[(1, 1)])]));
        let cases = [
            (Op::AddDest(key(1), dest(2, 1)), libc::EEXIST),
            (Op::EditDest(key(1), dest(1, 3)), libc::ENOENT),
            (Op::EditDest(key(1), dest(1, 3)), libc::ESRCH),
            (Op::DelDest(key(1), dest(1, 1).key()), libc::ENOENT),
            (Op::AddService(Service::new(key(2), "rr")), libc::EEXIST),
            (Op::EditService(Service::new(key(1), "rr")), libc::ESRCH),
            (Op::DelService(key(1)), libc::ESRCH),
        ];
        for (op, errno) in cases {
            let mut m = m0();
            assert_eq!(
                m.record(std::slice::from_ref(&op), |_| Some(Some(errno))),
                vec![0],
                "{op}"
            );
        }
    }

    #[test]
    fn a_refused_request_is_not_drift_and_is_left_out_of_the_belief() {
        let mut m = loaded(table(&[(1, "wrr", &[(1, 1)])]));
        let want = table(&[(1, "wrr", &[(1, 1)]), (2, "nosuch", &[(1, 1), (2, 1)])]);
        let ops = plan(&want, m.table().expect("known"));
        // Unknown scheduler: ENOENT for the service, then ESRCH for each of its destinations.
        let drift = m.record(&ops, |i| match ops[i] {
            Op::AddService(_) => Some(Some(libc::ENOENT)),
            _ => Some(Some(libc::ESRCH)),
        });
        assert!(drift.is_empty());
        assert_eq!(m.table(), Some(&table(&[(1, "wrr", &[(1, 1)])])));
        // The next change tries the refused service again.
        let again = plan(&want, m.table().expect("known"));
        assert_eq!(again.len(), 3);
        // EINVAL on a weight is the request's fault too: the old weight stays believed.
        let mut m = loaded(table(&[(1, "wrr", &[(1, 1)])]));
        let op = Op::EditDest(key(1), dest(1, 9));
        assert!(m.record(&[op], |_| Some(Some(libc::EINVAL))).is_empty());
        assert_eq!(m.table(), Some(&table(&[(1, "wrr", &[(1, 1)])])));
    }

    #[test]
    fn a_failed_delete_keeps_the_service_believed_so_it_is_tried_again() {
        let mut m = loaded(table(&[(1, "wrr", &[(1, 1)]), (2, "rr", &[])]));
        let want = table(&[(1, "wrr", &[(1, 1)])]);
        let ops = plan(&want, m.table().expect("known"));
        assert_eq!(ops, vec![Op::DelService(key(2))]);
        assert!(m.record(&ops, |_| Some(Some(libc::EBUSY))).is_empty());
        assert_eq!(
            plan(&want, m.table().expect("known")),
            vec![Op::DelService(key(2))]
        );
    }

    #[test]
    fn other_programs_services_are_not_believed_nor_deleted() {
        let mut m = Mirror::default();
        m.load(table(&[(1, "wrr", &[(1, 1)]), (9, "rr", &[(5, 1)])]), |k| {
            *k == key(1)
        });
        let want = table(&[(1, "wrr", &[(1, 2)])]);
        let ops = plan(&want, m.table().expect("known"));
        assert_eq!(ops, vec![Op::EditDest(key(1), dest(1, 2))]);
    }

    #[test]
    fn an_unknown_belief_records_nothing() {
        let mut m = loaded(Table::new());
        assert!(m.forget().is_some());
        let op = Op::AddService(Service::new(key(1), "rr"));
        assert!(m.record(&[op], |_| Some(Some(libc::EEXIST))).is_empty());
        assert!(m.table().is_none());
    }
}
