//! The driver contract of `mip6_wire::engine`, as functions over any
//! [`Engine`]: each input call is followed by a drain that hands every event to the
//! caller's hook **first** (where a harness stores `Persist` records on its "disk")
//! and only then takes the frames to send — so a harness cannot send what it has not
//! persisted. Simulated time jumps from deadline to deadline
//! ([`jump_to_deadline`]).
//!
//! The frames come back as a `Vec` for the caller to send with its own bookkeeping
//! (nonce ledger, capture, network); [`drain_with`] hands them to a second hook
//! instead, allocating nothing, and [`drain_and_count`] only counts them (the
//! benches).
//!
//! For unit tests that inspect an engine between calls, [`take_events`],
//! [`take_transmits`], [`take_all`] and [`one_transmit`] empty its queues by hand.

use std::net::Ipv6Addr;

use mip6_wire::engine::{Engine, Received, Transmit};
use mip6_wire::Time;

use crate::packet::data_buffer;

/// Drains `engine` as its contract says: every event to `on_event`, then every frame
/// to `on_transmit`.
pub fn drain_with<E: Engine>(
    engine: &mut E,
    mut on_event: impl FnMut(E::Event),
    mut on_transmit: impl FnMut(Transmit),
) {
    while let Some(event) = engine.poll_event() {
        on_event(event);
    }
    while let Some(transmit) = engine.poll_transmit() {
        on_transmit(transmit);
    }
}

/// Drains `engine` for a bench: events first, then frames, each through
/// [`std::hint::black_box`] so that none is optimized away; returns how many frames
/// there were.
pub fn drain_and_count<E: Engine>(engine: &mut E) -> usize {
    let mut frames = 0;
    drain_with(
        engine,
        |e| {
            std::hint::black_box(e);
        },
        |t| {
            std::hint::black_box(t);
            frames += 1;
        },
    );
    frames
}

/// Drains `engine`: every event to `on_event`, then the frames, returned in order.
pub fn drain<E: Engine>(engine: &mut E, on_event: impl FnMut(E::Event)) -> Vec<Transmit> {
    let mut frames = Vec::new();
    drain_with(engine, on_event, |t| frames.push(t));
    frames
}

/// Hands `engine` a received frame (decrypted in place), then drains it.
pub fn handle<E: Engine>(
    engine: &mut E,
    now: Time,
    frame: &mut [u8],
    on_event: impl FnMut(E::Event),
) -> (Received<E::DropReason>, Vec<Transmit>) {
    let received = engine.handle(now, frame);
    (received, drain(engine, on_event))
}

/// Lets `engine` act on the deadlines passed at `now`, then drains it.
pub fn timeout<E: Engine>(
    engine: &mut E,
    now: Time,
    on_event: impl FnMut(E::Event),
) -> Vec<Transmit> {
    engine.handle_timeout(now);
    drain(engine, on_event)
}

/// Any other input of an engine (`set_care_of_address`, a restart's set-up), then a
/// drain: `call`'s result and the frames.
pub fn input<E: Engine, R>(
    engine: &mut E,
    call: impl FnOnce(&mut E) -> R,
    on_event: impl FnMut(E::Event),
) -> (R, Vec<Transmit>) {
    let r = call(engine);
    (r, drain(engine, on_event))
}

/// A data frame an engine sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedData {
    /// The whole frame.
    pub frame: Vec<u8>,
    /// Its outer destination.
    pub destination: Ipv6Addr,
    /// The SPI that sealed it.
    pub spi: u32,
}

/// Has `engine` tunnel the IPv6 packet `inner` (copied into a
/// [`data_buffer`]); no drain.
pub fn seal_packet<E: Engine>(
    engine: &mut E,
    now: Time,
    inner: &[u8],
) -> Result<SealedData, E::DataError> {
    let mut buf = data_buffer(inner);
    let sealed = engine.seal_data(now, &mut buf, inner.len())?;
    buf.truncate(sealed.len);
    Ok(SealedData {
        frame: buf,
        destination: sealed.destination,
        spi: sealed.spi,
    })
}

/// Has `engine` tunnel `inner` ([`seal_packet`]), then drains it. Every event has
/// been handed to `on_event` by the time this returns, so the harness has stored it
/// before it sends the data frame and the signalling frames, in whichever order it
/// models.
pub fn seal<E: Engine>(
    engine: &mut E,
    now: Time,
    inner: &[u8],
    on_event: impl FnMut(E::Event),
) -> (Result<SealedData, E::DataError>, Vec<Transmit>) {
    let sealed = seal_packet(engine, now, inner);
    (sealed, drain(engine, on_event))
}

/// The earliest of `deadlines`.
pub fn next_deadline(deadlines: impl IntoIterator<Item = Option<Time>>) -> Option<Time> {
    deadlines.into_iter().flatten().min()
}

/// Simulated time: where `now` jumps to — the earliest of `deadlines`, if that is no
/// later than `until` (any, without one) — never backwards (a deadline already
/// passed keeps `now`). `None` when no deadline is due by `until`.
pub fn jump_to_deadline(
    now: Time,
    deadlines: impl IntoIterator<Item = Option<Time>>,
    until: Option<Time>,
) -> Option<Time> {
    let at = next_deadline(deadlines).filter(|&at| until.is_none_or(|u| at <= u))?;
    Some(now.max(at))
}

