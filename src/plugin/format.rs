//! Times and durations as the plugin prints them: short, and stable for golden tests.

use k8s_openapi::jiff::{Timestamp, ToSpan as _, Unit};

/// `2026-12-04T10:00:00Z`: whole seconds, UTC.
pub fn time(t: Timestamp) -> String {
    t.round(Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// How long from `start` to `end`: `0.4s`, `12s`, `3m05s`, `1h02m`, `2d03h`.
pub fn duration(start: Timestamp, end: Timestamp) -> String {
    let millis = end
        .as_millisecond()
        .saturating_sub(start.as_millisecond())
        .max(0);
    human(millis)
}

/// How long ago `t` was at `now`.
pub fn ago(t: Timestamp, now: Timestamp) -> String {
    duration(t, now)
}

fn human(millis: i64) -> String {
    let secs = millis / 1000;
    match secs {
        0..10 => format!("{:.1}s", millis as f64 / 1000.0),
        10..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// `now` minus `secs` seconds (for tests and relative times).
pub fn before(now: Timestamp, secs: i64) -> Timestamp {
    now.checked_sub(secs.seconds()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short_and_round_down() {
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let after = |ms: i64| Timestamp::from_millisecond(t0.as_millisecond() + ms).unwrap();
        assert_eq!(duration(t0, after(400)), "0.4s");
        assert_eq!(duration(t0, after(12_900)), "12s");
        assert_eq!(duration(t0, after(185_000)), "3m05s");
        assert_eq!(duration(t0, after(3_720_000)), "1h02m");
        assert_eq!(duration(t0, after(183_600_000)), "2d03h");
        assert_eq!(
            duration(after(5), t0),
            "0.0s",
            "a clock behind never goes negative"
        );
        assert_eq!(time(after(1_400)), "2026-12-04T10:00:01Z");
        assert_eq!(before(after(10_000), 10), t0);
    }
}
