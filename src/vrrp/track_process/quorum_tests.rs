use super::*;
use crate::config::model::{ParamMatch, Timer};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Spec {
    quorum: u32,
    quorum_max: Option<u32>,
    fork_delay: u64,
    terminate_delay: u64,
}

const PLAIN: Spec = Spec {
    quorum: 1,
    quorum_max: None,
    fork_delay: 0,
    terminate_delay: 0,
};

fn tp(name: &str, process: &str, s: Spec) -> TrackProcess {
    TrackProcess {
        name: name.into(),
        process: process.into(),
        params: Vec::new(),
        param_match: None,
        full_command: false,
        weight: 0,
        reverse: false,
        quorum: s.quorum,
        quorum_max: s.quorum_max,
        fork_delay: Timer(ms(s.fork_delay)),
        terminate_delay: Timer(ms(s.terminate_delay)),
        span: Default::default(),
    }
}

fn def(process: &str, s: Spec) -> Def {
    Def::new(&tp("tp", process, s))
}

fn info(pid: u32, comm: &str) -> ProcInfo {
    ProcInfo {
        pid,
        comm: Some(comm.as_bytes().to_vec()),
        cmdline: Some(format!("{comm}\0").into_bytes()),
    }
}

fn exec(pid: u32, comm: &str) -> Input {
    Input::Exec(info(pid, comm))
}

/// The verdicts a list of changes reports, in order.
fn ups(c: &[Change]) -> Vec<bool> {
    c.iter().map(|c| c.up).collect()
}

fn up(q: &Quorums) -> bool {
    q.statuses()[0].up
}

#[test]
fn start_counts_the_running_processes_at_once() {
    let procs = [info(10, "nginx"), info(11, "nginx"), info(12, "sshd")];
    let q = Quorums::new(
        vec![def(
            "nginx",
            Spec {
                quorum: 2,
                fork_delay: 5000,
                terminate_delay: 5000,
                ..PLAIN
            },
        )],
        &procs,
    );
    assert_eq!(
        q.statuses(),
        [Change {
            name: "tp".into(),
            up: true,
            count: 2
        }],
        "no delay at start"
    );
    let q = Quorums::new(vec![def("nginx", Spec { quorum: 3, ..PLAIN })], &procs);
    assert!(!up(&q), "2 of a quorum of 3");
    assert_eq!(q.next_deadline(), None);
}

#[test]
fn without_delays_exec_and_exit_count_at_once() {
    let t0 = Instant::now();
    let mut q = Quorums::new(vec![def("nginx", PLAIN)], &[]);
    assert!(!up(&q));
    assert_eq!(ups(&q.handle(t0, exec(10, "nginx"))), [true]);
    assert_eq!(q.handle(t0, exec(11, "nginx")), [], "still in range");
    assert_eq!(q.handle(t0, Input::Exit { pid: 10 }), []);
    let c = q.handle(t0, Input::Exit { pid: 11 });
    assert_eq!(
        c,
        [Change {
            name: "tp".into(),
            up: false,
            count: 0
        }]
    );
    assert_eq!(q.handle(t0, Input::Exit { pid: 99 }), [], "never counted");
    assert_eq!(q.handle(t0, exec(12, "sshd")), [], "another name");
}

#[test]
fn quorum_max_bounds_the_count() {
    let t0 = Instant::now();
    let one = Spec {
        quorum_max: Some(1),
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("redis", one)], &[info(5, "redis")]);
    assert!(up(&q));
    assert_eq!(
        ups(&q.handle(t0, exec(6, "redis"))),
        [false],
        "two is one too many"
    );
    assert_eq!(ups(&q.handle(t0, Input::Exit { pid: 5 })), [true]);

    // quorum_max 0 (quorum 0): up while no such process runs.
    let none = Spec {
        quorum: 0,
        quorum_max: Some(0),
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("telnetd", none)], &[]);
    assert!(up(&q));
    assert_eq!(ups(&q.handle(t0, exec(7, "telnetd"))), [false]);
    assert_eq!(ups(&q.handle(t0, Input::Exit { pid: 7 })), [true]);
}

#[test]
fn terminate_delay_holds_a_lost_quorum_and_a_restart_in_time_cancels_it() {
    let t0 = Instant::now();
    let spec = Spec {
        terminate_delay: 2000,
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("nginx", spec)], &[info(10, "nginx")]);
    assert_eq!(q.handle(t0, Input::Exit { pid: 10 }), [], "the loss waits");
    assert_eq!(q.next_deadline(), Some(t0 + ms(2000)));
    assert_eq!(q.handle(t0 + ms(1999), Input::Tick), []);
    assert!(up(&q));
    let c = q.handle(t0 + ms(2000), Input::Tick);
    assert_eq!(
        c,
        [Change {
            name: "tp".into(),
            up: false,
            count: 0
        }]
    );
    assert_eq!(q.next_deadline(), None);

    // Stopped and started again within the delay: never down.
    let mut q = Quorums::new(vec![def("nginx", spec_td(2000))], &[info(10, "nginx")]);
    assert_eq!(q.handle(t0, Input::Exit { pid: 10 }), []);
    assert_eq!(q.handle(t0 + ms(500), exec(11, "nginx")), []);
    assert_eq!(q.next_deadline(), None, "the pending loss is dropped");
    assert_eq!(q.handle(t0 + ms(5000), Input::Tick), []);
    assert!(up(&q));
}

