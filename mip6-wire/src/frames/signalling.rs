//! Home-registration signalling frames: the Binding Update and the Binding
//! Acknowledgement, each a Mobility Header in ESP transport mode (RFC 3776 §3,
//! RFC 4877 §4) behind the Mobile IPv6 extension header it needs (RFC 6275 §6.3–6.4).
//!
//! ```text
//! BU: IPv6(src=CoA, dst=HA) | DestOpts(HoA) | ESP | MH(BU, AltCoA(CoA), options…)
//! BA: IPv6(src=HA, dst=CoA) | RH2(HoA)      | ESP | MH(BA, options…)
//! BRR: IPv6(src=HA, dst=CoA)                | ESP | MH(BRR)
//! ```
//!
//! The home agent's Binding Refresh Request (RFC 6275 §6.1.2, answered as §11.7.4
//! says) goes to the care-of address with no type 2 routing header: §6.1 allows one
//! on a Mobility Header message only for a BA (§9.5.4).
//!
//! The BU always carries an Alternate Care-of Address option with the CoA first
//! (RFC 6275 §11.7.1): ESP in transport mode authenticates neither the outer source
//! nor the HoA option, so the home agent binds to this authenticated copy.

use core::net::Ipv6Addr;

use super::{FrameError, DEFAULT_HOP_LIMIT};
use crate::esp::{self, EspAead, OutboundSa};
use crate::ext::{ChainRepr, NextHeader};
use crate::mh::{self, BindingAckRepr, BindingUpdateRepr, Message, MobilityOption};

/// Extra mobility options a signalling frame carries beyond the ones the builder adds
/// (key-management options, Binding Refresh Advice, …). A fixed bound keeps the
/// builders free of heap allocation.
pub const MAX_EXTRA_OPTIONS: usize = 6;

/// A Binding Update for home registration, as the mobile node sends it (RFC 6275
/// §11.7.1): from the care-of address, with the home address in a Home Address
/// option, ESP-protected. From home (care-of address = home address, §11.5.4) the
/// Home Address option is left out.
#[derive(Debug, Clone, Copy)]
pub struct BindingUpdateFrame<'a> {
    /// The care-of address: the IPv6 source and the Alternate Care-of Address option.
    pub care_of_address: Ipv6Addr,
    /// The home agent's address: the IPv6 destination.
    pub home_agent: Ipv6Addr,
    /// The home address: in the Home Address option (none at home), and the MH
    /// checksum's source.
    pub home_address: Ipv6Addr,
    /// Sequence number, flags and lifetime.
    pub update: BindingUpdateRepr,
    /// Options after the Alternate Care-of Address option, at most [`MAX_EXTRA_OPTIONS`].
    pub options: &'a [MobilityOption<'a>],
    /// Hop limit of the outer IPv6 header.
    pub hop_limit: u8,
}

impl<'a> BindingUpdateFrame<'a> {
    /// A BU frame with the default hop limit.
    pub fn new(
        care_of_address: Ipv6Addr,
        home_agent: Ipv6Addr,
        home_address: Ipv6Addr,
        update: BindingUpdateRepr,
        options: &'a [MobilityOption<'a>],
    ) -> Self {
        BindingUpdateFrame {
            care_of_address,
            home_agent,
            home_address,
            update,
            options,
            hop_limit: DEFAULT_HOP_LIMIT,
        }
    }

    fn headers(&self, esp_len: usize) -> ChainRepr {
        ChainRepr {
            src_addr: self.care_of_address,
            dst_addr: self.home_agent,
            hop_limit: self.hop_limit,
            traffic_class: 0,
            flow_label: 0,
            rh2: None,
            // A node at home sends from its home address, without the option
            // (RFC 6275 §6.3, §11.5.4).
            home_address: (self.care_of_address != self.home_address).then_some(self.home_address),
            next_header: NextHeader::ESP,
            payload_len: esp_len,
        }
    }

    /// Octets the sealed frame occupies.
    pub fn buffer_len(&self) -> Result<usize, FrameError> {
        with_options(
            MobilityOption::AlternateCareOfAddress(self.care_of_address),
            self.options,
            |options| {
                let mh = mh::Repr::new(Message::BindingUpdate(self.update), options);
                Ok(frame_len(&self.headers(0), &mh))
            },
        )
    }

    /// Builds the frame into `buf` and seals it with `sa` (one sequence number is
    /// used); returns the frame's length.
    pub fn seal<A: EspAead>(
        &self,
        sa: &mut OutboundSa<A>,
        buf: &mut [u8],
    ) -> Result<usize, FrameError> {
        with_options(
            MobilityOption::AlternateCareOfAddress(self.care_of_address),
            self.options,
            |options| {
                let mh = mh::Repr::new(Message::BindingUpdate(self.update), options);
                seal_signalling(|len| self.headers(len), &mh, sa, buf)
            },
        )
    }
}

