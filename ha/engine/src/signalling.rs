//! Receiving frames and processing Binding Updates (RFC 6275 §10.3.1, §9.5.1) with
//! the key protocol of docs/key-protocol.md (patent (1)–(11), HA side).
//!
//! Order of a received frame: find the MN by SPI (O(1)), open under its SA (a frame
//! that does not open is dropped silently and counted), mark newest as confirmed if
//! it opened under newest, then classify: a BU is checked (each failure is a
//! [`Refusal`] answered with its BA status; no key or binding moves), then the
//! binding is updated and the slot that opened the BU decides the key action:
//!
//! | opened under | HA does | BA sealed with |
//! | --- | --- | --- |
//! | any, with a Key Initialization Request (timestamp newer than the last, within skew) | initialize (patent (1), (2), (5)) | init |
//! | init, explicit mode, no valid request | refuse, 145 | init |
//! | init, implicit mode | initialize (patent (7), (8), (11)) | init |
//! | newest, update due (request, timer, sequence margin) | update: seal first, then install (patent (3), (6), (9)) | transmit before the update |
//! | anterior, newest unconfirmed | resend newest (patent (4), (10)) | transmit |
//! | otherwise | plain BA | transmit |
//!
//! Refusals to a BU that opened under init are sealed with init (the MN may hold
//! nothing else); all others with the transmit key.
//!
//! A Key Initialization Request under newest or anterior (patent (2), the MN asking
//! for a fresh start while it still holds keys) initializes too **(choice: patent (2)
//! allows it; docs/key-protocol.md only names init)**.

use std::net::Ipv6Addr;

use mip6_wire::esp::{self, sa::SEQUENCE_END, EspAead};
use mip6_wire::ext::Chain;
use mip6_wire::frames::{self, BindingAckFrame, BindingRefreshRequestFrame, Payload};
use mip6_wire::keys::{DistributionKind, GenerationId, RequestMode, Slot, SpiPair};
use mip6_wire::mh::{
    lifetime_secs_to_units, BaFlags, BaStatus, BindingAckRepr, BindingUpdateRepr, BuFlags,
    KeyDistribution, KeyOption, Message, MobilityOption, OptionListIter,
};
use mip6_wire::{Secret32, Time};
use rand_core::{CryptoRng, RngCore};

use crate::binding::{is_unicast_routable, is_valid_care_of, BindingView};
use crate::config::{on_prefix, BindingCacheStorage};
use crate::counters::DropReason;
use crate::engine::{HomeAgent, MnIndex};
use crate::events::{
    BindingChange, Event, KeyChange, Received, RemovalCause, RouteChange, Transmit,
};
use crate::mobile_node::{Dynamic, InstallStamps, Proof, ReplayKnowledge, UpdateTimer};
use crate::refusal::Refusal;

/// What an authenticated BU asked for, read from its header chain and options.
#[derive(Debug)]
pub(crate) struct ReceivedBu {
    /// The slot whose SA opened it.
    slot: Slot,
    /// Its ESP sequence number (authenticated).
    esp_seq: u32,
    /// The unprotected IPv6 source.
    source: Ipv6Addr,
    /// The Home Address option.
    home_address_option: Option<Ipv6Addr>,
    pub(crate) update: BindingUpdateRepr,
    /// The first Alternate Care-of Address option.
    alt_coa: Option<Ipv6Addr>,
    /// The first key-management option of our vendor.
    key: Option<KeyOption>,
    /// A key-management option of our vendor failed to parse.
    key_malformed: bool,
    /// A Nonce Indices option was present (RFC 6275 §6.2.6).
    nonce_indices: bool,
}

/// Why an authenticated BU is not accepted: answered with a BA, or discarded.
#[derive(Debug, Clone, Copy)]
enum Rejection {
    /// Answered with the refusal's BA status.
    Refuse(Refusal),
    /// Silently discarded (RFC 6275 §9.5.1), counted under this reason.
    Discard(DropReason),
}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Self {
        Rejection::Refuse(r)
    }
}

impl ReceivedBu {
    /// The mobile node's home address: the Home Address option if present, otherwise
    /// the IPv6 source (RFC 6275 §9.5.1; a node at home sends from its home address
    /// without the option, §11.5.4).
    fn home_address(&self) -> Ipv6Addr {
        self.home_address_option.unwrap_or(self.source)
    }

