//! [`KeyMaterial`]: one key of one mobile node as a configuration, a Key Distribution
//! or a persistence record names it — the init key or a generation, with its secret,
//! SPIs and suite — from which both ends derive their SAs (RFC 5869 key schedule,
//! `mip6_wire::keys::schedule`).
//!
//! The kit cannot see the engines' configuration and record types (it must not
//! depend on the engine crates); callers convert them into this one value.

use std::net::Ipv6Addr;

use mip6_wire::esp::{EspAead, SaKey, Spi, Suite};
use mip6_wire::keys::{derive_sa_key, Direction, Generation, GenerationId, Role, SpiPair};
use mip6_wire::mh::KeyDistribution;
use mip6_wire::Secret32;

/// One key (the init key or a generation) of the mobile node at `home_address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    /// The home address the key belongs to (it is in the key schedule's info).
    pub home_address: Ipv6Addr,
    /// The init key or a generation number.
    pub id: GenerationId,
    /// The secret both SAs are derived from.
    pub secret: Secret32,
    /// The SPI of each direction.
    pub spis: SpiPair,
    /// The AEAD suite.
    pub suite: Suite,
}

impl KeyMaterial {
    /// A pre-shared init key (AES-128-GCM, as the lab configures them).
    pub fn init(home_address: Ipv6Addr, secret: [u8; 32], spis: SpiPair) -> Self {
        KeyMaterial {
            home_address,
            id: GenerationId::Init,
            secret: Secret32::new(secret),
            spis,
            suite: Suite::Aes128Gcm,
        }
    }

    /// Generation `number` (what a persistence record's generation holds).
    pub fn generation(
        home_address: Ipv6Addr,
        number: u32,
        secret: Secret32,
        spis: SpiPair,
        suite: Suite,
    ) -> Self {
        KeyMaterial {
            home_address,
            id: GenerationId::Number(number),
            secret,
            spis,
            suite,
        }
    }

    /// The generation a Key Distribution option carries (panics on a reserved SPI).
    pub fn distributed(home_address: Ipv6Addr, d: &KeyDistribution) -> Self {
        let spi = |v: u32| Spi::new(v).expect("a distributed SPI above the reserved range");
        KeyMaterial::generation(
            home_address,
            d.generation,
            d.secret.clone(),
            SpiPair {
                mn_to_ha: spi(d.spi_mn_to_ha),
                ha_to_mn: spi(d.spi_ha_to_mn),
            },
            d.suite,
        )
    }

    /// Both SAs of this key as `role` holds them (outbound in the role's direction).
    pub fn derive(&self, role: Role) -> Generation {
        self.derive_with(role)
    }

    /// [`derive`](Self::derive) with the AEAD `A` (the null AEAD of an engine fuzz
    /// target).
    pub fn derive_with<A: EspAead>(&self, role: Role) -> Generation<A> {
        Generation::derive(
            role,
            self.id,
            self.secret.clone(),
            &self.home_address,
            self.spis,
            self.suite,
        )
    }

    /// The AEAD key and salt of the SA in `direction`.
    pub fn sa_key(&self, direction: Direction) -> SaKey {
        derive_sa_key(
            &self.secret,
            &self.home_address,
            direction,
            self.spis.get(direction),
            self.suite,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{init_key, HOA};

    #[test]
    fn a_distribution_names_the_generation_it_carries() {
        let d = KeyDistribution {
            generation: 3,
            spi_mn_to_ha: 0x3006,
            spi_ha_to_mn: 0x3007,
            suite: Suite::Aes256Gcm,
            lifetime_secs: 3600,
            secret: Secret32::new([3; 32]),
        };
        let k = KeyMaterial::distributed(HOA, &d);
        assert_eq!(k.id, GenerationId::Number(3));
        assert_eq!(k.spis.mn_to_ha.get(), 0x3006);
        assert_eq!(k.derive(Role::MobileNode).id(), GenerationId::Number(3));
    }

    #[test]
    fn both_roles_derive_the_same_sa_per_direction() {
        let k = init_key();
        let mn = k.derive(Role::MobileNode);
        let ha = k.derive(Role::HomeAgent);
        assert_eq!(mn.spis(), ha.spis());
        assert_ne!(
            k.sa_key(Direction::MnToHa).key(),
            k.sa_key(Direction::HaToMn).key()
        );
    }
}
