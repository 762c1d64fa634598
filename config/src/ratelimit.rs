//! `dns.rate_limit*`: the per-client query rate limit, validated.

use ipnet::IpNet;

use crate::error::{ConfigError, SourceMap};
use crate::validate;
use crate::wire::DnsWire;

/// Queries per second per client by default: see the `dns.rate_limit` doc line in `wire.rs`.
pub const DEFAULT_PER_SECOND: u32 = 100;
/// The bucket size is this many seconds of the rate unless `dns.rate_limit_burst` says.
const DEFAULT_BURST_SECONDS: u32 = 10;
/// Bucket sizes above this are refused (the limiter keeps tokens in 32 bits, in thousandths).
pub const MAX_BURST: u32 = 4_000_000;

/// What happens to a query over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAction {
    /// Nothing is sent back (no reflection towards a spoofed source).
    Drop,
    /// REFUSED: a real client fails fast instead of waiting for its timeout.
    Refused,
}

/// The validated limit; `per_second == 0` means off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
    pub action: LimitAction,
    pub exempt: Vec<IpNet>,
}

impl RateLimit {
    pub fn is_off(&self) -> bool {
        self.per_second == 0
    }
}

pub fn validate(w: &DnsWire, map: &SourceMap<'_>) -> Result<RateLimit, ConfigError> {
    let per_second = match &w.rate_limit {
        None => DEFAULT_PER_SECOND,
        Some(s) => parse_rate(s.get_ref()).map_err(|e| map.err(Some(s.span()), format!("dns.rate_limit: {e}")))?,
    };
    let burst = match &w.rate_limit_burst {
        None => per_second.saturating_mul(DEFAULT_BURST_SECONDS).min(MAX_BURST),
        Some(b) if (1..=MAX_BURST).contains(b.get_ref()) => *b.get_ref(),
        Some(b) => {
            let msg = format!("dns.rate_limit_burst: {} is not between 1 and {MAX_BURST}", b.get_ref());
            return Err(map.err(Some(b.span()), msg));
        }
    };
    let action = match &w.rate_limit_action {
        None => LimitAction::Drop,
        Some(s) => match s.get_ref().as_str() {
            "drop" => LimitAction::Drop,
            "refused" => LimitAction::Refused,
            other => {
                let msg = format!("dns.rate_limit_action: '{other}' is not drop or refused");
                return Err(map.err(Some(s.span()), msg));
            }
        },
    };
    let exempt = match &w.rate_limit_exempt {
        None => vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        Some(list) => {
            list.iter().map(|n| validate::network(n, "dns.rate_limit_exempt", map)).collect::<Result<_, _>>()?
        }
    };
    Ok(RateLimit { per_second, burst, action, exempt })
}

/// `"50/s"` → 50; `"off"` → 0.
fn parse_rate(s: &str) -> Result<u32, String> {
    if s == "off" {
        return Ok(0);
    }
    let n = s.strip_suffix("/s").ok_or_else(|| format!("'{s}' is not a rate (expected e.g. \"100/s\" or \"off\")"))?;
    match n.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_BURST).contains(&n) => Ok(n),
        _ => Err(format!("'{s}': the rate must be a whole number of queries from 1 to {MAX_BURST} per second")),
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{err, parse_t};

    use super::*;

    #[test]
    fn default_is_on_with_ten_seconds_of_burst_and_loopback_exempt() {
        let r = parse_t("").unwrap().dns.rate_limit;
        assert_eq!((r.per_second, r.burst, r.action), (100, 1000, LimitAction::Drop));
        assert_eq!(r.exempt, vec!["127.0.0.0/8".parse::<IpNet>().unwrap(), "::1/128".parse().unwrap()]);
    }

    #[test]
    fn keys_parse_and_off_turns_it_off() {
        let text = "[dns]\nrate_limit = \"50/s\"\nrate_limit_burst = 20\nrate_limit_action = \"refused\"\nrate_limit_exempt = [\"10.0.0.0/8\"]\n";
        let r = parse_t(text).unwrap().dns.rate_limit;
        assert_eq!((r.per_second, r.burst, r.action), (50, 20, LimitAction::Refused));
        assert_eq!(r.exempt, vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        assert!(parse_t("[dns]\nrate_limit = \"off\"\n").unwrap().dns.rate_limit.is_off());
        assert_eq!(parse_t("[dns]\nrate_limit = \"7/s\"\n").unwrap().dns.rate_limit.burst, 70);
    }

    #[test]
    fn bad_values_name_the_key_and_position() {
        let e = err("[dns]\nrate_limit = \"50\"\n");
        assert!(e.starts_with("t.toml:2:14: dns.rate_limit:"), "{e}");
        assert!(err("[dns]\nrate_limit = \"0/s\"\n").contains("from 1 to"));
        assert!(err("[dns]\nrate_limit_burst = 0\n").contains("dns.rate_limit_burst"));
        assert!(err("[dns]\nrate_limit_action = \"ignore\"\n").contains("drop or refused"));
        assert!(err("[dns]\nrate_limit_exempt = [\"10.0.0.1/8\"]\n").contains("dns.rate_limit_exempt"));
    }
}
