//! The IPVS table as data, and the fewest operations that turn one table into another.

use std::collections::BTreeMap;
use std::fmt;

use crate::types::{DestKey, Destination, Service, ServiceKey};

/// A service and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualService {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Destination>,
}

impl VirtualService {
    pub fn new(service: Service) -> Self {
        VirtualService {
            service,
            dests: BTreeMap::new(),
        }
    }
}

/// Services and destinations by key: what the kernel holds, or what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, VirtualService>,
}

/// One change to the kernel's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    /// SET_SERVICE: scheduler, flags, timeout, netmask and persistence engine.
    EditService(Service),
    /// DEL_SERVICE, which also removes the service's destinations.
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    /// SET_DEST: forwarding method (with tunnel settings), weight, thresholds.
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, DestKey),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {} ({})", s.key, s.scheduler),
            Op::EditService(s) => write!(f, "edit service {} ({})", s.key, s.scheduler),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::AddDest(k, d) => write!(f, "add {k} -> {} weight {}", d.key(), d.weight),
            Op::EditDest(k, d) => write!(f, "edit {k} -> {} weight {}", d.key(), d.weight),
            Op::DelDest(k, d) => write!(f, "delete {k} -> {d}"),
        }
    }
}

/// Why an operation could not be applied to a [`Table`] (mirrors the kernel's refusals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}: service already exists")]
    ServiceExists(ServiceKey),
    #[error("{0}: no such service")]
    NoService(ServiceKey),
    #[error("{0} -> {1}: destination already exists")]
    DestExists(ServiceKey, DestKey),
    #[error("{0} -> {1}: no such destination")]
    NoDest(ServiceKey, DestKey),
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a service's configuration, keeping its destinations.
    pub fn insert_service(&mut self, service: Service) {
        match self.services.get_mut(&service.key) {
            Some(vs) => vs.service = service,
            None => {
                self.services
                    .insert(service.key, VirtualService::new(service));
            }
        }
    }

    /// Adds or replaces a destination of an existing service.
    pub fn insert_dest(&mut self, key: &ServiceKey, dest: Destination) -> Result<(), ApplyError> {
        let vs = self
            .services
            .get_mut(key)
            .ok_or(ApplyError::NoService(*key))?;
        vs.dests.insert(dest.key(), dest);
        Ok(())
    }

    /// Number of destinations over all services.
    pub fn dest_count(&self) -> usize {
        self.services.values().map(|vs| vs.dests.len()).sum()
    }

    /// Performs one operation the way the kernel would, refusing what it would refuse.
    pub fn apply(&mut self, op: &Op) -> Result<(), ApplyError> {
        match op {
            Op::AddService(s) => {
                if self.services.contains_key(&s.key) {
                    return Err(ApplyError::ServiceExists(s.key));
                }
                self.services.insert(s.key, VirtualService::new(s.clone()));
            }
            Op::EditService(s) => {
                let vs = self
                    .services
                    .get_mut(&s.key)
                    .ok_or(ApplyError::NoService(s.key))?;
                vs.service = s.clone();
            }
            Op::DelService(k) => {
                self.services.remove(k).ok_or(ApplyError::NoService(*k))?;
            }
            Op::AddDest(k, d) => {
                let vs = self.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
                if vs.dests.contains_key(&d.key()) {
                    return Err(ApplyError::DestExists(*k, d.key()));
                }
                vs.dests.insert(d.key(), *d);
            }
            Op::EditDest(k, d) => {
                let vs = self.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
                let slot = vs
                    .dests
                    .get_mut(&d.key())
                    .ok_or(ApplyError::NoDest(*k, d.key()))?;
                *slot = *d;
            }
            Op::DelDest(k, dk) => {
                let vs = self.services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
                vs.dests.remove(dk).ok_or(ApplyError::NoDest(*k, *dk))?;
            }
        }
        Ok(())
    }
}

/// The fewest operations that make `actual` equal to `desired`, touching every service.
pub fn plan(desired: &Table, actual: &Table) -> Vec<Op> {
    plan_owned(desired, actual, |_| true)
}

/// Like [`plan`], but a service present only in `actual` is deleted only when `owns` says it
/// is ours, so that services another program created are left alone. Services in `desired`
/// are always ours, including their destinations.
///
/// Order: new services each followed by their destinations; then changed services, with
/// their new destinations added before the old ones are deleted (a service is never empty
/// longer than needed); deleted services last.
pub fn plan_owned(desired: &Table, actual: &Table, owns: impl Fn(&ServiceKey) -> bool) -> Vec<Op> {
    let mut created = Vec::new();
    let mut changed = Vec::new();
    let mut deleted = Vec::new();

    for (key, want) in &desired.services {
        let Some(have) = actual.services.get(key) else {
            created.push(Op::AddService(want.service.clone()));
            created.extend(want.dests.values().map(|d| Op::AddDest(*key, *d)));
            continue;
        };
        if have.service != want.service {
            changed.push(Op::EditService(want.service.clone()));
        }
        let mut removals = Vec::new();
        for (dk, d) in &want.dests {
            match have.dests.get(dk) {
                None => changed.push(Op::AddDest(*key, *d)),
                Some(h) if h != d => changed.push(Op::EditDest(*key, *d)),
                Some(_) => {}
            }
        }
        for dk in have.dests.keys() {
            if !want.dests.contains_key(dk) {
                removals.push(Op::DelDest(*key, *dk));
            }
        }
        changed.extend(removals);
    }

    for key in actual.services.keys() {
        if !desired.services.contains_key(key) && owns(key) {
            deleted.push(Op::DelService(*key));
        }
    }

    created.extend(changed);
    created.extend(deleted);
    created
}
