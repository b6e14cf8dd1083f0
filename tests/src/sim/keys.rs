//! Keys as both ends of the simulation name them, to check invariant 1 on the state:
//! [`KeyId`] (the init key, or a generation by number, SPIs and secret) and
//! [`KeySet`] (what one end transmits with and accepts, computed from its record by
//! the patent's FIG. 1; [`KeySet::named`] finds in it the key an engine's own view says
//! it transmits with). Nonces are the test kit's business (`mip6_testkit::NonceLedger`).

use mip6_wire::keys::{Direction, GenerationId, SpiPair};

/// The (newest, anterior) [`KeyId`]s of a persistence record of either engine (their
/// generation records have the same fields).
macro_rules! slot_ids {
    ($record:expr) => {
        [&$record.newest, &$record.anterior].map(|g| {
            g.as_ref().map(|g| KeyId::Gen {
                generation: g.generation,
                spis: (g.spis.mn_to_ha.get(), g.spis.ha_to_mn.get()),
                secret: *g.secret.expose(),
            })
        })
    };
}

/// A key generation as both ends name it: the init key of an MN, or a drawn
/// generation (number, SPIs MN→HA and HA→MN, secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// The MN's pre-shared init key.
    Init,
    /// A generation drawn by the HA.
    Gen {
        /// Generation number.
        generation: u32,
        /// (MN→HA, HA→MN) SPIs.
        spis: (u32, u32),
        /// The generation secret.
        secret: [u8; 32],
    },
}

impl KeyId {
    /// Short form for traces: `init` or `g3/0x1234abcd`.
    pub fn short(&self) -> String {
        match self {
            KeyId::Init => "init".into(),
            KeyId::Gen {
                generation, spis, ..
            } => format!("g{generation}/{:#x}", spis.0),
        }
    }
}

/// What each end transmits with and accepts, computed from its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    /// The transmit key.
    pub transmit: KeyId,
    /// Newest N, if any.
    pub newest: Option<KeyId>,
    /// Anterior N−1, if any.
    pub anterior: Option<KeyId>,
}

impl KeySet {
    /// The HA side (patent FIG. 1): transmits with anterior, init when there is none.
    pub fn of_ha(r: &mip6_ha::MnRecord) -> Self {
        let [newest, anterior] = slot_ids!(r);
        KeySet {
            transmit: anterior.clone().unwrap_or(KeyId::Init),
            newest,
            anterior,
        }
    }

    /// The MN side: transmits with newest, init when there is none.
    pub fn of_mn(r: &mip6_mn::MnRecord) -> Self {
        let [newest, anterior] = slot_ids!(r);
        KeySet {
            transmit: newest.clone().unwrap_or(KeyId::Init),
            newest,
            anterior,
        }
    }

    /// The key of this set that an engine's view names as its transmit key: `id` and
    /// the SPI `spi` of the direction it seals in, `direction`. Init is named by its
    /// SPI in `init_spis`, a generation by its number and SPI; None if the set holds
    /// no such key (the view and the record disagree).
    pub fn named(
        &self,
        id: GenerationId,
        spi: u32,
        direction: Direction,
        init_spis: SpiPair,
    ) -> Option<KeyId> {
        match id {
            GenerationId::Init => (init_spis.get(direction).get() == spi).then_some(KeyId::Init),
            GenerationId::Number(n) => [&self.newest, &self.anterior]
                .into_iter()
                .flatten()
                .find(|k| match k {
                    KeyId::Gen {
                        generation, spis, ..
                    } => {
                        let own = match direction {
                            Direction::MnToHa => spis.0,
                            Direction::HaToMn => spis.1,
                        };
                        *generation == n && own == spi
                    }
                    KeyId::Init => false,
                })
                .cloned(),
        }
    }

    /// Whether `key` is accepted: newest, anterior or init (both roles accept these).
    pub fn accepts(&self, key: &KeyId) -> bool {
        *key == KeyId::Init
            || self.newest.as_ref() == Some(key)
            || self.anterior.as_ref() == Some(key)
    }

    /// Short form for traces.
    pub fn short(&self) -> String {
        let s = |k: &Option<KeyId>| k.as_ref().map_or("-".into(), KeyId::short);
        format!(
            "tx {} [N {} N-1 {}]",
            self.transmit.short(),
            s(&self.newest),
            s(&self.anterior)
        )
    }
}
