//! What the home agent's tests add to the test kit (`mip6-testkit`): the engine's
//! configuration from the lab's keys, a seeded `HomeAgent`, and the registration of a
//! scripted mobile node.

use mip6_wire::keys::{RequestMode, Slot};
use mip6_wire::mh::BaStatus;
use mip6_wire::Time;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use mip6_testkit::lab::*;
pub use mip6_testkit::packet::{data_buffer, esp_header, udp_packet};
pub use mip6_testkit::scripted::{OpenedBa, ScriptedMn};
pub use mip6_testkit::signalling::key_initialization;
pub use mip6_testkit::stepper::{one_transmit, take_events};
pub use mip6_testkit::KeyMaterial;

use crate::{Event, HaConfig, HomeAgent, MnConfig, MnRecord};

pub type Ha = HomeAgent<ChaCha20Rng>;

/// The home agent's configuration of the mobile node whose init key is `key`.
pub fn mn_config(key: &KeyMaterial) -> MnConfig {
    MnConfig {
        home_address: key.home_address,
        init_secret: key.secret.clone(),
        init_spis: key.spis,
        init_suite: key.suite,
    }
}

/// The lab's home agent serving [`HOA`] and [`HOA2`], in `mode`; its timer starts
/// after an initialization as after an update (`rekey_after_initialization` off:
/// the tests of that choice set it).
pub fn config(mode: RequestMode) -> HaConfig {
    let mut c = HaConfig::new(
        HA,
        vec![mn_config(&init_key()), mn_config(&second_init_key())],
    );
    c.mode = mode;
    c.rekey_after_initialization = false;
    c
}

pub fn ha_with(config: HaConfig, seed: u64, restored: Vec<MnRecord>) -> Ha {
    HomeAgent::new(config, ChaCha20Rng::seed_from_u64(seed), T0, restored).unwrap()
}

pub fn ha(mode: RequestMode) -> Ha {
    ha_with(config(mode), 7, Vec::new())
}

/// The scripted mobile node of [`HOA`] at [`COA`].
pub fn mn() -> ScriptedMn {
    ScriptedMn::new(&init_key(), COA)
}

/// An explicit-mode home agent with the scripted MN registered (generation 1), its
/// events taken.
pub fn registered() -> (Ha, ScriptedMn) {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    take_events(&mut ha);
    (ha, mn)
}

/// The last record (`Persist` or `PersistLagging`: the store once every write has
/// landed) for each home address among `events`.
pub fn last_records(events: &[Event]) -> Vec<MnRecord> {
    let mut out: Vec<MnRecord> = Vec::new();
    for e in events {
        if let Event::Persist(r) | Event::PersistLagging(r) = e {
            out.retain(|o| o.home_address != r.home_address);
            out.push(r.clone());
        }
    }
    out
}

/// The frame of the single BA the HA queued.
pub fn one_ba(ha: &mut Ha) -> Vec<u8> {
    one_transmit(ha).frame
}

/// Registers `mn` with an initialization (explicit or implicit) and installs gen 1.
pub fn initialize(ha: &mut Ha, mn: &mut ScriptedMn, now: Time, mode: RequestMode) -> OpenedBa {
    let options = match mode {
        RequestMode::Explicit => vec![key_initialization(now)],
        RequestMode::Implicit => vec![],
    };
    mn.keys.drop_dynamic();
    let frame = mn.bu_under(Slot::Init, &options);
    let r = ha.handle(now, &mut frame.clone());
    assert!(matches!(r, crate::Received::Consumed { .. }), "{r:?}");
    let ba = mn.open_ba(one_ba(ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Init);
    mn.install(&ba);
    ba
}
