//! The data plane (RFC 6275 §11.3.1, RFC 3776 §3.3): packets the node sends from its
//! home address are reverse-tunnelled CoA → HA in ESP tunnel mode, sealed with the
//! transmit key (newest, init when there is none). Tunnelled packets from the home
//! agent are opened by [`MobileNode::handle`](crate::MobileNode::handle).
//!
//! Sealing is allowed as soon as a care-of address is set (registration outstanding
//! or done): the keys always exist (init at least), and the home agent decides what
//! it forwards. At home there is no tunnel ([`DataError::NotAway`]).

use mip6_wire::esp::EspAead;
use mip6_wire::frames::{seal_data_in_place, FrameError, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::tunnel::{self, InnerOrigin};
use mip6_wire::Time;

use crate::engine::MobileNode;
use crate::event::{DataError, DataFrame};

impl<A: EspAead> MobileNode<A> {
    /// Seals the inner IPv6 packet at `buf[DATA_HEADROOM..DATA_HEADROOM + inner_len]`
    /// (from the home address) into a tunnel frame CoA → HA, in place; `buf` needs
    /// [`mip6_wire::esp::trailer_len`]`(inner_len)` octets after the inner packet.
    ///
    /// May queue a `Persist` event (a new sequence mark): drain
    /// [`poll_event`](Self::poll_event) and persist before sending the frame.
    pub fn seal_data(
        &mut self,
        _now: Time,
        buf: &mut [u8],
        inner_len: usize,
    ) -> Result<DataFrame, DataError> {
        let coa = self
            .registration
            .care_of_address()
            .ok_or(DataError::NotAway)?;
        let end = DATA_HEADROOM.saturating_add(inner_len);
        let inner = buf.get(DATA_HEADROOM..end).ok_or(FrameError::NoRoom {
            needed: end,
            actual: buf.len(),
        })?;
        let found = tunnel::validate_inner(inner).map_err(FrameError::from)?;
        if found.header.src_addr != self.config.home_address {
            return Err(DataError::WrongInnerSource(found.header.src_addr));
        }
        if self.keys.reserve_transmit(self.config.sequence_block) {
            self.emit_persist();
        }
        let endpoints = TunnelEndpoints::new(coa, self.config.home_agent);
        let (spi, len) = self.keys.with_transmit_sa(|sa| {
            let spi = sa.spi().get();
            seal_data_in_place(&endpoints, sa, buf, inner_len, InnerOrigin::Local)
                .map(|len| (spi, len))
        })?;
        self.counters.data_sealed += 1;
        Ok(DataFrame {
            len,
            destination: self.config.home_agent,
            spi,
        })
    }
}
