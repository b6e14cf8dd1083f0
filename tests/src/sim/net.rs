//! The simulated network: frames in flight with their delivery times, and the faults
//! a seed chooses — loss, duplication, delay and (or not) reordering — all drawn from
//! the simulation's seeded RNG.
//!
//! Without reordering each channel (one per MN and direction) is FIFO: a frame is
//! never delivered before one sent earlier on its channel, and a duplicate is
//! delivered right after its original. With reordering, each frame (and each
//! duplicate) gets its own random delay, and a few get a long one (0.5–3 s).
//! Once faults are switched off every new frame arrives after the base delay, in
//! order; frames already in flight keep their times.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv6Addr;

use mip6_wire::Time;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The home agent.
    Ha,
    /// An address of an MN, a care-of address or (at home) its home address: the MN,
    /// if it is at it.
    Mn(Ipv6Addr),
}

/// What a frame is, as its sender knew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Binding Update from an MN.
    Bu,
    /// A Binding Acknowledgement from the HA.
    Ba,
    /// A tunnelled data packet.
    Data,
}

/// A frame in flight.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Destination.
    pub dest: Dest,
    /// The MN this frame is from or for.
    pub mn: usize,
    /// What it is.
    pub kind: Kind,
    /// The MN pair's key epoch when it was sealed (see `world`), if both ends held
    /// state for each other then.
    pub epoch: Option<u64>,
    /// Sent by its MN while at home (a deregistration, on the MN's side).
    pub from_home: bool,
    /// The frame.
    pub bytes: Vec<u8>,
}

impl Packet {
    fn channel(&self) -> (usize, bool) {
        (self.mn, self.dest == Dest::Ha)
    }
}

struct InFlight {
    at: Time,
    order: u64,
    packet: Packet,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// The faults of a seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is duplicated.
    pub duplicate: f64,
    /// Whether frames are reordered.
    pub reorder: bool,
    /// Base one-way delay, µs.
    pub base_delay_us: u64,
    /// Random extra delay, up to this, µs.
    pub jitter_us: u64,
}

/// What the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Frames offered.
    pub sent: u64,
    /// Frames lost.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
}

/// Frames in flight.
pub struct Network {
    faults: Faults,
    faulty: bool,
    queue: BinaryHeap<Reverse<InFlight>>,
    last_on_channel: HashMap<(usize, bool), Time>,
    order: u64,
    /// What it did.
    pub counters: NetCounters,
}

impl Network {
    /// A network with `faults`, switched on.
    pub fn new(faults: Faults) -> Self {
        Network {
            faults,
            faulty: true,
            queue: BinaryHeap::new(),
            last_on_channel: HashMap::new(),
            order: 0,
            counters: NetCounters::default(),
        }
    }

    /// From now on, no loss, no duplication, no reordering.
    pub fn heal(&mut self) {
        self.faulty = false;
    }

    /// Time of the next delivery.
    pub fn peek(&self) -> Option<Time> {
        self.queue.peek().map(|r| r.0.at)
    }

    /// The next frame due at or before `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<Packet> {
        if self.peek()? <= now {
            self.queue.pop().map(|r| r.0.packet)
        } else {
            None
        }
    }

    fn push(&mut self, at: Time, packet: Packet) {
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
            packet,
        }));
    }

    fn delay(&self, rng: &mut ChaCha20Rng) -> u64 {
        let f = &self.faults;
        let mut d = f.base_delay_us + rng.gen_range(0..=f.jitter_us);
        if f.reorder && rng.gen_bool(0.05) {
            d += rng.gen_range(500_000..3_000_000);
        }
        d
    }

    /// Offers a frame to the network at `now`.
    pub fn send(&mut self, now: Time, packet: Packet, rng: &mut ChaCha20Rng) {
        self.counters.sent += 1;
        let channel = packet.channel();
        if !self.faulty {
            let at = now + core::time::Duration::from_micros(self.faults.base_delay_us);
            let at = at.max(self.last_on_channel.get(&channel).copied().unwrap_or(at));
            self.last_on_channel.insert(channel, at);
            self.push(at, packet);
            return;
        }
        if rng.gen_bool(self.faults.loss) {
            self.counters.lost += 1;
            return;
        }
        let duplicate = rng.gen_bool(self.faults.duplicate);
        let at = now + core::time::Duration::from_micros(self.delay(rng));
        if self.faults.reorder {
            if duplicate {
                self.counters.duplicated += 1;
                let at2 = now + core::time::Duration::from_micros(self.delay(rng));
                self.push(at2, packet.clone());
            }
            self.push(at, packet);
        } else {
            let at = at.max(self.last_on_channel.get(&channel).copied().unwrap_or(at));
            self.last_on_channel.insert(channel, at);
            if duplicate {
                self.counters.duplicated += 1;
                self.push(at, packet.clone());
            }
            self.push(at, packet);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn packet(n: u8) -> Packet {
        Packet {
            dest: Dest::Ha,
            mn: 0,
            kind: Kind::Data,
            epoch: None,
            from_home: false,
            bytes: vec![n],
        }
    }

    fn drain(net: &mut Network) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(p) = net.pop_due(Time::from_micros(u64::MAX)) {
            out.push(p.bytes[0]);
        }
        out
    }

    #[test]
    fn without_reordering_a_channel_keeps_order_and_duplicates_stay_adjacent() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut net = Network::new(Faults {
            loss: 0.3,
            duplicate: 0.3,
            reorder: false,
            base_delay_us: 1_000,
            jitter_us: 50_000,
        });
        for n in 0..200u8 {
            net.send(Time::from_micros(u64::from(n) * 100), packet(n), &mut rng);
        }
        let got = drain(&mut net);
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "{got:?}");
        let c = net.counters;
        assert!(c.lost > 20 && c.duplicated > 20, "{c:?}");
        assert_eq!(got.len() as u64, c.sent - c.lost + c.duplicated);
    }

    #[test]
    fn with_reordering_order_breaks_and_healing_stops_faults() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut net = Network::new(Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: true,
            base_delay_us: 1_000,
            jitter_us: 300_000,
        });
        for n in 0..100u8 {
            net.send(Time::from_micros(u64::from(n) * 100), packet(n), &mut rng);
        }
        assert!(drain(&mut net).windows(2).any(|w| w[0] > w[1]));
        net.heal();
        for n in 0..100u8 {
            net.send(Time::from_micros(u64::from(n) * 100), packet(n), &mut rng);
        }
        let got = drain(&mut net);
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
    }
}
