//! Priority 255 on a director that does not own the virtual addresses, in network namespaces:
//! keepalived 2.2.7 runs it with 255 as configured, and so does lvsd, saying so in a warning.
//! Needs root; skips with a printed reason otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, Lab};
use std::time::Duration;

const VIP: &str = "10.9.0.100";

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  virtual_ipaddress {{ {VIP}/24 }}
}}
"
    )
}

#[test]
fn priority_255_without_the_addresses_runs_with_255() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    // Node 1 (10.9.0.2) at 254 would win a tie at 254 by its higher address: node 0 must not
    // have been lowered to 254.
    let a = lab.lvsd(0, &conf(255));
    let b = lab.lvsd(1, &conf(254));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(8)).is_some(),
        "the priority 255 node is master; logs:\n{}",
        lab.all_logs()
    );
    // The election has settled: node 0 keeps the VIP over three of its adverts.
    lab.assert_stays(VIP, 0, Duration::from_secs(3));
    let log = lab.log(a);
    assert!(
        log.contains("priority 255 is for the address owner")
            && log.contains("it runs with 255 all the same")
            && !log.contains("priority 254")
            && log.contains("(VI_1) interface eth0 vrid 51 priority 255 "),
        "the warning says what happens:\n{log}"
    );
    assert!(
        lab.log(b).contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        lab.log(b)
    );
}