fn spec_td(terminate_delay: u64) -> Spec {
    Spec {
        terminate_delay,
        ..PLAIN
    }
}

#[test]
fn the_end_of_a_delay_takes_the_count_then() {
    let t0 = Instant::now();
    let spec = Spec {
        quorum: 2,
        terminate_delay: 1000,
        fork_delay: 1000,
        ..PLAIN
    };
    let procs = [info(1, "w"), info(2, "w"), info(3, "w")];
    let mut q = Quorums::new(vec![def("w", spec)], &procs);
    assert_eq!(q.handle(t0, Input::Exit { pid: 1 }), [], "3 -> 2: in range");
    assert_eq!(q.handle(t0, Input::Exit { pid: 2 }), [], "2 -> 1: waits");
    assert_eq!(
        q.handle(
            t0 + ms(100),
            Input::Fork {
                parent: 3,
                child: 4
            }
        ),
        [],
        "back to 2 by a fork: the pending loss is dropped at once"
    );
    assert_eq!(q.next_deadline(), None);
    assert!(up(&q));
    assert_eq!(q.handle(t0 + ms(200), Input::Exit { pid: 4 }), []);
    assert_eq!(q.handle(t0 + ms(300), Input::Exit { pid: 3 }), [], "1 -> 0");
    assert_eq!(ups(&q.handle(t0 + ms(1200), Input::Tick)), [false]);
}

#[test]
fn fork_delay_rides_out_a_fork_and_exec() {
    let t0 = Instant::now();
    // One instance only: a fork makes two until the child execs something else.
    let spec = Spec {
        quorum_max: Some(1),
        fork_delay: 300,
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("master", spec)], &[info(10, "master")]);
    let fork = Input::Fork {
        parent: 10,
        child: 11,
    };
    assert_eq!(
        q.handle(t0, fork.clone()),
        [],
        "too many, but only after the delay"
    );
    assert_eq!(q.next_deadline(), Some(t0 + ms(300)));
    assert_eq!(
        q.handle(t0 + ms(1), exec(11, "sh")),
        [],
        "the child is another program"
    );
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.handle(t0 + ms(400), Input::Tick), []);
    assert!(up(&q));

    // Without the delay the same fork and exec flap the verdict.
    let mut q = Quorums::new(
        vec![def(
            "master",
            Spec {
                quorum_max: Some(1),
                ..PLAIN
            },
        )],
        &[info(10, "master")],
    );
    assert_eq!(ups(&q.handle(t0, fork)), [false]);
    assert_eq!(ups(&q.handle(t0, exec(11, "sh"))), [true]);

    // A fork that completes the quorum counts after the delay; one of an uncounted parent
    // counts never.
    let spec = Spec {
        quorum: 2,
        fork_delay: 300,
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("w", spec)], &[info(1, "w")]);
    let other = Input::Fork {
        parent: 50,
        child: 51,
    };
    assert_eq!(q.handle(t0, other), []);
    assert_eq!(q.next_deadline(), None);
    assert_eq!(
        q.handle(
            t0,
            Input::Fork {
                parent: 1,
                child: 2
            }
        ),
        []
    );
    assert_eq!(q.handle(t0 + ms(299), Input::Tick), []);
    assert_eq!(ups(&q.handle(t0 + ms(300), Input::Tick)), [true]);
}

#[test]
fn a_process_counts_once_however_often_it_is_reported() {
    let t0 = Instant::now();
    let spec = Spec { quorum: 2, ..PLAIN };
    let mut q = Quorums::new(vec![def("w", spec)], &[info(1, "w"), info(2, "w")]);
    assert!(up(&q));
    // The scan saw pid 2 already; its fork event and an exec into the same name follow.
    q.handle(
        t0,
        Input::Fork {
            parent: 1,
            child: 2,
        },
    );
    q.handle(t0, exec(2, "w"));
    assert_eq!(q.statuses()[0].count, 2);
    assert_eq!(ups(&q.handle(t0, Input::Exit { pid: 2 })), [false]);
}

