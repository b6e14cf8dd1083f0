//! Packets to the home agent that ESP does not protect, and the errors it answers
//! with (RFC 6275 §9.2, §9.3.1, §9.3.3; RFC 4443 §2.4, §3.4, §4.2):
//!
//! | received | answer |
//! | --- | --- |
//! | a Mobility Header whose Payload Proto is not 59 | ICMPv6 Parameter Problem code 0, pointer at Payload Proto (§9.2) |
//! | a Mobility Header whose Header Len is too short for its type | Parameter Problem code 0, pointer at Header Len (§9.2) |
//! | a Mobility Header of a type the home agent does not know, protected or not | Binding Error status 2 (§9.2), naming the home address of the Home Address option, or of the sending node's binding, else `::` |
//! | a packet with a Home Address option whose home address has no binding to the packet's source (not a BU) | Binding Error status 1 naming that home address (§9.3.1) |
//! | an ICMPv6 Echo Request with a Home Address option from a bound care-of address | Echo Reply to the care-of address with a type 2 routing header (§9.3.2, RFC 4443 §4.2) |
//! | an unprotected Binding Update, a bad checksum, anything else | nothing: counted drops |
//!
//! Every answer goes to the offending packet's IPv6 source, unprotected, and is rate
//! limited (RFC 4443 §2.4 (f), RFC 6275 §9.3.3): a token bucket per kind (errors,
//! echo replies) of [`RATE_BURST`] answers refilled at one per [`RATE_INTERVAL`]; an
//! answer over the limit is not sent and is counted (`answers_rate_limited`).
//!
//! The Mobility Header checksum is verified before its Payload Proto and Header Len
//! (a packet that fails it is silently discarded, §9.2): the home agent answers only
//! packets that were sent to it as they are.
//!
//! Not supported: Parameter Problem for a Mobility Header inside ESP (the invoking
//! packet was decrypted in place; it is dropped, counted `MalformedPayload`).

use std::net::Ipv6Addr;

use core::time::Duration;

use etherparse::icmpv6::ParameterProblemCode;
use etherparse::{Icmpv6Slice, Icmpv6Type};
use mip6_wire::esp::EspAead;
use mip6_wire::ext::{Chain, NextHeader};
use mip6_wire::frames::errors;
use mip6_wire::mh::{self, BeStatus, Message};
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::counters::DropReason;
use crate::engine::HomeAgent;
use crate::events::{Received, Transmit};

/// Answers a bucket allows at once.
pub const RATE_BURST: u32 = 10;
/// Time to earn one more answer.
pub const RATE_INTERVAL: Duration = Duration::from_millis(100);

/// A token bucket: [`RATE_BURST`] answers, one more per [`RATE_INTERVAL`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerRate {
    tokens: u32,
    refilled_at: Option<Time>,
}

impl Default for AnswerRate {
    fn default() -> Self {
        AnswerRate {
            tokens: RATE_BURST,
            refilled_at: None,
        }
    }
}