    /// The care-of address the BU asks for: the Alternate Care-of Address option, or,
    /// for a node at home (source = home address, no Home Address option), the home
    /// address itself. The unprotected source of a node away is never bound
    /// (docs/architecture.md: only the ESP-protected option counts).
    fn care_of(&self) -> Option<Ipv6Addr> {
        self.alt_coa
            .or_else(|| (self.home_address_option.is_none()).then_some(self.source))
    }

    fn init_timestamp(&self) -> Option<u64> {
        match self.key {
            Some(KeyOption::KeyInitialization { timestamp }) => Some(timestamp),
            _ => None,
        }
    }

    /// Where the BA goes: the Alternate CoA if it is usable, else the IPv6 source.
    fn reply_to(&self, ha: &Ipv6Addr) -> Ipv6Addr {
        self.alt_coa
            .filter(|a| is_valid_care_of(a, ha))
            .unwrap_or(self.source)
    }
}

/// The key action an accepted BU leads to.
#[derive(Debug)]
enum KeyAction {
    Initialize(Dynamic),
    Update(Dynamic),
    Resend,
    Nothing,
}

/// What an accepted BU does to the binding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BindingAction {
    Register {
        care_of_address: Ipv6Addr,
        lifetime_secs: u32,
    },
    Deregister,
}

