//! Timestamps as Taskcluster writes them: UTC, millisecond precision, `2024-01-01T00:00:00.000Z`.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in time with millisecond precision, stored as milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub fn plus_ms(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
    pub fn plus_secs(self, s: i64) -> Self {
        self.plus_ms(s.saturating_mul(1000))
    }
    pub fn plus_days(self, d: i64) -> Self {
        self.plus_secs(d.saturating_mul(86_400))
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| Timestamp(d.with_timezone(&Utc).timestamp_millis()))
            .map_err(|e| format!("invalid date-time {s:?}: {e}"))
    }
    fn datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_else(|| Utc.timestamp_millis_opt(0).single().unwrap_or_default())
    }
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        Duration::milliseconds(self.0 - earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.datetime().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_millisecond_precision() {
        let t = Timestamp::parse("2024-05-06T07:08:09.123456Z").unwrap();
        assert_eq!(t.to_string(), "2024-05-06T07:08:09.123Z");
        let t = Timestamp::parse("2024-05-06T09:08:09+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-05-06T07:08:09.000Z");
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
