//! The kernel side of a binding (RFC 6275 §10.4.1: the home agent intercepts packets
//! for a registered home address): a /128 route for the home address into the TUN, so
//! the kernel hands those packets to the daemon. The home agent answers Neighbor
//! Solicitations for the home address itself, in the engine (`mip6_ha::neighbour`),
//! so no kernel proxy entry is added: the kernel's would not defend the address with
//! Duplicate Address Detection, would let unicast solicitations be forwarded into the
//! tunnel, and joins a multicast group per entry.
//!
//! The routes go into the daemon's own TUN, so the kernel removes them with it (at
//! exit, also after a `kill -9`): they are not kept in [`NetConfig`]'s undo log
//! (issue 13: ~90 octets per bound node). Every other change goes through
//! [`NetConfig`], which records it and undoes it on [`Routes::cleanup`] or, on an
//! error path, on drop. Adds replace existing entries
//! (`NLM_F_REPLACE`), so leftovers of a daemon killed with `kill -9` are taken over;
//! [`Routes::clear_leftovers`] also removes kernel proxy entries for every configured
//! home address at start, which earlier versions added, so none is left behind.

use std::net::Ipv6Addr;

use mip6_netio::routes::{NetConfig, TABLE_MAIN};

/// Routes and proxy entries of the bound home addresses.
#[derive(Debug)]
pub struct Routes {
    net: NetConfig,
    tun_ifindex: u32,
    home_ifindex: u32,
}

impl Routes {
    /// Takes the netlink handle (forwarding and the proxy sysctls already set on it).
    pub fn new(net: NetConfig, tun_ifindex: u32, home_ifindex: u32) -> Self {
        Routes {
            net,
            tun_ifindex,
            home_ifindex,
        }
    }

    /// Removes kernel proxy entries an earlier version left for `home_addresses`.
    pub async fn clear_leftovers(&mut self, home_addresses: impl IntoIterator<Item = Ipv6Addr>) {
        for hoa in home_addresses {
            if let Err(e) = self.net.remove_proxy_ndp(self.home_ifindex, hoa).await {
                tracing::debug!(%hoa, error = %e, "no leftover proxy entry removed");
            }
        }
    }

    /// Routes `hoa` into the TUN.
    pub async fn install(&mut self, hoa: Ipv6Addr) -> Result<(), mip6_netio::Error> {
        self.net
            .add_device_route(hoa, self.tun_ifindex, TABLE_MAIN)
            .await?;
        tracing::debug!(%hoa, "home address routed");
        Ok(())
    }

    /// Removes what [`install`](Self::install) added for `hoa`.
    pub async fn remove(&mut self, hoa: Ipv6Addr) -> Result<(), mip6_netio::Error> {
        self.net
            .remove_device_route(hoa, self.tun_ifindex, TABLE_MAIN)
            .await
    }

    /// Undoes everything: routes and sysctls (restored to their values before the
    /// daemon).
    pub async fn cleanup(self) -> Result<(), mip6_netio::Error> {
        self.net.cleanup().await
    }
}
