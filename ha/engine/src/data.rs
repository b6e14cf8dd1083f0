//! The data plane: tunnelling packets for a bound home address to its care-of
//! address (RFC 6275 §10.4.1, ESP tunnel mode per RFC 3776 §3.3) and accepting
//! tunnelled packets from mobile nodes (RFC 6275 §10.4.5).
//!
//! Inbound checks after the frame opened under the MN's SA: the inner source must be
//! the MN's home address (else dropped, counted as an attack), and the outer source
//! must be its bound care-of address **(choice: RFC 6275 §10.4.5's check, strict; the
//! SA alone authenticates the sender but the binding names where it is)**. A frame
//! opened under newest confirms newest (docs/key-protocol.md), even if dropped here.

use core::ops::Range;
use std::net::Ipv6Addr;

use mip6_wire::esp::EspAead;
use mip6_wire::ext::Chain;
use mip6_wire::frames::{self, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::counters::DropReason;
use crate::engine::{HomeAgent, MnIndex};
use crate::events::{DataError, DataFrame, Received};

/// Offset of the destination address in an IPv6 header (RFC 8200 §3).
const IPV6_DST: Range<usize> = 24..40;

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// Seals the IPv6 packet at `buf[DATA_HEADROOM..DATA_HEADROOM + inner_len]`, whose
    /// destination is a bound home address, into a tunnel frame toward the care-of
    /// address, in place, with the MN's transmit key (the hop limit is decremented:
    /// the HA forwards). `buf` needs `esp::trailer_len(inner_len)` octets after the
    /// packet. Drain `poll_event` (persist) before sending the frame.
    pub fn seal_data(
        &mut self,
        now: Time,
        buf: &mut [u8],
        inner_len: usize,
    ) -> Result<DataFrame, DataError> {
        let too_short = DataError::TooShort {
            inner_len,
            buf_len: buf.len(),
        };
        if inner_len < IPV6_DST.end {
            return Err(too_short);
        }
        let Some(dst) = buf
            .get(DATA_HEADROOM + IPV6_DST.start..DATA_HEADROOM + IPV6_DST.end)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
        else {
            return Err(too_short);
        };
        let hoa = Ipv6Addr::from(dst);
        let index = self
            .by_hoa
            .get(&self.mns, &hoa)
            .ok_or(DataError::UnknownHomeAddress(hoa))?;
        let block = self.config.sequence_block;
        let endpoints_source = self.config.address;
        let mn = &mut self.mns[index];
        let Some(binding) = mn.binding.filter(|b| b.expires_at > now) else {
            return Err(DataError::NotBound(hoa));
        };
        let slot = mn.keys.transmit_slot();
        if mn.keys.reserve(slot, block) {
            mn.changed();
            self.flush_persist(index);
        }
        let iv_prefix = self.iv_prefix;
        let mn = &mut self.mns[index];
        let keys = mn.keys.get_mut(slot).ok_or(DataError::NotBound(hoa))?;
        let endpoints = TunnelEndpoints::new(endpoints_source, binding.care_of_address);
        let spi = keys.spis().ha_to_mn.get();
        let len = keys
            .with_outbound::<A, _>(iv_prefix, |sa| {
                frames::seal_data_in_place(&endpoints, sa, buf, inner_len, InnerOrigin::Forwarded)
            })
            .ok_or(DataError::NotBound(hoa))??;
        self.counters.data_sealed += 1;
        Ok(DataFrame {
            len,
            destination: binding.care_of_address,
            spi,
        })
    }

    /// Checks a tunnelled packet that opened under MN `index`'s SA.
    pub(crate) fn receive_data(
        &mut self,
        now: Time,
        index: MnIndex,
        spi: u32,
        chain: &Chain,
        inner_source: Ipv6Addr,
        packet: Range<usize>,
    ) -> Received {
        let mn = &self.mns[index];
        if inner_source != mn.home_address {
            self.counters.attacks += 1;
            tracing::warn!(hoa = %mn.home_address, %inner_source, "tunnelled packet with a spoofed inner source");
            return Received::Dropped(DropReason::SpoofedInnerSource);
        }
        let Some(binding) = mn.binding.filter(|b| b.expires_at > now) else {
            return Received::Dropped(DropReason::NotBound);
        };
        if chain.ipv6.src_addr != binding.care_of_address {
            return Received::Dropped(DropReason::WrongCareOf);
        }
        self.counters.data_received += 1;
        Received::Delivered { inner: packet, spi }
    }
}