/// The ESP-layer reason a frame did not open.
fn esp_drop(e: &frames::FrameError) -> DropReason {
    match e {
        frames::FrameError::Esp(esp) => match esp {
            esp::Error::UnknownSpi { .. } | esp::Error::ReservedSpi { .. } => {
                DropReason::UnknownSpi
            }
            esp::Error::Replayed { .. } | esp::Error::TooOld { .. } | esp::Error::SequenceZero => {
                DropReason::Replayed
            }
            esp::Error::BadIcv { .. } => DropReason::BadIcv,
            esp::Error::BadPadLength { .. } | esp::Error::BadPadding { .. } => {
                DropReason::BadEspTrailer
            }
            _ => DropReason::Malformed,
        },
        _ => DropReason::Malformed,
    }
}

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// Handles a frame received for the HA (a BU or a tunnelled packet), decrypting it
    /// in place. BAs are queued for [`poll_transmit`](Self::poll_transmit).
    pub fn handle(&mut self, now: Time, frame: &mut [u8]) -> Received {
        let received = self.handle_inner(now, frame);
        if let Received::Dropped(reason) = received {
            self.counters.drop(reason);
            tracing::debug!(%reason, "frame dropped");
        }
        self.prune_timers();
        received
    }

    fn handle_inner(&mut self, now: Time, frame: &mut [u8]) -> Received {
        let esp_frame = match frames::inspect(frame) {
            Ok(f) => f,
            Err(frames::FrameError::NotEsp { .. }) => {
                return match mip6_wire::ext::walk(frame) {
                    Ok(chain) => self.handle_unprotected(now, frame, &chain),
                    Err(_) => Received::Dropped(DropReason::Malformed),
                };
            }
            Err(_) => return Received::Dropped(DropReason::Malformed),
        };
        let Some(index) = self.by_spi.get(esp_frame.spi) else {
            return Received::Dropped(DropReason::UnknownSpi);
        };
        let implicit = self.config.mode == RequestMode::Implicit;
        let Some(esp_area) = frame.get_mut(esp_frame.esp.clone()) else {
            return Received::Dropped(DropReason::Malformed);
        };
        let mn = &mut self.mns[index];
        let Some(slot) = mn.keys.lookup_inbound(esp_frame.spi) else {
            return Received::Dropped(DropReason::UnknownSpi);
        };
        let seq = match esp::Packet::new_checked(&*esp_area) {
            Ok(p) => p.sequence_number(),
            Err(_) => return Received::Dropped(DropReason::Malformed),
        };
        let Some(keys) = mn.keys.get_mut(slot) else {
            return Received::Dropped(DropReason::UnknownSpi);
        };
        let opened = match keys.open::<A>(esp_area) {
            Ok(opened) => opened,
            Err(e) => {
                if matches!(e, esp::Error::BadIcv { .. }) {
                    let notice = self.notices.entry(mn.home_address).or_default();
                    if slot == Slot::Init {
                        notice.init_icv_failures += 1;
                    } else {
                        notice.icv_failures += 1;
                    }
                }
                return Received::Dropped(esp_drop(&frames::FrameError::Esp(e)));
            }
        };
        let classified = frames::inbound::classify(frame, &esp_frame, &opened);
        // Data under a generation restored after a restart may be a replay of a frame
        // accepted after the last persisted top: it proves nothing (issue 12, item 10).
        let unproven = matches!(classified, Ok(Payload::Tunnelled { .. }))
            && mn.keys.replay_knowledge(slot) == ReplayKnowledge::LostAtRestart;
        match slot {
            Slot::Newest if mn.keys.proof == Proof::Unconfirmed && !unproven => {
                tracing::debug!(hoa = %mn.home_address, "newest key confirmed");
                mn.keys.proof = Proof::Confirmed;
                mn.changed();
            }
            // The init SA's replay top is persisted on every frame it opens.
            Slot::Init => {
                mn.changed();
                // In the implicit mode any BU under the init SPI is an initialization
                // and carries no timestamp, so the replay window is its only guard: a
                // BU captured earlier but never delivered would still sit inside the
                // window and re-initialize a node that has since deregistered. Init
                // frames must therefore arrive in increasing order (a window of one);
                // initializations are rare and every retransmission takes a new number.
                if implicit {
                    mn.keys.init.raise_floor(seq);
                }
            }
            _ => {}
        }
        let received = match classified {
            Err(_) => Received::Dropped(DropReason::MalformedPayload),
            Ok(Payload::Signalling(mh)) => match mh.message {
                Message::BindingUpdate(update) => {
                    let request = read_request(
                        slot,
                        seq,
                        &esp_frame.chain,
                        update,
                        mh.options(),
                        self.config.vendor_id,
                    );
                    self.process_bu(now, index, esp_frame.spi, request)
                }
                Message::Unknown { .. } => {
                    // RFC 6275 §9.2: Binding Error status 2, to the source, naming
                    // the node's home address when it has a binding.
                    let to = crate::unprotected::addresses(frame)
                        .map_or(esp_frame.chain.mh_checksum_source(), |(source, _)| source);
                    let hoa = self.mns[index]
                        .binding
                        .map_or(Ipv6Addr::UNSPECIFIED, |_| self.mns[index].home_address);
                    self.unrecognized_type(now, to, hoa);
                    Received::Dropped(DropReason::UnexpectedMessage)
                }
                _ => Received::Dropped(DropReason::UnexpectedMessage),
            },
            Ok(Payload::Tunnelled { .. }) if unproven => {
                self.request_refresh(now, index);
                Received::Dropped(DropReason::DataUnderRestoredKey)
            }
            Ok(Payload::Tunnelled { header, packet }) => self.receive_data(
                now,
                index,
                esp_frame.spi,
                &esp_frame.chain,
                header.src_addr,
                packet,
            ),
            Ok(Payload::Dummy) => Received::Dropped(DropReason::Dummy),
            Ok(Payload::Other { .. }) => Received::Dropped(DropReason::UnexpectedPayload),
        };
        self.flush_persist(index);
        received
    }

    fn process_bu(&mut self, now: Time, index: MnIndex, spi: u32, request: ReceivedBu) -> Received {
        let consumed = Received::Consumed { spi: Some(spi) };
        // A BU held for Duplicate Address Detection is replaced by this newer one,
        // unless this one is silently discarded.
        let held = self.take_held(index);
        let binding = match self.check_bu(now, index, &request) {
            Ok(action) => action,
            Err(Rejection::Refuse(refusal)) => {
                self.refuse(index, &request, refusal);
                return consumed;
            }
            // Counted and traced by `handle`, as every drop is.
            Err(Rejection::Discard(reason)) => {
                self.keep_held(index, held);
                return Received::Dropped(reason);
            }
        };
        let creates =
            matches!(binding, BindingAction::Register { .. }) && self.mns[index].binding.is_none();
        let (request, binding) = if creates {
            match self.hold_for_detection(now, index, request, binding, held) {
                None => return consumed,
                Some(nothing_to_detect) => nothing_to_detect,
            }
        } else {
            (request, binding)
        };
        self.accept_checked(now, index, &request, binding);
        consumed
    }

    /// Accepts a BU that passed [`check_bu`](Self::check_bu) (and Duplicate Address
    /// Detection): the key action, the binding, the BA.
    pub(crate) fn accept_checked(
        &mut self,
        now: Time,
        index: MnIndex,
        request: &ReceivedBu,
        binding: BindingAction,
    ) {
        let key_action = match self.key_action(index, request) {
            Ok(action) => action,
            Err(refusal) => {
                self.refuse(index, request, refusal);
                return;
            }
        };
        self.counters.bu_accepted += 1;
        let granted = self.apply_binding(now, index, request, binding);
        self.answer(now, index, request, granted, key_action);
    }

    /// Refuses a held BU whose home address another node on the home link uses (134).
    pub(crate) fn refuse_held(&mut self, index: MnIndex, request: &ReceivedBu) {
        self.refuse(index, request, Refusal::DuplicateAddress);
    }

    /// The RFC 6275 §9.5.1 and §10.3.1–10.3.2 checks and the init timestamp rule, in
    /// that order; no state moves. The A flag is not checked: the HA answers every
    /// BU it processes (§10.3.1).
    fn check_bu(
        &mut self,
        now: Time,
        index: MnIndex,
        request: &ReceivedBu,
    ) -> Result<BindingAction, Rejection> {
        let mn = &self.mns[index];
        let hoa = request.home_address();
        if !is_unicast_routable(&hoa) {
            return Err(Rejection::Discard(DropReason::InvalidHomeAddress));
        }
        let flags = request.update.flags;
        if !flags.contains(BuFlags::H) {
            return Err(match mn.binding {
                Some(_) => Refusal::RegistrationTypeChange.into(),
                None => Rejection::Discard(DropReason::NotHomeRegistration),
            });
        }
        if request.nonce_indices {
            return Err(Rejection::Discard(
                DropReason::NonceIndicesInHomeRegistration,
            ));
        }
        if !on_prefix(&hoa, self.config.home_prefix) {
            return Err(Refusal::NotHomeSubnet.into());
        }
        if hoa != mn.home_address {
            self.counters.attacks += 1;
            tracing::warn!(sa_hoa = %mn.home_address, claimed = %hoa, "BU names another mobile node's home address");
            return Err(Refusal::HomeAddressOfAnotherMn.into());
        }
        if request.key_malformed {
            return Err(Refusal::MalformedKeyOption.into());
        }
        match request.init_timestamp() {
            Some(ts) => {
                let newer = mn
                    .keys
                    .last_init_timestamp
                    .is_none_or(|last| ts > last.get());
                let at = Time::from_ntp(ts);
                let skew = self.config.init_timestamp_skew;
                let within = at <= now + skew && now.saturating_since(at) <= skew;
                if !(newer && within) {
                    return Err(Refusal::InitTimestamp.into());
                }
            }
            None if request.slot == Slot::Init && self.config.mode == RequestMode::Explicit => {
                return Err(Refusal::InitTimestamp.into());
            }
            None => {}
        }
        let Some(coa) = request.care_of() else {
            return Err(Refusal::MissingAlternateCareOf.into());
        };
        let deregister = request.update.lifetime == 0 || coa == mn.home_address;
        if !deregister && !is_valid_care_of(&coa, &self.config.address) {
            return Err(Refusal::InvalidCareOf.into());
        }
        match mn.binding {
            Some(b) if !request.update.sequence.is_newer_than(b.sequence) => {
                return Err(Refusal::SequenceOutOfWindow.into());
            }
            None if deregister => return Err(Refusal::NoBindingToDeregister.into()),
            _ => {}
        }
        if deregister {
            return Ok(BindingAction::Deregister);
        }
        let max = u32::try_from(self.config.max_binding_lifetime.as_secs()).unwrap_or(u32::MAX);
        Ok(BindingAction::Register {
            care_of_address: coa,
            lifetime_secs: request.update.lifetime_secs().min(max),
        })
    }

    /// Decides the key action of an accepted BU (docs/key-protocol.md table) and draws
    /// the new generation if one is needed.
    fn key_action(&mut self, index: MnIndex, request: &ReceivedBu) -> Result<KeyAction, Refusal> {
        let keys = &self.mns[index].keys;
        if request.init_timestamp().is_some() || request.slot == Slot::Init {
            return self.draw(index, 1).map(KeyAction::Initialize);
        }
        match request.slot {
            Slot::Newest => {
                let margin = self.config.rekey_sequence_margin;
                let requested = matches!(request.key, Some(KeyOption::KeyUpdateRequest));
                let timer = keys.update.get() == UpdateTimer::Due;
                let ours = keys.transmit().seq_remaining() < margin;
                let theirs = SEQUENCE_END - u64::from(request.esp_seq) < margin;
                if requested || timer || ours || theirs {
                    let next = keys
                        .number(Slot::Newest)
                        .unwrap_or(0)
                        .wrapping_add(1)
                        .max(1);
                    self.draw(index, next).map(KeyAction::Update)
                } else {
                    Ok(KeyAction::Nothing)
                }
            }
            Slot::Anterior if keys.proof == Proof::Unconfirmed => Ok(KeyAction::Resend),
            _ => Ok(KeyAction::Nothing),
        }
    }

    /// Draws generation `number` for an MN: a 32-octet secret and two SPIs from the
    /// RNG, the MN→HA SPI unique across all MNs, neither reserved (0..=255), an init
    /// SPI, or one of this MN's SPIs (re-drawn on collision).
    fn draw(&mut self, index: MnIndex, number: u32) -> Result<Dynamic, Refusal> {
        let keys = &self.mns[index].keys;
        let mut taken: Vec<u32> = keys
            .accepted_slots()
            .filter_map(|s| keys.get(s))
            .flat_map(|g| [g.spis().mn_to_ha.get(), g.spis().ha_to_mn.get()])
            .collect();
        let mut spis = [0u32; 2];
        for spi in &mut spis {
            let drawn = (0..64).map(|_| self.rng.next_u32()).find(|s| {
                *s > esp::Spi::MAX_RESERVED && !self.by_spi.is_taken(*s) && !taken.contains(s)
            });
            let Some(drawn) = drawn else {
                return Err(Refusal::InsufficientResources);
            };
            taken.push(drawn);
            *spi = drawn;
        }
        let (Ok(mn_to_ha), Ok(ha_to_mn)) = (esp::Spi::new(spis[0]), esp::Spi::new(spis[1])) else {
            return Err(Refusal::InsufficientResources);
        };
        let mut secret = [0u8; 32];
        self.rng.fill_bytes(&mut secret);
        let hoa = self.mns[index].home_address;
        Ok(Dynamic::derive(
            number,
            Secret32::new(secret),
            &hoa,
            SpiPair { mn_to_ha, ha_to_mn },
            self.config.suite,
            self.config.replay_window.clone(),
        ))
    }

    /// Moves the binding; returns the lifetime granted (0 for a deregistration).
    fn apply_binding(
        &mut self,
        now: Time,
        index: MnIndex,
        request: &ReceivedBu,
        action: BindingAction,
    ) -> u32 {
        match action {
            BindingAction::Deregister => {
                self.remove_binding(index, RemovalCause::Deregistered);
                0
            }
            BindingAction::Register {
                care_of_address,
                lifetime_secs,
            } => {
                let mn = &mut self.mns[index];
                let expires_at = now + core::time::Duration::from_secs(lifetime_secs.into());
                let binding = BindingView {
                    care_of_address,
                    sequence: request.update.sequence,
                    lifetime_secs,
                    expires_at,
                };
                let previous = mn.binding.replace(binding);
                // A refresh or a move may lag (`Event::PersistLagging`); a first
                // binding may not: lost in a crash, it would leave no binding to send
                // a Binding Refresh Request to, and the node would wait out its
                // lifetime believing itself registered.
                if previous.is_some() {
                    mn.binding_changed();
                } else {
                    mn.changed();
                }
                let home_address = mn.home_address;
                self.schedule(index);
                self.on_binding_set(index, request.update.flags, previous.is_none());
                if previous.is_none_or(|p| p.care_of_address != care_of_address) {
                    self.events.push_back(Event::Route(RouteChange::Install {
                        home_address,
                        care_of_address,
                    }));
                }
                let change = if previous.is_some() {
                    BindingChange::Updated(binding)
                } else {
                    BindingChange::Added(binding)
                };
                self.events.push_back(Event::Binding {
                    home_address,
                    change,
                });
                lifetime_secs
            }
        }
    }

    /// Acts on the keys and sends the BA (status 0) of an accepted BU.
    fn answer(
        &mut self,
        now: Time,
        index: MnIndex,
        request: &ReceivedBu,
        granted: u32,
        action: KeyAction,
    ) {
        let lifetime_units = lifetime_secs_to_units(granted);
        let ack = BindingAckRepr {
            status: BaStatus::Accepted,
            flags: BaFlags::empty(),
            sequence: request.update.sequence,
            lifetime: lifetime_units,
        };
        // RFC 6275 §10.3.1: advise an earlier refresh only when the binding cache
        // would not survive a restart.
        let volatile = self.config.binding_cache == BindingCacheStorage::Volatile;
        let refresh = (volatile && granted > 0).then(|| {
            let secs = u64::from(granted) * u64::from(self.config.refresh_percent) / 100;
            lifetime_secs_to_units(u32::try_from(secs).unwrap_or(u32::MAX)).max(1)
        });
        let echo = request
            .init_timestamp()
            .map(|timestamp| KeyOption::KeyInitialization { timestamp });
        let interval = self.config.key_update_interval;
        let hoa = self.mns[index].home_address;
        match action {
            KeyAction::Initialize(generation) => {
                let distribution = self.distribution(&generation);
                let number = distribution_number(&distribution);
                let mn = &mut self.mns[index];
                let new_spi = generation.keys.spis().mn_to_ha.get();
                let stamp = InstallStamps::stamp(self.started, now);
                match mn.keys.initialize(generation, stamp) {
                    Ok(dropped) => {
                        for spi in dropped {
                            self.by_spi.remove(spi);
                        }
                    }
                    Err(e) => {
                        tracing::error!(%hoa, error = %e, "initialization refused by the key table");
                        return;
                    }
                }
                self.by_spi.insert(new_spi, index);
                if let Some(ts) = request.init_timestamp() {
                    mn.keys.last_init_timestamp = core::num::NonZeroU64::new(ts);
                }
                mn.changed();
                // The init key seals the initialization exchange and nothing more
                // (issue 12, item 9): an update is due at once, so the node's next
                // BU under generation 1 moves the HA's transmit key off init.
                if self.config.rekey_after_initialization {
                    mn.keys.update.set(UpdateTimer::Due);
                } else {
                    self.restart_update_timer(now, index, interval);
                }
                self.counters.key_initializations += 1;
                self.key_event(hoa, DistributionKind::Initialization, number);
                let mut options = vec![distribution];
                options.extend(echo);
                self.send_ba(index, Slot::Init, request, ack, &options, refresh);
            }
            KeyAction::Update(generation) => {
                let distribution = self.distribution(&generation);
                let number = distribution_number(&distribution);
                let new_spi = generation.keys.spis().mn_to_ha.get();
                let stamp = InstallStamps::stamp(self.started, now);
                let mn = &mut self.mns[index];
                match mn.keys.install(generation, stamp) {
                    Ok(dropped) => {
                        if let Some(spi) = dropped {
                            self.by_spi.remove(spi);
                        }
                    }
                    Err(e) => {
                        tracing::error!(%hoa, error = %e, "update refused by the key table");
                        return;
                    }
                }
                self.by_spi.insert(new_spi, index);
                mn.changed();
                self.restart_update_timer(now, index, interval);
                self.counters.key_updates += 1;
                self.key_event(hoa, DistributionKind::Update, number);
                // Install N+1 first, then seal with the transmit key, now N: the key
                // the MN's BU came under (patent S217/S404/S604; the project's
                // reading of S221, docs/architecture.md "Key distribution").
                let slot = self.mns[index].keys.transmit_slot();
                self.send_ba(index, slot, request, ack, &[distribution], refresh);
            }
            KeyAction::Resend => {
                let newest = self.mns[index].keys.newest.as_ref();
                let Some(distribution) = newest.map(|g| self.distribution(g)) else {
                    return;
                };
                let number = distribution_number(&distribution);
                self.counters.key_resends += 1;
                self.key_event(hoa, DistributionKind::Resend, number);
                let slot = self.mns[index].keys.transmit_slot();
                self.send_ba(index, slot, request, ack, &[distribution], refresh);
            }
            KeyAction::Nothing => {
                let slot = self.mns[index].keys.transmit_slot();
                let options: Vec<KeyOption> = echo.into_iter().collect();
                self.send_ba(index, slot, request, ack, &options, refresh);
            }
        }
    }

    /// Asks every mobile node with a live binding whose newest generation was restored
    /// (its replay state unknown: data under it is dropped) for a Binding Update at
    /// once, with a Binding Refresh Request (RFC 6275 §9.5.5 allows one at any time),
    /// instead of waiting for its next data packet to ask: what a home agent that
    /// takes over from the other one of a pair does (issue 13), so nodes that are
    /// quiet get their fresh generation too. At most one request a second per node as
    /// always; the count of requests queued.
    pub fn request_refresh_restored(&mut self, now: Time) -> usize {
        let before = self.counters.brr_sent;
        let count = MnIndex::try_from(self.mns.len()).unwrap_or(MnIndex::MAX);
        for index in 0..count {
            let keys = &self.mns[index].keys;
            let restored = keys.newest.is_some()
                && keys.replay_knowledge(Slot::Newest)
                    == crate::mobile_node::ReplayKnowledge::LostAtRestart;
            if restored {
                self.request_refresh(now, index);
            }
        }
        usize::try_from(self.counters.brr_sent - before).unwrap_or(usize::MAX)
    }

    /// Asks MN `index` for a Binding Update with a Binding Refresh Request (RFC 6275
    /// §6.1.2, §11.7.4), at most once a second: sent when data arrives under a
    /// generation restored after a restart, so the node's BU (under that generation,
    /// taken: BUs are replay-safe) gets it a fresh one at once (the update is due
    /// since the restore) instead of at its next refresh.
    pub(crate) fn request_refresh(&mut self, now: Time, index: MnIndex) {
        let stamp = InstallStamps::stamp(self.started, now).max(1);
        let mn = &self.mns[index];
        let Some(binding) = mn.binding.filter(|b| b.expires_at > now) else {
            return;
        };
        if mn.refresh_requested != 0 && stamp.saturating_sub(mn.refresh_requested) < 10 {
            return;
        }
        let block = self.config.sequence_block;
        let iv_prefix = self.iv_prefix;
        let frame = BindingRefreshRequestFrame::new(self.config.address, binding.care_of_address);
        let mut buf = vec![0u8; frame.buffer_len()];
        let mn = &mut self.mns[index];
        mn.refresh_requested = stamp;
        let slot = mn.keys.transmit_slot();
        if mn.keys.reserve(slot, block) {
            mn.changed();
        }
        let Some(keys) = mn.keys.get_mut(slot) else {
            return;
        };
        let spi = keys.spis().ha_to_mn.get();
        match keys.with_outbound::<A, _>(iv_prefix, |sa| frame.seal(sa, &mut buf)) {
            Some(Ok(n)) => {
                buf.truncate(n);
                self.counters.brr_sent += 1;
                tracing::debug!(hoa = %self.mns[index].home_address, "binding refresh requested");
                self.transmits.push_back(Transmit {
                    destination: binding.care_of_address,
                    frame: buf,
                    spi: Some(spi),
                });
            }
            _ => self.counters.drop(DropReason::SealFailed),
        }
    }

    fn restart_update_timer(&mut self, now: Time, index: MnIndex, interval: core::time::Duration) {
        let at = now + interval;
        self.mns[index].keys.update.set(UpdateTimer::Running(at));
        self.schedule(index);
    }

    fn key_event(&mut self, home_address: Ipv6Addr, kind: DistributionKind, generation: u32) {
        tracing::debug!(hoa = %home_address, %kind, generation, "keys");
        self.events.push_back(Event::Keys(KeyChange {
            home_address,
            kind,
            generation,
        }));
    }

    /// The Key Distribution option for a generation (docs/architecture.md sub-type 4).
    fn distribution(&self, g: &Dynamic) -> KeyOption {
        let generation = match g.keys.id() {
            GenerationId::Number(n) => n,
            GenerationId::Init => 0,
        };
        KeyOption::KeyDistribution(KeyDistribution {
            generation,
            spi_mn_to_ha: g.keys.spis().mn_to_ha.get(),
            spi_ha_to_mn: g.keys.spis().ha_to_mn.get(),
            suite: g.suite(),
            lifetime_secs: u32::try_from(self.config.key_update_interval.as_secs())
                .unwrap_or(u32::MAX),
            secret: g.secret.clone(),
        })
    }

    /// Answers a refused BU with the refusal's status (RFC 6275 §10.3.1): sealed with
    /// init if the BU came under init, else with the transmit key; 135 carries the
    /// binding's sequence number.
    fn refuse(&mut self, index: MnIndex, request: &ReceivedBu, refusal: Refusal) {
        self.counters.refuse(refusal);
        // A refused BU moves no binding, yet its ESP sequence number must reach the
        // persisted replay top as every BU's does (crate::persist): else a home agent
        // restarted from its records takes a replay of it again (a deregistration
        // refused with 133, replayed after a restart, was answered a second time).
        self.mns[index].changed();
        let mn = &self.mns[index];
        let notice = self.notices.entry(mn.home_address).or_default();
        notice.refusals += 1;
        notice.last_refusal = Some(refusal);
        tracing::debug!(hoa = %mn.home_address, %refusal, "BU refused");
        let sequence = match (refusal, mn.binding) {
            (Refusal::SequenceOutOfWindow, Some(b)) => b.sequence,
            _ => request.update.sequence,
        };
        let ack = BindingAckRepr {
            status: refusal.status(),
            flags: BaFlags::empty(),
            sequence,
            lifetime: 0,
        };
        let slot = if request.slot == Slot::Init {
            Slot::Init
        } else {
            mn.keys.transmit_slot()
        };
        let echo: Vec<KeyOption> = request
            .init_timestamp()
            .map(|timestamp| KeyOption::KeyInitialization { timestamp })
            .into_iter()
            .collect();
        self.send_ba(index, slot, request, ack, &echo, None);
    }

    /// Builds and seals the BA answering `request` with the key in `slot`, reserving
    /// sequence numbers first, and queues it: to the Alternate CoA (else the IPv6
    /// source), for the home address the BU named.
    fn send_ba(
        &mut self,
        index: MnIndex,
        slot: Slot,
        request: &ReceivedBu,
        ack: BindingAckRepr,
        keys: &[KeyOption],
        refresh: Option<u16>,
    ) {
        let vendor = self.config.vendor_id;
        let to = request.reply_to(&self.config.address);
        let home_address = request.home_address();
        let bodies: Vec<_> = keys.iter().map(KeyOption::encode).collect();
        let mut options: Vec<MobilityOption<'_>> =
            bodies.iter().map(|b| b.to_option(vendor)).collect();
        if let Some(refresh_interval) = refresh {
            options.push(MobilityOption::BindingRefreshAdvice { refresh_interval });
        }
        let block = self.config.sequence_block;
        let ha = self.config.address;
        let iv_prefix = self.iv_prefix;
        let mn = &mut self.mns[index];
        // The home address the BU named (RFC 6275 §9.5.4): the RH2 that takes the BA
        // to it, and the MH checksum's destination.
        let frame = BindingAckFrame::new(ha, to, home_address, ack, &options);
        let len = match frame.buffer_len() {
            Ok(len) => len,
            Err(e) => {
                tracing::error!(error = %e, "BA could not be laid out");
                self.counters.drop(DropReason::SealFailed);
                return;
            }
        };
        if mn.keys.reserve(slot, block) {
            mn.changed();
        }
        let mut buf = vec![0u8; len];
        let Some(keys) = mn.keys.get_mut(slot) else {
            return;
        };
        let spi = keys.spis().ha_to_mn.get();
        let Some(sealed) = keys.with_outbound::<A, _>(iv_prefix, |sa| frame.seal(sa, &mut buf))
        else {
            self.counters.drop(DropReason::SealFailed);
            return;
        };
        match sealed {
            Ok(n) => {
                buf.truncate(n);
                self.counters.ba_sent += 1;
                self.transmits.push_back(Transmit {
                    destination: to,
                    frame: buf,
                    spi: Some(spi),
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "BA could not be sealed");
                self.counters.drop(DropReason::SealFailed);
            }
        }
    }
}

