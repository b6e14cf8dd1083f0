//! What the mobile node's tests add to the test kit (`mip6-testkit`): the engine's
//! configuration from the lab's keys, a seeded `MobileNode`, and a registration with
//! the scripted home agent.

use mip6_wire::keys::{RequestMode, Slot};
use mip6_wire::mh::KeyOption;
use mip6_wire::Time;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use mip6_testkit::lab::*;
pub use mip6_testkit::packet::{data_buffer, udp_packet};
pub use mip6_testkit::scripted::{distribution, OpenedBu, ScriptedHa};
pub use mip6_testkit::stepper::take_all;

use crate::{Event, MnConfig, MnRecord, MobileNode, Received};

/// The lab's mobile node ([`HOA`], its init key, home agent [`HA`]), in `mode`;
/// no update follows an initialization by itself (`rekey_after_initialization`
/// off: the tests of that choice set it).
pub fn config(mode: RequestMode) -> MnConfig {
    let key = init_key();
    let mut c = MnConfig::new(HA, key.home_address, key.secret, key.spis);
    c.request_mode = mode;
    c.rekey_after_initialization = false;
    c
}

pub fn node_with(config: MnConfig, restored: Option<MnRecord>) -> MobileNode {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    MobileNode::new(config, &mut rng, T0, restored)
}

pub fn node(mode: RequestMode) -> MobileNode {
    node_with(config(mode), None)
}

/// The scripted home agent of [`HOA`], init key only.
pub fn home_agent() -> ScriptedHa {
    ScriptedHa::new(&init_key())
}

/// Exactly one BU was queued (to the home agent): its frame. Events are discarded.
pub fn one_bu(mn: &mut MobileNode) -> Vec<u8> {
    let (_, mut t) = take_all(mn);
    assert_eq!(t.len(), 1, "one BU expected, got {}", t.len());
    let t = t.remove(0);
    assert_eq!(t.destination, HA);
    t.frame
}

/// Events other than Persist.
pub fn non_persist(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Persist(_)))
        .cloned()
        .collect()
}

/// The node moves to `COA` and completes an initialization with generation 1;
/// returns the BU the home agent saw.
pub fn register(mn: &mut MobileNode, ha: &mut ScriptedHa, now: Time) -> OpenedBu {
    mn.set_care_of_address(now, Some(COA));
    let bu = ha.open_bu(&one_bu(mn));
    assert_eq!(bu.slot, Slot::Init);
    let kd = ha.initialize(1);
    let mut keys = vec![KeyOption::KeyDistribution(kd)];
    if let Some(echo @ KeyOption::KeyInitialization { .. }) = &bu.key {
        keys.push(echo.clone());
    }
    let mut ba = ha.ba(&bu, &keys);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn.keys().newest, Some(1));
    bu
}