/// A Binding Acknowledgement, as the home agent sends it (RFC 6275 §10.3.1, §6.1.8):
/// to the care-of address, with the home address in a type 2 routing header,
/// ESP-protected.
#[derive(Debug, Clone, Copy)]
pub struct BindingAckFrame<'a> {
    /// The home agent's address: the IPv6 source and the MH checksum's source.
    pub home_agent: Ipv6Addr,
    /// The care-of address: the IPv6 destination.
    pub care_of_address: Ipv6Addr,
    /// The home address: in the RH2 (none when the BA goes to the home address
    /// itself, a node at home), and the MH checksum's destination.
    pub home_address: Ipv6Addr,
    /// Status, flags, sequence number and lifetime.
    pub ack: BindingAckRepr,
    /// Mobility options, at most [`MAX_EXTRA_OPTIONS`].
    pub options: &'a [MobilityOption<'a>],
    /// Hop limit of the outer IPv6 header.
    pub hop_limit: u8,
}

impl<'a> BindingAckFrame<'a> {
    /// A BA frame with the default hop limit.
    pub fn new(
        home_agent: Ipv6Addr,
        care_of_address: Ipv6Addr,
        home_address: Ipv6Addr,
        ack: BindingAckRepr,
        options: &'a [MobilityOption<'a>],
    ) -> Self {
        BindingAckFrame {
            home_agent,
            care_of_address,
            home_address,
            ack,
            options,
            hop_limit: DEFAULT_HOP_LIMIT,
        }
    }

    fn headers(&self, esp_len: usize) -> ChainRepr {
        // A node at home is reached directly: no type 2 routing header
        // (RFC 6275 §6.1.8, §9.5.4).
        let rh2 = (self.care_of_address != self.home_address).then_some(self.home_address);
        from_home_agent(
            self.home_agent,
            self.care_of_address,
            rh2,
            self.hop_limit,
            esp_len,
        )
    }

    fn checked_options(&self) -> Result<&'a [MobilityOption<'a>], FrameError> {
        if self.options.len() > MAX_EXTRA_OPTIONS {
            return Err(FrameError::TooManyOptions {
                count: self.options.len(),
                max: MAX_EXTRA_OPTIONS,
            });
        }
        Ok(self.options)
    }

    /// Octets the sealed frame occupies.
    pub fn buffer_len(&self) -> Result<usize, FrameError> {
        let mh = mh::Repr::new(Message::BindingAck(self.ack), self.checked_options()?);
        Ok(frame_len(&self.headers(0), &mh))
    }

    /// Builds the frame into `buf` and seals it with `sa` (one sequence number is
    /// used); returns the frame's length.
    pub fn seal<A: EspAead>(
        &self,
        sa: &mut OutboundSa<A>,
        buf: &mut [u8],
    ) -> Result<usize, FrameError> {
        let mh = mh::Repr::new(Message::BindingAck(self.ack), self.checked_options()?);
        seal_signalling(|len| self.headers(len), &mh, sa, buf)
    }
}

/// A Binding Refresh Request from the home agent (RFC 6275 §6.1.2): to the care-of
/// address, ESP-protected, no routing header (§6.1). The mobile node answers with a
/// Binding Update (§11.7.4).
#[derive(Debug, Clone, Copy)]
pub struct BindingRefreshRequestFrame {
    /// The home agent's address: the IPv6 source and the MN's checksum source.
    pub home_agent: Ipv6Addr,
    /// The care-of address: the IPv6 destination.
    pub care_of_address: Ipv6Addr,
    /// Hop limit of the outer IPv6 header.
    pub hop_limit: u8,
}