/// Every event `engine` has queued, in order (its frames stay queued).
pub fn take_events<E: Engine>(engine: &mut E) -> Vec<E::Event> {
    std::iter::from_fn(|| engine.poll_event()).collect()
}

/// Every frame `engine` has queued, in order (its events stay queued).
pub fn take_transmits<E: Engine>(engine: &mut E) -> Vec<Transmit> {
    std::iter::from_fn(|| engine.poll_transmit()).collect()
}

/// Every event, then every frame, `engine` has queued.
pub fn take_all<E: Engine>(engine: &mut E) -> (Vec<E::Event>, Vec<Transmit>) {
    let mut events = Vec::new();
    let frames = drain(engine, |e| events.push(e));
    (events, frames)
}

/// The one frame `engine` has queued (panics unless exactly one).
#[track_caller]
pub fn one_transmit<E: Engine>(engine: &mut E) -> Transmit {
    let mut frames = take_transmits(engine);
    assert_eq!(
        frames.len(),
        1,
        "exactly one frame queued, got {}",
        frames.len()
    );
    frames.remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    /// An engine that queues an event and a frame per call, and records its calls.
    #[derive(Default)]
    struct Echo {
        events: Vec<u32>,
        frames: Vec<Transmit>,
        deadline: Option<Time>,
        calls: Vec<&'static str>,
    }

    impl Echo {
        fn queue(&mut self, n: u32) {
            self.events.push(n);
            self.frames.push(Transmit {
                destination: crate::lab::HA,
                frame: vec![n as u8],
                spi: None,
            });
        }
    }

    #[derive(Debug)]
    struct Never;
    impl core::fmt::Display for Never {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("never")
        }
    }
    impl std::error::Error for Never {}

    impl Engine for Echo {
        type Event = u32;
        type DropReason = u8;
        type DataError = Never;
        fn handle(&mut self, _: Time, frame: &mut [u8]) -> Received<u8> {
            self.calls.push("handle");
            self.queue(u32::from(frame[0]));
            Received::Consumed { spi: None }
        }
        fn seal_data(
            &mut self,
            _: Time,
            buf: &mut [u8],
            inner_len: usize,
        ) -> Result<mip6_wire::engine::DataFrame, Never> {
            self.calls.push("seal");
            Ok(mip6_wire::engine::DataFrame {
                len: mip6_wire::frames::DATA_HEADROOM + inner_len.min(buf.len()),
                destination: crate::lab::COA,
                spi: 0x1001,
            })
        }
        fn handle_timeout(&mut self, _: Time) {
            self.calls.push("timeout");
            self.deadline = None;
            self.queue(99);
        }
        fn poll_timeout(&self) -> Option<Time> {
            self.deadline
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.calls.push("transmit");
            (!self.frames.is_empty()).then(|| self.frames.remove(0))
        }
        fn poll_event(&mut self) -> Option<u32> {
            self.calls.push("event");
            (!self.events.is_empty()).then(|| self.events.remove(0))
        }
    }

    #[test]
    fn events_are_drained_before_the_first_frame() {
        let mut e = Echo::default();
        let mut seen = Vec::new();
        let (r, frames) = handle(&mut e, crate::lab::T0, &mut [7], |ev| seen.push(ev));
        assert_eq!(r, Received::Consumed { spi: None });
        assert_eq!(seen, [7]);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            e.calls,
            ["handle", "event", "event", "transmit", "transmit"]
        );
    }

    #[test]
    fn time_jumps_to_the_next_deadline_and_forward_only() {
        let t0 = crate::lab::T0;
        let mut e = Echo {
            deadline: Some(t0 + Duration::from_secs(5)),
            ..Echo::default()
        };
        assert_eq!(jump_to_deadline(t0, [e.poll_timeout()], Some(t0)), None);
        let now = jump_to_deadline(t0, [None, e.poll_timeout()], None).expect("a deadline");
        assert_eq!(now, t0 + Duration::from_secs(5));
        let frames = timeout(&mut e, now, |_| {});
        assert_eq!(frames[0].frame, [99]);
        assert_eq!(next_deadline([e.poll_timeout(), None]), None);
        let later = now + Duration::from_secs(9);
        assert_eq!(jump_to_deadline(later, [Some(now)], None), Some(later));
    }

    #[test]
    fn sealing_copies_the_packet_after_the_headroom_and_truncates() {
        let mut e = Echo::default();
        let (sealed, frames) = seal(&mut e, crate::lab::T0, &[1, 2, 3], |_| {});
        let sealed = sealed.unwrap();
        assert_eq!(sealed.frame.len(), mip6_wire::frames::DATA_HEADROOM + 3);
        assert_eq!(sealed.destination, crate::lab::COA);
        assert!(frames.is_empty());
        e.queue(1);
        e.queue(2);
        assert_eq!(take_all(&mut e).0, [1, 2]);
        e.queue(3);
        e.queue(4);
        assert_eq!(drain_and_count(&mut e), 2);
        e.queue(3);
        assert_eq!(one_transmit(&mut e).frame, [3]);
        assert_eq!(take_events(&mut e), [3]);
        assert!(take_transmits(&mut e).is_empty());
    }
}
