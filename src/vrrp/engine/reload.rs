//! Applying a reload plan (`vrrp::reload::Plan`) to the running engine. Order matters:
//! removed instances release first (priority 0, VIPs gone), then updated MASTERs drop the
//! addresses they no longer have, before anyone adds one (an address may move between
//! instances); then in-place updates, new instances, sync groups, scripts and sockets.

use std::collections::HashMap;
use std::rc::Rc;

use tracing::{error, info, warn};

use super::{fifo_path, scripts, setup, Engine};
use crate::config::model::{Config, VrrpInstance, VrrpScript};
use crate::vrrp::announce::Announcer;
use crate::vrrp::from_config::{
    catchup_hold, destinations, instance_params, interface_of, send_ttl,
};
use crate::vrrp::netlink::{Link, Vip};
use crate::vrrp::reload::{InstancePlan, Plan};
use crate::vrrp::sync::SyncCommand;
use crate::vrrp::track::TrackChange;
use crate::vrrp::{Input, State};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;

/// A slot's new addresses, routes and rules, resolved before anything is touched.
struct Resolved {
    slot: usize,
    inst: VrrpInstance,
    vips: Vec<Vip>,
    routes: Vec<(String, RouteMessage)>,
    rules: Vec<(String, RuleMessage)>,
}

impl Engine {
    pub(super) async fn reload(&mut self, new: std::sync::Arc<Config>) {
        let plan = Plan::new(&self.cfg, &new);
        // Before the instances: their routes may go via a static address.
        self.statics.apply(&new).await;
        if plan.is_empty() {
            info!("reload: VRRP configuration unchanged");
            self.cfg = new;
            return;
        }
        for line in plan.describe() {
            info!("reload: {line}");
        }
        for k in &plan.at_next_start {
            warn!("reload: global_defs {k} changed; as in keepalived it only acts when lvsd starts (the new value applies at the next start)");
        }
        self.cfg = new;
        self.check_unicast_src = self.cfg.global.vrrp_check_unicast_src;
        self.garp_gap = (
            self.cfg.global.vrrp_garp_interval.0,
            self.cfg.global.vrrp_gna_interval.0,
        );
        if plan.notifier_changed {
            self.notifier.reconfigure(
                self.cfg.global.script_user.clone(),
                self.cfg.global.enable_script_security,
                fifo_path(&self.cfg),
            );
        }

        // Removed and replaced instances go as deleted ones; slot indexes shift, so the sync
        // groups are set aside (their members' indexes would be wrong) and rebuilt.
        let old_groups = std::mem::take(&mut self.groups);
        let replaced: Vec<&String> = plan
            .kept
            .iter()
            .filter(|(_, p)| matches!(p, InstancePlan::Replace(_)))
            .map(|(n, _)| n)
            .collect();
        for name in plan.removed.iter().chain(replaced.iter().copied()) {
            if let Some(i) = self.slot_of(name) {
                self.delete_slot(i).await;
            }
        }
        // Groups of the new configuration around the remaining slots, so that transitions
        // caused by the updates below move their groups.
        self.rebuild_groups(old_groups);

        // Scripts that changed or are no longer tracked stop now, so that the trackers built
        // below see the fresh state of restarted ones.
        for s in &plan.scripts.stop {
            self.stop_script(s);
        }
        for s in &plan.scripts.start {
            self.start_script(s);
        }
        // Likewise the process counts, before the trackers are rebuilt.
        self.procs.follow(&self.cfg).await;

        let mut links = setup::links(&self.nl, &self.cfg).await;
        for s in &self.slots {
            if let Some(v) = &s.vmac {
                links.insert(v.link.name.clone(), v.link.clone());
            }
        }
        let mut announcers: HashMap<u32, Rc<Announcer>> = self
            .slots
            .iter()
            .flat_map(|s| s.announcers.iter().cloned())
            .collect();

        // In-place updates: resolve, withdraw what MASTERs drop, then add and reconfigure.
        let updates: Vec<Resolved> = plan
            .kept
            .iter()
            .filter(|(_, p)| matches!(p, InstancePlan::Update(_)))
            .filter_map(|(name, _)| self.resolve(name, &links))
            .collect();
        for u in &updates {
            self.withdraw(u).await;
        }
        for u in updates {
            self.update_slot(u, &links, &mut announcers).await;
        }
        // Unchanged instances get the new model too (same values, new line numbers).
        for (name, p) in &plan.kept {
            if let (InstancePlan::Keep, Some(i)) = (p, self.slot_of(name)) {
                if let Some(inst) = self.instance(name) {
                    self.slots[i].cfg = inst;
                }
            }
        }

        // New instances (added or replaced) are built now and started after the groups exist.
        let first_new = self.slots.len();
        let to_build: Vec<VrrpInstance> = self
            .cfg
            .vrrp_instances
            .iter()
            .filter(|i| plan.added.contains(&i.name) || replaced.contains(&&i.name))
            .cloned()
            .collect();
        for inst in to_build {
            self.add_slot(&inst, &mut links, &mut announcers).await;
        }

        let groups = std::mem::take(&mut self.groups);
        self.rebuild_groups(groups);
        self.retrack(&links).await;
        for i in first_new..self.slots.len() {
            self.start_slot(i).await;
        }
        // Groups that changed, or that have a member (re)started, are made consistent.
        let fresh: Vec<&String> = plan.added.iter().chain(replaced.iter().copied()).collect();
        let reconcile: Vec<String> = self
            .cfg
            .sync_groups
            .iter()
            .filter(|g| {
                plan.groups_changed.contains(&g.name) || g.group.iter().any(|m| fresh.contains(&m))
            })
            .map(|g| g.name.clone())
            .collect();
        self.reconcile_groups(&reconcile).await;

        if plan.restart_file_watcher {
            if let Some(t) = self.file_watcher.take() {
                t.abort();
            }
            self.file_watcher = scripts::spawn_file_watcher(&self.cfg, self.ev_tx.clone());
        }
        if let Err(e) = self
            .listeners
            .sync(setup::listeners(&self.slots), &self.ev_tx)
        {
            error!("reload: {e}");
        }
        info!("reload: VRRP now runs {} instance(s)", self.slots.len());
    }

