//! Root-only test of [`mip6_netio::addr_watch`] in a throw-away namespace: the dump sees
//! what is configured, and adding or removing an address on a veth interface is reported
//! at once, tentative addresses as not yet usable.

mod support;

use std::time::Duration;

use mip6_netio::addr_watch::{AddrChange, AddrEvent, AddrWatch};
use support::*;

const WAIT: Duration = Duration::from_secs(2);

/// The next event about `address`, within [`WAIT`].
async fn next_about(watch: &mut AddrWatch, address: &str) -> AddrEvent {
    let address = ip6(address);
    tokio::time::timeout(WAIT, async {
        loop {
            let e = watch.next().await.expect("netlink connection ended");
            if e.address == address {
                return e;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event about {address} within {WAIT:?}"))
}

#[test]
fn address_events_report_care_of_candidates() {
    if !require_root("address_events_report_care_of_candidates") {
        return;
    }
    let lab = Lab::new("aw", &["a"]);
    lab.sh(
        "a",
        &[
            "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ],
    );
    lab.sh("a", &["ip", "link", "set", "d1", "up"]);
    lab.sh("a", &["ip", "link", "set", "d0", "up"]);
    lab.sh(
        "a",
        &[
            "ip",
            "addr",
            "add",
            "2001:db8:2::100/64",
            "dev",
            "d0",
            "nodad",
        ],
    );
    lab.run("a", || {
        let d0 = mip6_netio::if_index("d0").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut watch = AddrWatch::open().unwrap();
            let now = watch.dump().await.unwrap();
            let first = now
                .iter()
                .find(|e| e.address == ip6("2001:db8:2::100"))
                .unwrap_or_else(|| panic!("dump lacks the configured address: {now:?}"));
            assert_eq!((first.ifindex, first.prefix_len), (d0, 64));
            assert!(first.usable_care_of(), "{first:?}");
            assert!(
                now.iter()
                    .filter(|e| e.address.segments()[0] == 0xfe80)
                    .all(|e| !e.usable_care_of()),
                "link-local is never a care-of address: {now:?}"
            );

            lab.sh(
                "a",
                &[
                    "ip",
                    "addr",
                    "add",
                    "2001:db8:3::100/64",
                    "dev",
                    "d0",
                    "nodad",
                ],
            );
            let added = next_about(&mut watch, "2001:db8:3::100").await;
            assert_eq!(added.change, AddrChange::Added);
            assert_eq!(added.ifindex, d0);
            assert!(added.usable_care_of(), "{added:?}");

            // With DAD (on by default on a veth), the address is first tentative.
            lab.sh("a", &["sysctl", "-qw", "net.ipv6.conf.d0.accept_dad=1"]);
            lab.sh("a", &["ip", "addr", "add", "2001:db8:5::1/64", "dev", "d0"]);
            let tentative = next_about(&mut watch, "2001:db8:5::1").await;
            assert_eq!(tentative.change, AddrChange::Added);
            assert!(!tentative.usable_care_of(), "{tentative:?}");

            lab.sh(
                "a",
                &["ip", "addr", "del", "2001:db8:2::100/64", "dev", "d0"],
            );
            let removed = next_about(&mut watch, "2001:db8:2::100").await;
            assert_eq!(removed.change, AddrChange::Removed);
            assert!(!removed.usable_care_of());
        });
    });
}
