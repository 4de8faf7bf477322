//! The steps of a reload on their own, without IPVS: `reload_profile OLD NEW` loads both files and
//! times what the daemon does between SIGHUP and the kernel request (load, status views, the
//! director's new state and desired table, the difference), for profiling on a machine without IPVS.
use lvsd::config::{load, LoadOptions};
use lvsd::director::Director;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(old), Some(new)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: reload_profile OLD NEW");
        std::process::exit(2);
    };
    let opts = LoadOptions {
        config_id: String::new(),
        check_machine: true,
    };
    let t = Instant::now();
    let step = |what: &str| eprintln!("{what:<28} {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let old = Arc::new(
        load(std::path::Path::new(old), &opts)
            .config
            .expect("old file has errors"),
    );
    let mut sn = lvsd::status::snapshot::Snapshot::new(old.clone());
    let mut director = Director::new(&old);
    let mut tracker = lvsd::director::news::Tracker::new(&old);
    let applied = director.desired();
    step("start (not timed below)");
    let t = Instant::now();
    let step = |what: &str| eprintln!("{what:<28} {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let new = Arc::new(
        load(std::path::Path::new(new), &opts)
            .config
            .expect("new file has errors"),
    );
    step("load");
    let _ = lvsd::vrrp::reload::Plan::new(&old, &new);
    step("vrrp plan");
    sn.follow(new.clone());
    step("status follow");
    let mut next = Director::new(&new);
    step("Director::new");
    next.carry_state_from(&director);
    step("carry_state_from");
    director = next;
    tracker = tracker.reloaded(&old, &new);
    step("tracker.reloaded");
    let _ = tracker.all(&director);
    step("tracker.all");
    let _ranks = director.ranks();
    step("ranks");
    let table = director.desired();
    step("desired");
    let mut drain = lvsd::director::drain::Drain::default();
    drain.note_removed(&applied, &table, Instant::now());
    step("drain.note_removed");
    drop(sn);
    drop(tracker);
    drop(director);
    drop(old);
    step("old state dropped");
}