fn distribution_number(option: &KeyOption) -> u32 {
    match option {
        KeyOption::KeyDistribution(d) => d.generation,
        _ => 0,
    }
}

/// Reads what the BU asks for from its header chain and mobility options.
fn read_request(
    slot: Slot,
    esp_seq: u32,
    chain: &Chain,
    update: BindingUpdateRepr,
    options: OptionListIter<'_>,
    vendor_id: u32,
) -> ReceivedBu {
    let mut request = ReceivedBu {
        slot,
        esp_seq,
        source: chain.ipv6.src_addr,
        home_address_option: chain.home_address,
        update,
        alt_coa: None,
        key: None,
        key_malformed: false,
        nonce_indices: false,
    };
    // After a successful parse the iterator yields no error; stop at one anyway.
    for option in options.map_while(Result::ok) {
        match option {
            MobilityOption::AlternateCareOfAddress(a) if request.alt_coa.is_none() => {
                request.alt_coa = Some(a);
            }
            MobilityOption::NonceIndices { .. } => request.nonce_indices = true,
            MobilityOption::VendorSpecific(_) => match KeyOption::from_option(&option, vendor_id) {
                Ok(Some(k)) if request.key.is_none() => request.key = Some(k),
                Ok(_) => {}
                Err(_) => request.key_malformed = true,
            },
            _ => {}
        }
    }
    request
}
