//! ipvsctl: list the kernel's IPVS table or make it equal to a text file (see the crate docs
//! for the format). Used in the kernel lab for tests and benchmarks.

use std::process::ExitCode;
use std::time::Instant;

use ipvs::text::{format_listing, format_table, parse_table};
use ipvs::{plan, plan_owned, Client, Table};

const USAGE: &str = "usage: ipvsctl list | dump | flush
       ipvsctl apply FILE [--keep-others] [--one-by-one]
       ipvsctl gen SERVICES DESTS_PER_SERVICE [WEIGHT]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipvsctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let cmd = args.first().map(String::as_str).unwrap_or("");
    match cmd {
        "list" => {
            let mut c = connect()?;
            let info = c.info().ok();
            let entries = c.entries().map_err(|e| e.to_string())?;
            print!("{}", format_listing(info.as_ref(), &entries));
            Ok(())
        }
        "dump" => {
            let table = connect()?.table().map_err(|e| e.to_string())?;
            print!("{}", format_table(&table));
            Ok(())
        }
        "flush" => connect()?.flush().map_err(|e| e.to_string()),
        "apply" => {
            let file = args.get(1).ok_or(USAGE)?;
            let keep_others = args.iter().any(|a| a == "--keep-others");
            let one_by_one = args.iter().any(|a| a == "--one-by-one");
            apply(file, keep_others, one_by_one)
        }
        "gen" => {
            let n: u32 = arg(args, 1)?;
            let per: u32 = arg(args, 2)?;
            let weight: u32 = if args.len() > 3 { arg(args, 3)? } else { 1 };
            print!("{}", generate(n, per, weight));
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

fn arg(args: &[String], i: usize) -> Result<u32, String> {
    args.get(i)
        .ok_or(USAGE)?
        .parse()
        .map_err(|_| format!("argument {i} must be a number\n{USAGE}"))
}

fn connect() -> Result<Client, String> {
    Client::connect_or_modprobe().map_err(|e| e.to_string())
}

fn apply(file: &str, keep_others: bool, one_by_one: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let desired = parse_table(&text).map_err(|e| format!("{file}: {e}"))?;
    let mut c = connect()?;
    let t0 = Instant::now();
    let actual = c.table().map_err(|e| e.to_string())?;
    let read = t0.elapsed();
    let ops = if keep_others {
        plan_owned(&desired, &actual, |_| false)
    } else {
        plan(&desired, &actual)
    };
    let t1 = Instant::now();
    let mut failed = Vec::new();
    if one_by_one {
        for op in &ops {
            if let Err(e) = c.execute(op) {
                failed.push(e.to_string());
            }
        }
    } else {
        let report = c.apply(&ops).map_err(|e| e.to_string())?;
        failed.extend(report.failed.iter().map(|(_, e)| e.to_string()));
    }
    let applied = t1.elapsed();
    for f in failed.iter().take(20) {
        eprintln!("failed: {f}");
    }
    println!(
        "ops={} failed={} read_ms={:.1} apply_ms={:.1} mode={} services={} dests={}",
        ops.len(),
        failed.len(),
        read.as_secs_f64() * 1e3,
        applied.as_secs_f64() * 1e3,
        if one_by_one { "one-by-one" } else { "batch" },
        desired.services.len(),
        desired.dest_count()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} operations failed", failed.len()))
    }
}

/// A table of `n` TCP services (10.0.x.y:80) with `per` destinations each on 10.128.0.0/9.
fn generate(n: u32, per: u32, weight: u32) -> String {
    let mut t = String::new();
    let mut next_dest: u32 = 0;
    for i in 0..n {
        let vip = 0x0a00_0001u32 + i;
        t.push_str(&format!(
            "service tcp {}:80 sched wrr\n",
            std::net::Ipv4Addr::from(vip)
        ));
        for _ in 0..per {
            let rip = 0x0a80_0001u32 + next_dest;
            next_dest += 1;
            t.push_str(&format!(
                "dest {}:80 masq weight {weight}\n",
                std::net::Ipv4Addr::from(rip)
            ));
        }
    }
    // Parsing our own output keeps `gen` honest about the format.
    debug_assert!(parse_table(&t).map(|x: Table| x.dest_count()).ok() == Some((n * per) as usize));
    t
}