impl BindingRefreshRequestFrame {
    /// A BRR frame with the default hop limit.
    pub fn new(home_agent: Ipv6Addr, care_of_address: Ipv6Addr) -> Self {
        BindingRefreshRequestFrame {
            home_agent,
            care_of_address,
            hop_limit: DEFAULT_HOP_LIMIT,
        }
    }

    fn headers(&self, esp_len: usize) -> ChainRepr {
        from_home_agent(
            self.home_agent,
            self.care_of_address,
            None,
            self.hop_limit,
            esp_len,
        )
    }

    /// Octets the sealed frame occupies.
    pub fn buffer_len(&self) -> usize {
        frame_len(
            &self.headers(0),
            &mh::Repr::new(Message::BindingRefreshRequest, &[]),
        )
    }

    /// Builds the frame into `buf` and seals it with `sa` (one sequence number is
    /// used); returns the frame's length.
    pub fn seal<A: EspAead>(
        &self,
        sa: &mut OutboundSa<A>,
        buf: &mut [u8],
    ) -> Result<usize, FrameError> {
        let mh = mh::Repr::new(Message::BindingRefreshRequest, &[]);
        seal_signalling(|len| self.headers(len), &mh, sa, buf)
    }
}

/// The headers of a frame the home agent sends to `care_of_address`, with the home
/// address in a type 2 routing header when `rh2` names one, ESP next.
fn from_home_agent(
    home_agent: Ipv6Addr,
    care_of_address: Ipv6Addr,
    rh2: Option<Ipv6Addr>,
    hop_limit: u8,
    esp_len: usize,
) -> ChainRepr {
    ChainRepr {
        src_addr: home_agent,
        dst_addr: care_of_address,
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
        rh2,
        home_address: None,
        next_header: NextHeader::ESP,
        payload_len: esp_len,
    }
}

/// Runs `f` over `first` followed by `extra`, in a stack array.
fn with_options<'a, R>(
    first: MobilityOption<'a>,
    extra: &[MobilityOption<'a>],
    f: impl FnOnce(&[MobilityOption<'a>]) -> Result<R, FrameError>,
) -> Result<R, FrameError> {
    let mut all = [MobilityOption::Pad1; MAX_EXTRA_OPTIONS + 1];
    let Some(slots) = all.get_mut(1..=extra.len()) else {
        return Err(FrameError::TooManyOptions {
            count: extra.len(),
            max: MAX_EXTRA_OPTIONS,
        });
    };
    slots.copy_from_slice(extra);
    all[0] = first;
    f(&all[..=extra.len()])
}

fn frame_len(headers: &ChainRepr, mh: &mh::Repr<'_>) -> usize {
    headers.buffer_len() + esp::sealed_len(mh.buffer_len())
}

/// Lays out `headers | ESP | mh` in `buf`, fills the MH checksum over the
/// pseudo-header the headers imply (RFC 6275 §6.1.1), and seals the ESP payload.
fn seal_signalling<A: EspAead>(
    headers: impl Fn(usize) -> ChainRepr,
    mh: &mh::Repr<'_>,
    sa: &mut OutboundSa<A>,
    buf: &mut [u8],
) -> Result<usize, FrameError> {
    let mh_len = mh.buffer_len();
    if mh_len > mh::MAX_LEN {
        return Err(FrameError::TooLong { length: mh_len });
    }
    let esp_len = esp::sealed_len(mh_len);
    let chain = headers(esp_len);
    let header_len = chain.buffer_len();
    let needed = header_len + esp_len;
    let Some(frame) = buf.get_mut(..needed) else {
        return Err(FrameError::NoRoom {
            needed,
            actual: buf.len(),
        });
    };
    chain.emit(frame)?;
    let (_, esp_area) = frame.split_at_mut(header_len);
    let mh_area = &mut esp_area[esp::PAYLOAD_OFFSET..esp::PAYLOAD_OFFSET + mh_len];
    mh.emit_into(
        mh_area,
        &chain.mh_checksum_source(),
        &chain.mh_checksum_destination(),
    );
    sa.seal(esp_area, mh_len, mh::MH_NEXT_HEADER)?;
    Ok(needed)
}
