//! Top-level blocks only lvsd reads: `lvs_sysctl` and `lvs_sync_catchup`. They stand at the top
//! level because keepalived 2.2.7 warns about an unknown top-level block and skips it, while an
//! unknown block inside global_defs makes it close global_defs at the block's `}`.

use crate::config::model::{LvsSysctl, SyncCatchup};
use crate::config::tree::Node;
use crate::config::values::Ctx;

/// The kernel's limit for sysctl integers, and for seconds kept in jiffies (HZ up to 1000).
const INT_MAX: i64 = i32::MAX as i64;
const JIFFY_SECS_MAX: i64 = INT_MAX / 1000;

/// `lvs_sysctl { sync_threshold 3 50  sloppy_tcp 1 ... }`: values the kernel would refuse are
/// errors here, at their place.
pub fn lvs_sysctl(ctx: &mut Ctx, node: &Node, s: &mut LvsSysctl) {
    for n in ctx.block(node) {
        match n.kw() {
            "sync_threshold" => s.sync_threshold = sync_threshold(ctx, n),
            "sync_refresh_period" => {
                s.sync_refresh_period = ctx.num(n, 0, JIFFY_SECS_MAX).map(|v| v as u32)
            }
            "sync_retries" => s.sync_retries = ctx.u8v(n, 0, 3),
            "sync_persist_mode" => s.sync_persist_mode = zero_one(ctx, n),
            "sloppy_tcp" => s.sloppy_tcp = zero_one(ctx, n),
            "sloppy_sctp" => s.sloppy_sctp = zero_one(ctx, n),
            "conntrack" => s.conntrack = zero_one(ctx, n),
            "expire_nodest_conn" => s.expire_nodest_conn = zero_one(ctx, n),
            "expire_quiescent_template" => s.expire_quiescent_template = zero_one(ctx, n),
            _ => ctx.unknown(n, "lvs_sysctl"),
        }
    }
}

/// `sync_threshold THRESHOLD PERIOD`: the kernel takes 0 <= threshold < period, or period 0
/// (sync once, at the threshold).
fn sync_threshold(ctx: &mut Ctx, n: &Node) -> Option<(u32, u32)> {
    ctx.no_block(n);
    let what = "THRESHOLD PERIOD (packets), e.g. 3 50";
    let t = ctx.arg(n, 0, what)?;
    let p = ctx.arg(n, 1, what)?;
    ctx.extra(n, 2);
    let (t_tok, p_tok) = (t.clone(), p.clone());
    let t = ctx.int_in(n, &t_tok, 0, INT_MAX)? as u32;
    let p = ctx.int_in(n, &p_tok, 0, INT_MAX)? as u32;
    if p != 0 && t >= p {
        ctx.err(
            t_tok.span,
            format!("'sync_threshold': the threshold {t} must be below the period {p} (or the period 0); the kernel refuses it"),
        );
        return None;
    }
    Some((t, p))
}

fn zero_one(ctx: &mut Ctx, n: &Node) -> Option<bool> {
    ctx.num(n, 0, 1).map(|v| v == 1)
}

/// `lvs_sync_catchup { timeout 10  port 8849 }`.
pub fn lvs_sync_catchup(ctx: &mut Ctx, node: &Node, c: &mut SyncCatchup) {
    for n in ctx.block(node) {
        match n.kw() {
            "timeout" => {
                if let Some(t) = ctx.timer(n, 3600.0) {
                    c.timeout = t;
                }
            }
            "port" => {
                if let Some(p) = ctx.num(n, 1, 65535) {
                    c.port = Some(p as u16);
                }
            }
            _ => ctx.unknown(n, "lvs_sync_catchup"),
        }
    }
}