    fn slot_of(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.cfg.name == name)
    }

    fn instance(&self, name: &str) -> Option<VrrpInstance> {
        self.cfg
            .vrrp_instances
            .iter()
            .find(|i| i.name == name)
            .cloned()
    }

    /// A removed instance stops as keepalived does it: a MASTER sends priority 0 and removes
    /// its VIPs; the deletion is notified (no sync group reacts: groups are rebuilt after).
    async fn delete_slot(&mut self, i: usize) {
        let actions = self.slots[i]
            .vi
            .handle(std::time::Instant::now(), Input::Delete);
        self.perform(i, actions).await;
        let slot = self.slots.remove(i);
        if let Some(v) = &slot.vmac {
            crate::vrrp::vmac::remove(&self.nl, v).await;
        }
    }

    fn resolve(&self, name: &str, links: &HashMap<String, Link>) -> Option<Resolved> {
        let slot = self.slot_of(name)?;
        let inst = self.instance(name)?;
        let s = &self.slots[slot];
        let ifname = interface_of(&self.cfg, &inst);
        let fam = s.vi.params().family;
        Some(Resolved {
            slot,
            vips: setup::resolve_vips(&inst, &ifname, fam, s.vmac.as_ref(), links),
            routes: setup::resolve_routes(&inst, links),
            rules: setup::resolve_rules(&inst),
            inst,
        })
    }

    /// A MASTER removes the rules, routes and VIPs the new configuration dropped.
    async fn withdraw(&mut self, u: &Resolved) {
        let i = u.slot;
        if self.slots[i].vi.state() != State::Master {
            return;
        }
        let name = self.slots[i].cfg.name.clone();
        for (what, r) in self.slots[i].rules.clone() {
            if !u.rules.iter().any(|(_, n)| *n == r) {
                if let Err(e) = self.nl.del_rule(&what, &r).await {
                    warn!("({name}) {e}");
                }
            }
        }
        for (what, r) in self.slots[i].routes.clone() {
            if !u.routes.iter().any(|(_, n)| *n == r) {
                if let Err(e) = self.nl.del_route(&what, &r).await {
                    warn!("({name}) {e}");
                }
            }
        }
        for v in self.slots[i].vips.clone() {
            if !u.vips.contains(&v) && !self.held_elsewhere(i, v.addr, v.ifindex) {
                info!("({name}) removing VIP {}/{}", v.addr, v.prefix);
                if let Err(e) = self.nl.del(&v).await {
                    warn!("({name}) {e}");
                }
            }
        }
    }

    /// Applies the new configuration to a running slot, keeping its state: a MASTER adds the
    /// new VIPs (announcing them), routes and rules; a BACKUP records them.
    async fn update_slot(
        &mut self,
        u: Resolved,
        links: &HashMap<String, Link>,
        announcers: &mut HashMap<u32, Rc<Announcer>>,
    ) {
        let i = u.slot;
        let name = u.inst.name.clone();
        match setup::announcers_for(&name, &u.vips, links, announcers) {
            Ok(a) => self.slots[i].announcers = a,
            Err(e) => warn!("reload: {e}"),
        }
        let added: Vec<Vip> = u
            .vips
            .iter()
            .filter(|v| !self.slots[i].vips.contains(v))
            .cloned()
            .collect();
        if self.slots[i].vi.state() == State::Master {
            for v in &added {
                info!("({name}) adding VIP {}/{}", v.addr, v.prefix);
                if let Err(e) = self.nl.add(v).await {
                    warn!("({name}) {e}");
                }
            }
            for (what, r) in &u.routes {
                if !self.slots[i].routes.iter().any(|(_, o)| o == r) {
                    if let Err(e) = self.nl.add_route(what, r).await {
                        warn!("({name}) {e}");
                    }
                }
            }
            for (what, r) in &u.rules {
                if !self.slots[i].rules.iter().any(|(_, o)| o == r) {
                    if let Err(e) = self.nl.add_rule(what, r).await {
                        warn!("({name}) {e}");
                    }
                }
            }
        }
        let s = &mut self.slots[i];
        s.vips = u.vips;
        s.routes = u.routes;
        s.rules = u.rules;
        s.dests = destinations(&self.cfg, &u.inst);
        let ttl = send_ttl(&u.inst);
        if ttl != s.ttl {
            match setup::open_tx(&s.io_name, s.ifindex, s.primary, ttl, &name).await {
                Ok(tx) => {
                    s.tx = tx;
                    s.ttl = ttl;
                }
                Err(e) => warn!("reload: {e}; adverts keep TTL {}", s.ttl),
            }
        }
        let mut params = instance_params(&u.inst, s.primary);
        if self.news.is_some() {
            params.catchup_hold = catchup_hold(&self.cfg, &u.inst);
        }
        s.cfg = u.inst;
        if !added.is_empty() && s.vi.state() == State::Master {
            // The new addresses are announced with the new repeat count.
            self.garp(i, &added, params.garp.master_repeat);
        }
        self.feed(i, Input::Reconfigure(Box::new(params))).await;
    }

    async fn add_slot(
        &mut self,
        inst: &VrrpInstance,
        links: &mut HashMap<String, Link>,
        announcers: &mut HashMap<u32, Rc<Announcer>>,
    ) {
        let keep: Vec<Vip> = self
            .slots
            .iter()
            .filter(|s| s.vi.state() == State::Master)
            .flat_map(|s| s.vips.iter().cloned())
            .collect();
        let scripts = &self.scripts;
        let script_up = |s: &VrrpScript| {
            scripts
                .get(&s.name)
                .map_or(!s.init_fail, |r| r.state.is_up())
        };
        let procs = &self.procs;
        let ctx = setup::SlotContext {
            nl: &self.nl,
            cfg: &self.cfg,
            current: setup::Current {
                script_up: &script_up,
                process_up: &|name| procs.is_up(name),
            },
            keep: &keep,
            catchup: self.news.is_some(),
        };
        match setup::build_slot(&ctx, inst, links, announcers).await {
            Ok(slot) => self.slots.push(slot),
            Err(e) => error!("reload: ({}) not started: {e}", inst.name),
        }
    }

    /// Rebuilds every running slot's tracker from the new configuration, with the current
    /// status of each item; an instance whose verdict changes hears it as a tracking change.
    async fn retrack(&mut self, links: &HashMap<String, Link>) {
        for i in 0..self.slots.len() {
            let scripts = &self.scripts;
            let script_up = |s: &VrrpScript| {
                scripts
                    .get(&s.name)
                    .map_or(!s.init_fail, |r| r.state.is_up())
            };
            let procs = &self.procs;
            let current = setup::Current {
                script_up: &script_up,
                process_up: &|name| procs.is_up(name),
            };
            let tracker = setup::tracker(&self.cfg, &self.slots[i].cfg, links, current);
            let before = self.slots[i].tracker.verdict();
            self.slots[i].tracker = tracker;
            let verdict = self.slots[i].tracker.verdict();
            // Slots not started yet get their tracking at start.
            if verdict != before && self.slots[i].vi.state() != State::Init {
                let reason = verdict
                    .fault
                    .clone()
                    .unwrap_or_else(|| "tracking changed by reload".into());
                self.feed(i, Input::Track(TrackChange { reason, verdict }))
                    .await;
            }
        }
    }

    /// The `changed` groups are made consistent; an instance no group holds any more leaves a
    /// FAULT its old group imposed.
    async fn reconcile_groups(&mut self, changed: &[String]) {
        let mut work = Vec::new();
        for g in self
            .groups
            .iter_mut()
            .filter(|g| changed.iter().any(|c| c == g.core.name()))
        {
            for (m, cmd) in g.core.reconcile() {
                if let Some(Some(j)) = g.members.get(m) {
                    work.push((*j, cmd));
                }
            }
        }
        for (i, s) in self.slots.iter().enumerate() {
            let grouped = self.groups.iter().any(|g| g.members.contains(&Some(i)));
            if !grouped && s.vi.sync_fault().is_some() {
                work.push((i, SyncCommand::Recover("no longer in a sync group".into())));
            }
        }
        for (i, cmd) in work {
            self.feed(i, Input::Sync(cmd)).await;
        }
        self.group_notify();
    }
}
