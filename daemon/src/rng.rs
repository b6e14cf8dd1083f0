//! The RNG a daemon hands its engine: the operating system's in production, a seeded
//! ChaCha20 only in tests and replay (the key generations are then predictable from
//! the seed, which is the point of a replay and the end of any secrecy).

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, OsRng, RngCore};

/// OS RNG or seeded ChaCha20.
#[derive(Debug)]
pub enum DaemonRng {
    /// `getrandom(2)`: production.
    Os(OsRng),
    /// ChaCha20 from a 64-bit seed: tests and byte-exact replay only.
    Seeded(Box<ChaCha20Rng>),
}

impl DaemonRng {
    /// The OS RNG without a seed; with one, a seeded ChaCha20 and a loud warning.
    pub fn new(seed: Option<u64>) -> DaemonRng {
        match seed {
            None => DaemonRng::Os(OsRng),
            Some(seed) => {
                tracing::warn!(
                    seed,
                    "keys are drawn from a SEEDED RNG: for tests and replay only, never in production"
                );
                DaemonRng::Seeded(Box::new(ChaCha20Rng::seed_from_u64(seed)))
            }
        }
    }

    /// Whether the keys are predictable (seeded).
    pub fn is_seeded(&self) -> bool {
        matches!(self, DaemonRng::Seeded(_))
    }
}

impl RngCore for DaemonRng {
    fn next_u32(&mut self) -> u32 {
        match self {
            DaemonRng::Os(r) => r.next_u32(),
            DaemonRng::Seeded(r) => r.next_u32(),
        }
    }
    fn next_u64(&mut self) -> u64 {
        match self {
            DaemonRng::Os(r) => r.next_u64(),
            DaemonRng::Seeded(r) => r.next_u64(),
        }
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            DaemonRng::Os(r) => r.fill_bytes(dest),
            DaemonRng::Seeded(r) => r.fill_bytes(dest),
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        match self {
            DaemonRng::Os(r) => r.try_fill_bytes(dest),
            DaemonRng::Seeded(r) => r.try_fill_bytes(dest),
        }
    }
}

impl CryptoRng for DaemonRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_os_differs() {
        let mut a = DaemonRng::new(Some(7));
        let mut b = DaemonRng::new(Some(7));
        let mut c = DaemonRng::new(Some(8));
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!(a.is_seeded());
        let mut os = DaemonRng::new(None);
        assert!(!os.is_seeded());
        let mut buf = [0u8; 32];
        os.fill_bytes(&mut buf);
        assert_ne!(buf, [0u8; 32]);
    }
}