impl AnswerRate {
    /// Takes a token if there is one at `now`.
    pub(crate) fn allow(&mut self, now: Time) -> bool {
        let since = self.refilled_at.get_or_insert(now);
        let earned = now.saturating_since(*since).as_micros() / RATE_INTERVAL.as_micros();
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(earned).min(RATE_BURST);
        // Time is credited in whole intervals; a full bucket banks nothing.
        *since = if self.tokens == RATE_BURST {
            now
        } else {
            *since + RATE_INTERVAL * earned
        };
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// The answer buckets.
#[derive(Debug, Default)]
pub(crate) struct AnswerRates {
    pub(crate) errors: AnswerRate,
    echoes: AnswerRate,
}

/// The IPv6 source and destination of a packet at least 40 octets long.
pub(crate) fn addresses(frame: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr)> {
    let src: [u8; 16] = frame.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = frame.get(24..40)?.try_into().ok()?;
    Some((Ipv6Addr::from(src), Ipv6Addr::from(dst)))
}

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// Handles a frame whose header chain `chain` ends in something other than ESP.
    pub(crate) fn handle_unprotected(
        &mut self,
        now: Time,
        frame: &[u8],
        chain: &Chain,
    ) -> Received {
        let Some((source, destination)) = addresses(frame) else {
            return Received::Dropped(DropReason::Malformed);
        };
        let is_bu = chain.final_header == NextHeader::MOBILITY
            && chain
                .payload(frame)
                .and_then(|p| p.get(2))
                .is_some_and(|&t| t == u8::from(mh::MhType::BindingUpdate));
        if is_bu {
            // Home registrations must come under ESP (RFC 4877 §4): no answer.
            return Received::Dropped(DropReason::UnprotectedSignalling);
        }
        if let Some(hoa) = chain.home_address {
            let bound = self
                .mn(&hoa)
                .and_then(|mn| mn.binding)
                .is_some_and(|b| b.care_of_address == source);
            if !bound {
                self.answer_error(
                    now,
                    errors::binding_error(
                        self.config.address,
                        source,
                        BeStatus::UnknownBindingForHomeAddress,
                        hoa,
                    ),
                    source,
                    true,
                );
                return Received::Dropped(DropReason::NoBindingForHomeAddressOption);
            }
        }
        match chain.final_header {
            NextHeader::MOBILITY => self.unprotected_mobility(now, frame, chain, source),
            NextHeader::ICMPV6 if chain.home_address.is_some() => {
                self.echo_via_care_of(now, frame, chain, source, destination)
            }
            _ => Received::Dropped(DropReason::UnexpectedPayload),
        }
    }

    fn unprotected_mobility(
        &mut self,
        now: Time,
        frame: &[u8],
        chain: &Chain,
        source: Ipv6Addr,
    ) -> Received {
        let Some(payload) = chain.payload(frame) else {
            return Received::Dropped(DropReason::Malformed);
        };
        let Ok(packet) = mh::Packet::new_checked(payload) else {
            return Received::Dropped(DropReason::MalformedPayload);
        };
        let parsed = mh::Repr::parse_checked(
            &packet,
            &chain.mh_checksum_source(),
            &chain.mh_checksum_destination(),
        );
        match parsed {
            Err(e @ (mh::Error::PayloadProto { .. } | mh::Error::MessageTooShort { .. })) => {
                let pointer = u32::try_from(chain.final_offset + e.offset()).unwrap_or(u32::MAX);
                let answer = errors::parameter_problem(
                    self.config.address,
                    source,
                    ParameterProblemCode::ErroneousHeaderField,
                    pointer,
                    frame,
                );
                self.answer_error(now, answer, source, false);
                Received::Dropped(DropReason::MalformedPayload)
            }
            Err(_) => Received::Dropped(DropReason::MalformedPayload),
            Ok(repr) => match repr.message {
                Message::Unknown { .. } => {
                    let hoa = chain.home_address.unwrap_or(Ipv6Addr::UNSPECIFIED);
                    self.unrecognized_type(now, source, hoa);
                    Received::Dropped(DropReason::UnexpectedMessage)
                }
                _ => Received::Dropped(DropReason::UnprotectedSignalling),
            },
        }
    }

    /// Binding Error status 2 to `source`, naming `home_address` (RFC 6275 §9.2).
    pub(crate) fn unrecognized_type(
        &mut self,
        now: Time,
        source: Ipv6Addr,
        home_address: Ipv6Addr,
    ) {
        let answer = errors::binding_error(
            self.config.address,
            source,
            BeStatus::UnrecognizedMhType,
            home_address,
        );
        self.answer_error(now, answer, source, true);
    }

    /// RFC 6275 §9.3.2 with RFC 4443 §4.2: the home agent, as any correspondent node
    /// with a binding, answers a bound node's Echo Request through its care-of address.
    fn echo_via_care_of(
        &mut self,
        now: Time,
        frame: &[u8],
        chain: &Chain,
        source: Ipv6Addr,
        destination: Ipv6Addr,
    ) -> Received {
        let (Some(hoa), Some(payload)) = (chain.home_address, chain.payload(frame)) else {
            return Received::Dropped(DropReason::Malformed);
        };
        let Ok(icmp) = Icmpv6Slice::from_slice(payload) else {
            return Received::Dropped(DropReason::MalformedPayload);
        };
        if !icmp.is_checksum_valid(hoa.octets(), destination.octets()) {
            return Received::Dropped(DropReason::MalformedPayload);
        }
        let Icmpv6Type::EchoRequest(echo) = icmp.icmp_type() else {
            return Received::Dropped(DropReason::UnexpectedPayload);
        };
        if destination != self.config.address {
            return Received::Dropped(DropReason::UnexpectedPayload);
        }
        if !self.answer_rates.echoes.allow(now) {
            self.counters.answers_rate_limited += 1;
            return Received::Consumed { spi: None };
        }
        self.counters.echo_replies_sent += 1;
        self.transmits.push_back(Transmit {
            destination: source,
            frame: errors::echo_reply_via_care_of(
                self.config.address,
                source,
                hoa,
                echo,
                icmp.payload(),
            ),
            spi: None,
        });
        Received::Consumed { spi: None }
    }

    /// Queues an error answer to `to` unless the bucket is empty.
    fn answer_error(&mut self, now: Time, frame: Vec<u8>, to: Ipv6Addr, binding_error: bool) {
        if !self.answer_rates.errors.allow(now) {
            self.counters.answers_rate_limited += 1;
            return;
        }
        if binding_error {
            self.counters.binding_errors_sent += 1;
        } else {
            self.counters.icmp_errors_sent += 1;
        }
        tracing::debug!(%to, binding_error, "error answered");
        self.transmits.push_back(Transmit {
            destination: to,
            frame,
            spi: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_one_per_interval() {
        let t0 = Time::from_secs(1000);
        let mut rate = AnswerRate::default();
        for i in 0..RATE_BURST {
            assert!(rate.allow(t0), "{i}");
        }
        assert!(!rate.allow(t0));
        assert!(!rate.allow(t0 + Duration::from_millis(99)));
        assert!(rate.allow(t0 + Duration::from_millis(100)));
        assert!(!rate.allow(t0 + Duration::from_millis(150)));
        assert!(rate.allow(t0 + Duration::from_millis(200)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for i in 0..RATE_BURST {
            assert!(rate.allow(later), "{i}");
        }
        assert!(!rate.allow(later));
    }
}
