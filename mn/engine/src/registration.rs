//! The binding update list entry for the home registration (RFC 6275 §11.1, §11.7.1),
//! as states: each one a type carrying only what exists in it (rustls style).
//!
//! ```text
//!            set_care_of_address(Some(coa))
//! Unregistered ─────────────────────────────┐
//!      │ (None: at home, nothing to undo)   ▼
//!      ▼                              AwaitingAck ──BA accepted──► Registered
//!   AtHome ◄── BA accepted (lifetime 0) ──┘  ▲ ▲                      │
//!                                            │ └─timeout: retransmit  │ refresh / CoA change /
//!                                            └────────────────────────┘ key update / BRR
//! ```
//!
//! Deregistration (RFC 6275 §11.5.4) is an [`AwaitingBindingAck`] whose target is
//! [`Target::Home`]: a BU with lifetime 0 whose care-of address is the home address.
//! The frame builder sends every BU from its care-of address, so this BU goes from the
//! home address with the home address in the Alternate Care-of Address option and in
//! the Home Address option, as §11.5.4 asks.

use core::net::Ipv6Addr;
use core::time::Duration;

use mip6_wire::mh::{BaStatus, SequenceNumber};
use mip6_wire::Time;

/// Where a Binding Update asks the home agent to send the home address's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Away from home: bind the home address to this care-of address.
    CareOf(Ipv6Addr),
    /// Back home: remove the binding (lifetime 0, RFC 6275 §11.5.4).
    Home,
}

/// The key-management intent a Binding Update carried (docs/key-protocol.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRequest {
    /// No request: a plain BU under the newest key.
    Plain,
    /// An initialization under the init key (patent (1), (7)): explicit mode carries a
    /// Key Initialization Request with this NTP timestamp, which the BA must echo;
    /// implicit mode carries nothing (`None`).
    Initialization {
        /// The timestamp nonce sent (explicit mode).
        timestamp: Option<u64>,
    },
    /// A Key Update Request (explicit mode, patent (3)).
    KeyUpdate,
    /// A Key Resending Request (explicit mode, patent (4)).
    KeyResending,
}

/// A Binding Update is outstanding (RFC 6275 §11.7.3, §11.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingBindingAck {
    /// What the BU asks for.
    pub target: Target,
    /// Its sequence number: only a BA with this number is taken (status 135 aside).
    pub seq: SequenceNumber,
    /// The key-management intent it carried.
    pub request: KeyRequest,
    /// When this transmission left (the granted lifetime counts from here).
    pub sent_at: Time,
    /// The current retransmission timeout.
    pub timeout: Duration,
    /// When it is retransmitted if no BA came.
    pub retransmit_at: Time,
    /// Retransmissions so far (RFC 6275 §11.8).
    pub retries: u32,
    /// Retransmissions under dynamic keys without any BA (patent (5), (11)).
    pub key_resends: u32,
    /// The refusal that answered the last transmission, if any: the next one is a
    /// retry after it, not a key resend.
    pub refused: Option<BaStatus>,
}

/// The home agent accepted a binding to a care-of address (RFC 6275 §11.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// The care-of address bound.
    pub coa: Ipv6Addr,
    /// Sequence number of the BU the home agent accepted.
    pub seq: SequenceNumber,
    /// Lifetime the home agent granted.
    pub lifetime: Duration,
    /// When the binding expires (counted from when the BU was sent).
    pub expires_at: Time,
    /// When it is refreshed by a new BU.
    pub refresh_at: Time,
}

/// The home registration of the mobile node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Registration {
    /// Started with no care-of address known yet; nothing sent.
    #[default]
    Unregistered,
    /// A Binding Update (registration or deregistration) is outstanding.
    AwaitingAck(AwaitingBindingAck),
    /// Bound to a care-of address.
    Registered(Registered),
    /// At home with no binding (deregistered, or never registered since start).
    AtHome,
}

impl Registration {
    /// The care-of address the node is at, away from home: the target of an
    /// outstanding registration or the registered one.
    pub fn care_of_address(&self) -> Option<Ipv6Addr> {
        match self {
            Registration::AwaitingAck(AwaitingBindingAck {
                target: Target::CareOf(coa),
                ..
            })
            | Registration::Registered(Registered { coa, .. }) => Some(*coa),
            _ => None,
        }
    }

    /// The next deadline of this state: retransmission or refresh.
    pub fn deadline(&self) -> Option<Time> {
        match self {
            Registration::AwaitingAck(a) => Some(a.retransmit_at),
            Registration::Registered(r) => Some(r.refresh_at),
            Registration::Unregistered | Registration::AtHome => None,
        }
    }
}

/// A snapshot of the registration for tests and status reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationView {
    /// The state.
    pub state: Registration,
    /// The care-of address the node is at (`None` at home or before the first one).
    pub care_of_address: Option<Ipv6Addr>,
    /// Sequence number of the last BU sent (`None` before the first).
    pub last_sequence: Option<SequenceNumber>,
}
