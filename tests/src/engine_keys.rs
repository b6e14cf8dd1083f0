//! The engines' key-bearing types seen through the test kit: their configurations
//! built from `mip6_testkit::KeyMaterial`, and the material read back from their
//! configurations and persistence records (for the nonce ledger, which knows keys as
//! `KeyMaterial` only). The kit cannot name these types itself: it must not depend on
//! the engine crates.

use std::net::Ipv6Addr;

use mip6_testkit::KeyMaterial;

/// The home agent's configuration of the mobile node whose init key is `key`.
pub fn ha_mn_config(key: &KeyMaterial) -> mip6_ha::MnConfig {
    mip6_ha::MnConfig {
        home_address: key.home_address,
        init_secret: key.secret.clone(),
        init_spis: key.spis,
        init_suite: key.suite,
    }
}

/// A mobile node with init key `key`, served by `home_agent` (the engine's defaults
/// otherwise).
pub fn mn_config(home_agent: Ipv6Addr, key: &KeyMaterial) -> mip6_mn::MnConfig {
    mip6_mn::MnConfig::new(home_agent, key.home_address, key.secret.clone(), key.spis)
}

/// The init key a home agent's configuration holds for one mobile node.
pub fn init_key_of(config: &mip6_ha::MnConfig) -> KeyMaterial {
    KeyMaterial {
        suite: config.init_suite,
        ..KeyMaterial::init(
            config.home_address,
            *config.init_secret.expose(),
            config.init_spis,
        )
    }
}

/// The generations (newest, then anterior) of a home agent's record.
pub fn ha_record_keys(r: &mip6_ha::MnRecord) -> impl Iterator<Item = KeyMaterial> + '_ {
    [&r.newest, &r.anterior].into_iter().flatten().map(|g| {
        KeyMaterial::generation(
            r.home_address,
            g.generation,
            g.secret.clone(),
            g.spis,
            g.suite,
        )
    })
}

/// The generations (newest, then anterior) of the record of the mobile node at
/// `home_address`.
pub fn mn_record_keys(
    home_address: Ipv6Addr,
    r: &mip6_mn::MnRecord,
) -> impl Iterator<Item = KeyMaterial> + '_ {
    [&r.newest, &r.anterior]
        .into_iter()
        .flatten()
        .map(move |g| {
            KeyMaterial::generation(
                home_address,
                g.generation,
                g.secret.clone(),
                g.spis,
                g.suite,
            )
        })
}
