//! Changing the served mobile nodes and the timers of a running home agent (issue 11,
//! item 5: the daemon's SIGHUP), without touching any other node's binding or keys.
//!
//! - [`HomeAgent::add_mobile_node`] takes a node as [`HomeAgent::new`] takes one from
//!   its configuration, resuming from its stored record if the driver has one (so its
//!   init SA resumes at its persisted mark: a node removed and added again never
//!   seals twice under one nonce).
//! - [`HomeAgent::remove_mobile_node`] drops a node: its binding (with `Route(Remove)`
//!   and `Binding { Removed(Unconfigured) }`, and a last `Persist` without the
//!   binding), its proxy Neighbor Discovery, a held Duplicate Address Detection, its
//!   SPIs, its keys (wiped on drop). The last node of the table takes its index, and
//!   every table holding indexes is renumbered, so indexes stay dense.
//! - [`HomeAgent::set_timers`] changes the key update interval and the longest binding
//!   lifetime granted: from the next Binding Update on (running timers keep their
//!   deadlines, granted lifetimes stand).

use core::time::Duration;
use std::net::Ipv6Addr;

use mip6_wire::esp::EspAead;
use mip6_wire::keys::Slot;
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::config::MnConfig;
use crate::engine::{ConfigError, HomeAgent, MnIndex};
use crate::events::RemovalCause;
use crate::index::{HoaIndex, SpiIndex};
use crate::mobile_node::{Dirt, KeySlots, MobileNode, QueuedDeadline};
use crate::persist::MnRecord;
use crate::timers::Deadline;

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// Serves one more mobile node from `now` on; `restored` is its stored record, if
    /// any (ignored unless it is for this home address). Refused, changing nothing,
    /// if the home address is served already or an init SPI is in use (by any node,
    /// any direction, init or generation).
    pub fn add_mobile_node(
        &mut self,
        now: Time,
        mn: MnConfig,
        restored: Option<&MnRecord>,
    ) -> Result<(), ConfigError> {
        if self.by_hoa.get(&self.mns, &mn.home_address).is_some() {
            return Err(ConfigError::DuplicateHomeAddress(mn.home_address));
        }
        let (to_ha, to_mn) = (mn.init_spis.mn_to_ha.get(), mn.init_spis.ha_to_mn.get());
        for spi in [to_ha, to_mn] {
            if self.by_spi.is_taken(spi) || to_ha == to_mn {
                return Err(ConfigError::DuplicateInitSpi(spi));
            }
        }
        if self.mns.len() >= SpiIndex::MAX_MN {
            return Err(ConfigError::TooManyMobileNodes);
        }
        let index =
            MnIndex::try_from(self.mns.len()).map_err(|_| ConfigError::TooManyMobileNodes)?;
        self.by_spi.insert(to_ha, index);
        self.by_spi.insert(to_mn, index | SpiIndex::RESERVED);
        let keys = KeySlots::new(
            &mn.init_secret,
            &mn.home_address,
            mn.init_spis,
            mn.init_suite,
            self.config.replay_window.clone(),
        );
        self.mns.push(MobileNode {
            home_address: mn.home_address,
            keys,
            binding: None,
            queued: QueuedDeadline::NONE,
            dirty: Dirt::Clean,
            refresh_requested: 0,
        });
        self.rebuild_hoa_index();
        if let Some(record) = restored.filter(|r| r.home_address == mn.home_address) {
            self.restore(now, record);
        }
        self.prune_timers();
        Ok(())
    }

    /// Stops serving the mobile node with this home address (module docs); false if
    /// it is not served.
    pub fn remove_mobile_node(&mut self, _now: Time, home_address: &Ipv6Addr) -> bool {
        let Some(index) = self.by_hoa.get(&self.mns, home_address) else {
            return false;
        };
        self.remove_binding(index, RemovalCause::Unconfigured);
        self.flush_persist(index);
        self.neighbours.forget(index);
        for spi in Self::spis_of(&self.mns[index]) {
            self.by_spi.remove(spi);
        }
        self.notices.remove(home_address);
        let last = MnIndex::try_from(self.mns.len() - 1).unwrap_or(index);
        self.mns.swap_remove(index as usize);
        if last != index {
            // The last node moved into the hole: renumber its entries.
            let moved = &self.mns[index];
            let init_to_mn = moved.keys.init.spis().ha_to_mn.get();
            for spi in Self::spis_of(moved) {
                self.by_spi.remove(spi);
                let value = if spi == init_to_mn {
                    index | SpiIndex::RESERVED
                } else {
                    index
                };
                self.by_spi.insert(spi, value);
            }
            self.neighbours.renumber(last, index);
        }
        self.rebuild_hoa_index();
        let queued = self.mns.iter().enumerate().filter_map(|(i, mn)| {
            let at = mn.queued.get()?;
            Some(Deadline::new(at, MnIndex::try_from(i).ok()?))
        });
        let mut timers = core::mem::take(&mut self.timers);
        timers.rebuild(queued);
        self.timers = timers;
        self.prune_timers();
        true
    }

    /// Changes the key update interval (also the lifetime carried in Key
    /// Distributions) and the longest binding lifetime granted, from the next
    /// Binding Update on.
    pub fn set_timers(&mut self, key_update_interval: Duration, max_binding_lifetime: Duration) {
        self.config.key_update_interval = key_update_interval;
        self.config.max_binding_lifetime = max_binding_lifetime;
    }

    /// The served home addresses, in table order.
    pub fn home_addresses(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.mns.iter().map(|mn| mn.home_address)
    }

    /// Every SPI of the node in the SPI index: both init SPIs, the MN→HA SPI of each
    /// generation.
    fn spis_of(mn: &MobileNode) -> Vec<u32> {
        let k = &mn.keys;
        let mut spis = vec![k.init.spis().mn_to_ha.get(), k.init.spis().ha_to_mn.get()];
        for slot in [Slot::Anterior, Slot::Newest] {
            if let Some(g) = k.get(slot) {
                spis.push(g.spis().mn_to_ha.get());
            }
        }
        spis
    }

    fn rebuild_hoa_index(&mut self) {
        let mut index = HoaIndex::with_capacity(self.mns.len());
        for (i, mn) in self.mns.iter().enumerate() {
            if let Ok(i) = MnIndex::try_from(i) {
                index.insert(&mn.home_address, i);
            }
        }
        self.by_hoa = index;
    }
}