#[test]
fn renames_count_for_process_names_only() {
    let t0 = Instant::now();
    let by_name = Def::new(&tp("by_name", "worker", PLAIN));
    let mut full = tp("full", "/usr/bin/worker", PLAIN);
    full.full_command = true;
    let full = Def::new(&full);
    let mut cmd = info(10, "worker");
    cmd.cmdline = Some(b"/usr/bin/worker\0".to_vec());
    let mut q = Quorums::new(vec![by_name, full], &[cmd]);
    assert_eq!(ups(&q.statuses()), [true, true]);
    let c = q.handle(
        t0,
        Input::Comm {
            pid: 10,
            comm: b"Web Content".to_vec(),
        },
    );
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].name.as_str(), c[0].up), ("by_name", false));
    let c = q.handle(
        t0,
        Input::Comm {
            pid: 10,
            comm: b"worker".to_vec(),
        },
    );
    assert_eq!((c[0].name.as_str(), c[0].up), ("by_name", true));
    assert_eq!(
        ups(&q.statuses()),
        [true, true],
        "the command line did not change"
    );
}

#[test]
fn exec_reads_the_new_program() {
    let t0 = Instant::now();
    let mut d = tp("tp", "python3", PLAIN);
    d.params = vec!["-m".into(), "http.server".into()];
    d.param_match = Some(ParamMatch::Exact);
    d.full_command = true;
    let mut q = Quorums::new(vec![Def::new(&d)], &[]);
    let mut p = info(20, "python3");
    p.cmdline = Some(b"python3\0-m\0http.server\0".to_vec());
    assert_eq!(ups(&q.handle(t0, Input::Exec(p.clone()))), [true]);
    p.cmdline = Some(b"python3\0-c\0pass\0".to_vec());
    assert_eq!(
        ups(&q.handle(t0, Input::Exec(p))),
        [false],
        "execs into another command"
    );
}

#[test]
fn a_rescan_gains_after_fork_delay_and_loses_after_terminate_delay() {
    let t0 = Instant::now();
    let spec = Spec {
        fork_delay: 100,
        terminate_delay: 400,
        ..PLAIN
    };
    let mut q = Quorums::new(vec![def("n", spec)], &[]);
    assert_eq!(q.handle(t0, Input::Rescan(vec![info(3, "n")])), []);
    assert_eq!(q.next_deadline(), Some(t0 + ms(100)));
    assert_eq!(
        q.handle(t0 + ms(50), Input::Rescan(vec![info(3, "n")])),
        [],
        "a second scan keeps the first deadline"
    );
    assert_eq!(ups(&q.handle(t0 + ms(100), Input::Tick)), [true]);
    assert_eq!(q.handle(t0 + ms(200), Input::Rescan(vec![])), []);
    assert_eq!(q.next_deadline(), Some(t0 + ms(600)));
    assert_eq!(
        q.handle(t0 + ms(300), Input::Rescan(vec![info(4, "n")])),
        [],
        "back before the delay"
    );
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.handle(t0 + ms(1000), Input::Tick), []);
    assert!(up(&q));
    // Without delays a rescan counts at once.
    let mut q = Quorums::new(vec![def("n", PLAIN)], &[info(1, "n")]);
    assert_eq!(ups(&q.handle(t0, Input::Rescan(vec![]))), [false]);
}

#[test]
fn a_reload_keeps_unchanged_blocks_and_restarts_changed_ones() {
    let t0 = Instant::now();
    let kept = Def::new(&tp("kept", "a", spec_td(1000)));
    let changed = Def::new(&tp("changed", "b", PLAIN));
    let procs = [info(1, "a"), info(2, "b")];
    let mut q = Quorums::new(vec![kept.clone(), changed], &procs);
    assert_eq!(
        q.handle(t0, Input::Exit { pid: 1 }),
        [],
        "kept: loss pending"
    );
    let now_b = Def::new(&tp("changed", "b", Spec { quorum: 2, ..PLAIN }));
    let added = Def::new(&tp("added", "c", PLAIN));
    let c = q.reconfigure(vec![kept, now_b, added], t0 + ms(10), &[info(2, "b")]);
    assert_eq!(c, [], "the pending loss still waits");
    let s = q.statuses();
    let names: Vec<(&str, bool)> = s.iter().map(|c| (c.name.as_str(), c.up)).collect();
    assert_eq!(
        names,
        [("kept", true), ("changed", false), ("added", false)]
    );
    assert_eq!(q.next_deadline(), Some(t0 + ms(1000)));
    let c = q.handle(t0 + ms(1000), Input::Tick);
    assert_eq!((c[0].name.as_str(), c[0].up), ("kept", false));
}

#[test]
fn needs_say_what_to_read() {
    let q = Quorums::new(vec![def("n", PLAIN)], &[]);
    assert_eq!(
        q.needs(),
        Needs {
            comm: true,
            cmdline: 0
        }
    );
    let mut d = tp("f", "/bin/x", PLAIN);
    d.params = vec!["abc".into()];
    let q = Quorums::new(vec![Def::new(&d), def("n", PLAIN)], &[]);
    assert_eq!(
        q.needs(),
        Needs {
            comm: true,
            cmdline: "/bin/x\0abc\0".len() + 1
        }
    );
    assert_eq!(Quorums::default().needs(), Needs::default());
}
