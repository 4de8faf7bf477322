//! VRRP timer arithmetic (RFC 3768 section 6.1, RFC 5798 section 6.1), exact to the nanosecond
//! so that e.g. priority 90 at 1 s gives Master_Down_Interval 3.6484375 s.

use std::time::Duration;

use super::packet::{Version, MAX_V3_INTERVAL_CS};

/// Skew_Time: VRRPv2 (256 - Priority) / 256 seconds; VRRPv3 scales by Master_Adver_Interval.
pub fn skew_time(version: Version, priority: u8, master_adver_int: Duration) -> Duration {
    let weight = 256 - u128::from(priority);
    let base = match version {
        Version::V2 => Duration::from_secs(1),
        Version::V3 => master_adver_int,
    };
    nanos(base.as_nanos() * weight / 256)
}

/// Master_Down_Interval = adverts x Master_Adver_Interval + Skew_Time (adverts is 3 in the RFCs,
/// keepalived's `down_timer_adverts` can change it).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_int: Duration,
    adverts: u32,
) -> Duration {
    master_adver_int.saturating_mul(adverts) + skew_time(version, priority, master_adver_int)
}

/// The VRRPv2 interval field: whole seconds, at least 1.
pub fn v2_interval_field(interval: Duration) -> u16 {
    interval.as_secs().clamp(1, 255) as u16
}

/// The VRRPv3 interval field: centiseconds in 1..=4095.
pub fn v3_interval_field(interval: Duration) -> u16 {
    (interval.as_millis() / 10).clamp(1, u128::from(MAX_V3_INTERVAL_CS)) as u16
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3768_skew_and_down_interval() {
        // (256 - 90) / 256 = 0.6484375 s; 3 x 1 s + skew.
        let skew = skew_time(Version::V2, 90, Duration::from_secs(1));
        assert_eq!(skew, Duration::from_nanos(648_437_500));
        assert_eq!(
            master_down_interval(Version::V2, 90, Duration::from_secs(1), 3),
            Duration::from_nanos(3_648_437_500)
        );
        // VRRPv2 skew does not scale with the interval.
        assert_eq!(
            skew_time(Version::V2, 128, Duration::from_secs(5)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn rfc5798_skew_scales_with_master_interval() {
        // ((256 - 128) x 50 cs) / 256 = 25 cs.
        let mai = Duration::from_millis(500);
        assert_eq!(skew_time(Version::V3, 128, mai), Duration::from_millis(250));
        assert_eq!(
            master_down_interval(Version::V3, 128, mai, 3),
            Duration::from_millis(1750)
        );
    }

    #[test]
    fn interval_fields_clamp_to_their_width() {
        assert_eq!(v2_interval_field(Duration::from_millis(500)), 1);
        assert_eq!(v2_interval_field(Duration::from_secs(3)), 3);
        assert_eq!(v3_interval_field(Duration::from_millis(500)), 50);
        assert_eq!(v3_interval_field(Duration::from_secs(100)), 4095);
    }
}
