//! Reloaded instances (`Input::Reconfigure`, `Input::Delete`) on the simulated LAN.

use super::*;

/// A (150) is master and B (100) backup since 3.4140625 s; at 10 s A's last advert left at
/// 9.4140625 s.
fn settled() -> Lan {
    let mut lan = Lan::new(vec![router("10.0.0.1", 150), router("10.0.0.2", 100)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    assert_eq!((lan.state(0), lan.state(1)), (State::Master, State::Backup));
    lan
}

fn reconfigure(lan: &mut Lan, n: usize, p: InstanceParams) -> Vec<Action> {
    let from = lan.log.len();
    lan.feed(n, Input::Reconfigure(Box::new(p)));
    lan.log[from..].iter().map(|(_, _, a)| a.clone()).collect()
}

#[test]
fn backup_raised_above_the_master_takes_over_through_the_protocol() {
    let mut lan = settled();
    let acts = reconfigure(&mut lan, 1, router("10.0.0.2", 200));
    assert_eq!(
        acts,
        [Action::Log(
            "Changing effective priority from 100 to 200 (reload)".into()
        )],
        "no transition at the reload itself"
    );
    lan.at(20.0);
    // B discards A's priority 150 adverts from now on: its Master_Down_Timer, last reset by
    // A's 9.4140625 s advert (3 + 156/256 s), runs out.
    assert_eq!(lan.became_master_at(1), Some(secs(13.0234375)));
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "higher priority 200 advert from 10.0.0.2"
    );
}

#[test]
fn master_with_a_lowered_priority_advertises_it_and_yields() {
    let mut lan = settled();
    reconfigure(&mut lan, 0, router("10.0.0.1", 50));
    assert_eq!(lan.state(0), State::Master);
    lan.at(10.5);
    assert!(lan
        .actions_of(0, 10.0)
        .contains(&Action::Send(lan.nodes[0].advert(50))));
    lan.at(20.0);
    assert_eq!(lan.became_master_at(1), Some(secs(13.0234375)));
    assert_eq!(lan.state(0), State::Backup);
}

#[test]
fn new_addresses_keep_state_and_timers() {
    let mut lan = settled();
    let deadline = lan.nodes[0].next_deadline();
    let mut p = router("10.0.0.1", 150);
    p.vips.push(ip("10.0.0.101"));
    assert!(reconfigure(&mut lan, 0, p).is_empty());
    assert_eq!(lan.nodes[0].next_deadline(), deadline);
    assert_eq!(lan.nodes[0].advert(150).addresses.len(), 2);
    assert_eq!(lan.state(0), State::Master);
}

#[test]
fn tracking_still_applies_to_a_new_base_priority() {
    let mut lan = settled();
    let mut tracker = Tracker::new();
    tracker.track(Kind::Script, "chk", -60, false, Status::Up(true));
    let change = tracker.set_up(Kind::Script, "chk", false).unwrap();
    lan.feed(0, Input::Track(change));
    assert_eq!(lan.nodes[0].priority(), 90);
    reconfigure(&mut lan, 0, router("10.0.0.1", 160));
    assert_eq!(lan.nodes[0].priority(), 100);
}

#[test]
fn a_shorter_advert_interval_applies_from_the_next_advert() {
    let mut lan = settled();
    let mut p = router("10.0.0.1", 150);
    p.advert_interval = secs(0.25);
    reconfigure(&mut lan, 0, p);
    assert_eq!(lan.nodes[0].next_deadline(), Some(lan.now + secs(0.25)));
    // A longer one does not postpone the advert already due.
    let due = lan.nodes[0].next_deadline();
    let mut p = router("10.0.0.1", 150);
    p.advert_interval = secs(3.0);
    reconfigure(&mut lan, 0, p);
    assert_eq!(lan.nodes[0].next_deadline(), due);
}

#[test]
fn a_backup_made_address_owner_takes_over_at_once() {
    let mut lan = settled();
    reconfigure(&mut lan, 1, router("10.0.0.2", 255));
    assert_eq!(lan.state(1), State::Master);
    assert_eq!(
        lan.transitions(1).last().unwrap().2,
        "address owner (priority 255)"
    );
    assert_eq!(lan.state(0), State::Backup, "A hears priority 255 at once");
}

#[test]
fn deleting_the_master_releases_it_and_announces_the_deletion() {
    let mut lan = settled();
    lan.feed(0, Input::Delete);
    let acts = lan.actions_of(0, 10.0);
    assert_eq!(
        acts,
        [
            Action::Send(lan.nodes[0].advert(0)),
            Action::RemoveVips,
            Action::Deleted { priority: 150 },
        ]
    );
    assert_eq!(lan.state(0), State::Stop);
    assert_eq!(lan.nodes[0].next_deadline(), None);
    // B takes over after its skew time: (256 - 100) / 256 s.
    lan.at(12.0);
    assert_eq!(lan.became_master_at(1), Some(secs(10.609375)));
    // A deleted backup only announces it.
    let mut lan = settled();
    lan.feed(1, Input::Delete);
    assert_eq!(lan.actions_of(1, 10.0), [Action::Deleted { priority: 100 }]);
}
