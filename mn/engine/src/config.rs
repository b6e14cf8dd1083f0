//! Configuration of a [`MobileNode`](crate::MobileNode): its home agent, its home
//! address, the pre-shared initialization key, and the timers of RFC 6275 §11.7–§11.8
//! and of the key protocol (`docs/key-protocol.md`).

use core::net::Ipv6Addr;
use core::time::Duration;

use mip6_wire::esp::Suite;
use mip6_wire::keys::{RequestMode, SpiPair};
use mip6_wire::mh::DEFAULT_VENDOR_ID;
use mip6_wire::Secret32;

/// RFC 6275 §13 InitialBindackTimeoutFirstReg: 1.5 s.
pub const INITIAL_BINDACK_TIMEOUT_FIRST_REG: Duration = Duration::from_millis(1500);
/// RFC 6275 §12 MAX_BINDACK_TIMEOUT: 32 s.
pub const MAX_BINDACK_TIMEOUT: Duration = Duration::from_secs(32);
/// Outbound ESP sequence numbers reserved per persisted mark (engine contract).
pub const DEFAULT_SEQUENCE_BLOCK: u64 = 1024;
/// Binding Update sequence numbers reserved per persisted mark.
pub const BU_SEQUENCE_BLOCK: u16 = 16;

/// Binding Update retransmission (RFC 6275 §11.8): the first retransmission after
/// `initial`, each later one after twice the previous timeout, at most `max`.
///
/// RFC 6275 §11.8 uses InitialBindackTimeoutFirstReg (1.5 s) for the first home
/// registration and INITIAL_BINDACK_TIMEOUT (1 s) afterwards; this engine uses
/// `initial` for every Binding Update, because every one of them may be an
/// initialization that makes the home agent draw a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// Timeout after the first transmission of a Binding Update.
    pub initial: Duration,
    /// Largest timeout; retransmission goes on forever at this interval.
    pub max: Duration,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig {
            initial: INITIAL_BINDACK_TIMEOUT_FIRST_REG,
            max: MAX_BINDACK_TIMEOUT,
        }
    }
}

impl RetransmitConfig {
    /// The timeout after `previous`: doubled, capped at `max` (RFC 6275 §11.8).
    pub fn next(&self, previous: Duration) -> Duration {
        previous.saturating_mul(2).min(self.max)
    }
}

/// What a restarted mobile node takes back from its [`MnRecord`](crate::MnRecord).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestorePolicy {
    /// Patent (1)/(2): a restart is a re-initialization. Only the outbound sequence
    /// marks (so the init SA never reuses a nonce) and the Binding Update sequence
    /// number are restored; the first BU is an initialization under the init key.
    #[default]
    Reinitialize,
    /// The dynamic generations are restored too (each outbound SA resuming at its
    /// persisted mark), and the node goes on transmitting with its newest key.
    ResumeKeys,
}

/// Everything a mobile node is configured with.
#[derive(Debug, Clone)]
pub struct MnConfig {
    /// The home agent's address: destination of every Binding Update and tunnel frame.
    pub home_agent: Ipv6Addr,
    /// The home address (RFC 6275 §11.5): in the Home Address option of every BU, the
    /// inner source of the packets the node tunnels.
    pub home_address: Ipv6Addr,
    /// The pre-shared initialization secret (docs/architecture.md "Key schedule").
    pub init_secret: Secret32,
    /// The init SPIs, configured alike on the home agent.
    pub init_spis: SpiPair,
    /// Cipher suite of the init key (generations carry their own).
    pub suite: Suite,
    /// Explicit (key-management options) or implicit (SPI) requests; as the HA's.
    pub request_mode: RequestMode,
    /// Explicit mode: after this long on one generation the next BU (sent at once)
    /// carries a Key Update Request (patent (3)). `None`: never asked for.
    pub key_update_interval: Option<Duration>,
    /// Ask for generation 2 right after an initialization (explicit: a Key Update
    /// Request; implicit: a BU under generation 1, which the HA's timer answers),
    /// so the pre-shared init key seals the initialization exchange and nothing
    /// more: the HA, holding no anterior key, transmits with init until that update
    /// (issue 12, item 9). **(choice: on.)** Off, the node follows the patent's
    /// sequences (1)–(2) and (7) as written, and init keeps carrying the HA's data
    /// until the next update.
    pub rekey_after_initialization: bool,
    /// Lifetime asked for in each Binding Update (RFC 6275 §6.1.7; 4-second units on
    /// the wire, rounded down).
    pub requested_lifetime: Duration,
    /// Percentage of the granted lifetime after which the binding is refreshed
    /// (RFC 6275 §11.7.1), unless a Binding Refresh Advice asks for sooner.
    pub refresh_percent: u32,
    /// Retransmission timers (RFC 6275 §11.8).
    pub retransmit: RetransmitConfig,
    /// Retransmissions under dynamic keys without any BA before the node drops its
    /// dynamic keys and initializes (patent (5), (11)).
    pub max_key_resends: u32,
    /// Vendor ID of the key-management options (RFC 5094; docs/architecture.md default 32473).
    pub vendor_id: u32,
    /// Outbound ESP sequence numbers reserved by each persisted mark.
    pub sequence_block: u64,
    /// What a restart restores.
    pub restore: RestorePolicy,
}

impl MnConfig {
    /// A configuration with the defaults of RFC 6275 and the key protocol: explicit
    /// requests, key update every hour and right after an initialization, 600 s lifetime refreshed at 75 %, 1.5 s → 32 s
    /// retransmission, 2 key resends, vendor 32473, AES-128-GCM init key.
    pub fn new(
        home_agent: Ipv6Addr,
        home_address: Ipv6Addr,
        init_secret: Secret32,
        init_spis: SpiPair,
    ) -> Self {
        MnConfig {
            home_agent,
            home_address,
            init_secret,
            init_spis,
            suite: Suite::Aes128Gcm,
            request_mode: RequestMode::Explicit,
            key_update_interval: Some(Duration::from_secs(3600)),
            rekey_after_initialization: true,
            requested_lifetime: Duration::from_secs(600),
            refresh_percent: 75,
            retransmit: RetransmitConfig::default(),
            max_key_resends: 2,
            vendor_id: DEFAULT_VENDOR_ID,
            sequence_block: DEFAULT_SEQUENCE_BLOCK,
            restore: RestorePolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let r = RetransmitConfig::default();
        let mut t = r.initial;
        let mut seen = vec![t];
        for _ in 0..7 {
            t = r.next(t);
            seen.push(t);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [1500, 3000, 6000, 12000, 24000, 32000, 32000, 32000]);
    }
}
