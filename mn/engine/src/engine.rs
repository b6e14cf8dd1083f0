//! The [`MobileNode`] engine: home registration (RFC 6275 §11.7.1, §11.7.3, §11.8),
//! keys (docs/key-protocol.md), the reverse tunnel (RFC 6275 §11.3.1) — sans IO.

use core::net::Ipv6Addr;
use core::time::Duration;
use std::collections::VecDeque;

use mip6_wire::esp::{AesGcmAead, EspAead};
use mip6_wire::frames::inbound::classify;
use mip6_wire::frames::{inspect, BindingUpdateFrame, FrameError, Payload};
use mip6_wire::keys::{DistributionKind, RequestMode};
use mip6_wire::mh::{
    lifetime_secs_to_units, BaStatus, BindingAckRepr, BindingUpdateRepr, BuFlags, KeyBody,
    KeyOption, Message, MobilityOption, SequenceNumber,
};
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::ack::{self, BaOptions};
use crate::config::{MnConfig, BU_SEQUENCE_BLOCK};
use crate::counters::{Counters, DropReason};
use crate::event::{Event, Received, Transmit};
use crate::keys::{Installed, KeyView, NodeKeys, UpdateTimer};
use crate::persist::MnRecord;
use crate::registration::{
    AwaitingBindingAck, KeyRequest, Registered, Registration, RegistrationView, Target,
};

/// A sans-IO Mobile IPv6 mobile node for one home agent (RFC 6275 §11), with the
/// two-generation key protocol of docs/key-protocol.md.
///
/// See the crate documentation for the driver contract. `A` is the ESP AEAD (RFC
/// 4106): AES-GCM by default; `mip6_wire::esp::NullAead` (feature `null-aead`) in the
/// engine fuzz target, so the fuzzer reaches the key logic behind the ICV.
#[derive(Debug)]
pub struct MobileNode<A: EspAead = AesGcmAead> {
    pub(crate) config: MnConfig,
    pub(crate) keys: NodeKeys<A>,
    pub(crate) registration: Registration,
    /// Sequence number of the next BU.
    next_seq: SequenceNumber,
    last_seq: Option<SequenceNumber>,
    /// First BU sequence number not covered by the last persisted record.
    bu_mark: SequenceNumber,
    /// Last Key Initialization timestamp sent (timestamps strictly increase).
    last_timestamp: u64,
    transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) counters: Counters,
    /// Restored from a record and not yet registered or at home since: the home agent
    /// may hold a binding this run knows nothing of (the last run's).
    binding_unknown: bool,
}

/// Retransmission bookkeeping carried from one transmission of a BU to the next.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    timeout: Duration,
    retries: u32,
    key_resends: u32,
}

impl MobileNode {
    /// A mobile node started at `now`: [`MobileNode::with_cipher`] with the default
    /// AES-GCM.
    pub fn new<R: RngCore + CryptoRng>(
        config: MnConfig,
        rng: &mut R,
        now: Time,
        restored: Option<MnRecord>,
    ) -> Self {
        Self::with_cipher(config, rng, now, restored)
    }
}

impl<A: EspAead> MobileNode<A> {
    /// A mobile node started at `now`. With `restored`, the record of a previous run
    /// (see [`crate::persist`]): by default ([`crate::RestorePolicy::Reinitialize`])
    /// only the outbound sequence marks and the BU sequence number are taken back, and
    /// the node starts from the init key (patent (1), (2): a restart is a
    /// re-initialization). Without a record the first BU sequence number is drawn
    /// from `rng`; so is, always, the prefix of every explicit IV the node writes.
    ///
    /// Nothing is sent until [`set_care_of_address`](Self::set_care_of_address).
    pub fn with_cipher<R: RngCore + CryptoRng>(
        config: MnConfig,
        rng: &mut R,
        now: Time,
        restored: Option<MnRecord>,
    ) -> Self {
        let next_seq = match &restored {
            Some(r) => r.bu_sequence_mark,
            None => SequenceNumber(rng.next_u32() as u16),
        };
        // The upper half of every IV this run writes (mip6-wire `esp::sa` "IVs"): a
        // sequence number used again after a lost record is still a new nonce.
        let keys = NodeKeys::new(&config, restored.as_ref(), now, rng.next_u32());
        let mut node = MobileNode {
            config,
            keys,
            registration: Registration::Unregistered,
            next_seq,
            last_seq: None,
            bu_mark: next_seq,
            last_timestamp: now.to_ntp().saturating_sub(1),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            binding_unknown: restored.is_some(),
        };
        if node.keys.has_dynamic() {
            node.schedule_update(now);
        }
        node
    }

    /// Tells the node where it is (RFC 6275 §11.5.1 movement detection is the
    /// driver's): a new care-of address makes a Binding Update go at once (it is in
    /// [`poll_transmit`](Self::poll_transmit) when this returns). `None`, or the home
    /// address, means "at home": a deregistration BU (lifetime 0, care-of address =
    /// home address, RFC 6275 §11.5.4) if there may be a binding; none right after a
    /// start, when the node knows of no binding it made.
    pub fn set_care_of_address(&mut self, now: Time, coa: Option<Ipv6Addr>) {
        let target = match coa {
            Some(c) if c != self.config.home_address => Target::CareOf(c),
            _ => Target::Home,
        };
        let binding_unknown = core::mem::take(&mut self.binding_unknown);
        match (&self.registration, target) {
            (Registration::AwaitingAck(a), t) if a.target == t => {}
            (Registration::Registered(r), Target::CareOf(c)) if r.coa == c => {}
            (Registration::Unregistered, Target::Home) if binding_unknown => {
                self.send_fresh(now, Target::Home);
            }
            (Registration::Unregistered | Registration::AtHome, Target::Home) => {
                self.registration = Registration::AtHome;
            }
            (_, t) => self.send_fresh(now, t),
        }
    }

    /// Whether the home agent may hold a binding this run knows nothing of: restored
    /// from a record and told nothing of where it is yet ([`Self::set_care_of_address`]
    /// then deregisters at home).
    pub fn binding_unknown(&self) -> bool {
        self.binding_unknown
    }

    /// Handles a frame received from the network (decrypted in place): a BA, a
    /// Binding Refresh Request, or a tunnelled packet for the home address.
    pub fn handle(&mut self, now: Time, frame: &mut [u8]) -> Received {
        match self.handle_inner(now, frame) {
            Ok(r) => r,
            Err(reason) => {
                tracing::debug!(%reason, "frame dropped");
                self.counters.drop(reason);
                Received::Dropped(reason)
            }
        }
    }

    fn handle_inner(&mut self, now: Time, frame: &mut [u8]) -> Result<Received, DropReason> {
        let drop_for = |e: FrameError| DropReason::from_frame_error(&e);
        let esp_frame = inspect(frame).map_err(drop_for)?;
        if esp_frame.chain.ipv6.src_addr != self.config.home_agent {
            return Err(DropReason::WrongSource);
        }
        let esp_area = frame
            .get_mut(esp_frame.esp.clone())
            .ok_or(DropReason::Malformed)?;
        let spi = esp_frame.spi;
        let seq = mip6_wire::esp::Packet::new_checked(&*esp_area)
            .map_err(|e| drop_for(FrameError::Esp(e)))?
            .sequence_number();
        // A frame under init that the window calls old, while an initialization is
        // outstanding: the HA may have lost its state and restarted the init SA's
        // sequence numbers. It is opened outside the window and taken only as the BA
        // that echoes this node's fresh timestamp (explicit mode), which no old frame
        // can (issue 12: without this the node could not initialize again until the
        // restarted HA's numbers passed its window).
        let mut proven_by_echo = None;
        let opened = match self.keys.open_inbound(esp_area) {
            Ok((_slot, opened)) => opened,
            Err(
                e @ (mip6_wire::esp::Error::Replayed { .. } | mip6_wire::esp::Error::TooOld { .. }),
            ) => {
                let outstanding = self.outstanding_init_timestamp();
                let init = self.keys.table_mut().init().inbound();
                match outstanding {
                    Some(ts) if spi == init.spi().get() => {
                        let opened = init
                            .open_outside_window(esp_area)
                            .map_err(|e| drop_for(FrameError::Esp(e)))?;
                        proven_by_echo = Some(ts);
                        opened
                    }
                    _ => return Err(drop_for(FrameError::Esp(e))),
                }
            }
            Err(e) => return Err(drop_for(FrameError::Esp(e))),
        };
        let frame: &[u8] = frame;
        match classify(frame, &esp_frame, &opened).map_err(drop_for)? {
            Payload::Signalling(mh) => {
                match mh.message {
                    Message::BindingAck(ack) => {
                        // Away: routed to the home address through a type 2 routing
                        // header; at home: sent to the home address itself (RFC 6275
                        // §6.1.8, §11.5.4).
                        let hoa = self.config.home_address;
                        let to_home = match esp_frame.chain.rh2 {
                            Some(a) => a == hoa,
                            None => esp_frame.chain.ipv6.dst_addr == hoa,
                        };
                        if !to_home {
                            return Err(DropReason::WrongHomeAddress);
                        }
                        let options = ack::parse(&mh, self.config.vendor_id)?;
                        if let Some(ts) = proven_by_echo {
                            if options.init_echo != Some(ts) {
                                return Err(DropReason::Replayed);
                            }
                        }
                        self.on_ack(now, ack, options)?;
                        if proven_by_echo.is_some() {
                            // Opened outside the window: counted once it proved fresh.
                            self.keys.count_opened(mip6_wire::keys::Slot::Init);
                            self.counters.init_window_restarts += 1;
                            tracing::info!(seq, "the home agent restarted its init sequence numbers: window restarted");
                            if let Some(init) =
                                self.keys.table_mut().get_mut(mip6_wire::keys::Slot::Init)
                            {
                                init.inbound_mut().restart_window_at(seq);
                            }
                        }
                        Ok(Received::Consumed { spi: Some(spi) })
                    }
                    Message::BindingRefreshRequest => {
                        // RFC 6275 §11.7.4: answer with a BU for the binding.
                        self.counters.brr_received += 1;
                        if let Registration::Registered(r) = self.registration {
                            self.send_fresh(now, Target::CareOf(r.coa));
                        }
                        Ok(Received::Consumed { spi: Some(spi) })
                    }
                    _ if proven_by_echo.is_some() => Err(DropReason::Replayed),
                    _ => Err(DropReason::UnexpectedMessage),
                }
            }
            _ if proven_by_echo.is_some() => Err(DropReason::Replayed),
            Payload::Tunnelled { header, packet } => {
                if header.dst_addr != self.config.home_address {
                    return Err(DropReason::WrongInnerDestination);
                }
                self.counters.data_delivered += 1;
                Ok(Received::Delivered { inner: packet, spi })
            }
            Payload::Dummy => {
                self.counters.dummies += 1;
                Ok(Received::Consumed { spi: Some(spi) })
            }
            Payload::Other { .. } => Err(DropReason::UnexpectedPayload),
        }
    }

    /// The timestamp of the Key Initialization Request awaiting its BA, if any.
    fn outstanding_init_timestamp(&self) -> Option<u64> {
        match &self.registration {
            Registration::AwaitingAck(a) => match a.request {
                KeyRequest::Initialization {
                    timestamp: Some(ts),
                } => Some(ts),
                _ => None,
            },
            _ => None,
        }
    }

    /// Acts on the deadlines that have passed at `now`: retransmission (RFC 6275
    /// §11.8), binding refresh (§11.7.1) and the key-update timer (patent (3)).
    pub fn handle_timeout(&mut self, now: Time) {
        if let UpdateTimer::At(t) = self.keys.update {
            if now >= t {
                self.keys.update = UpdateTimer::Due;
            }
        }
        match &self.registration {
            Registration::AwaitingAck(a) if now >= a.retransmit_at => {
                let a = a.clone();
                self.retransmit(now, &a);
            }
            Registration::Registered(r)
                if now >= r.refresh_at || self.keys.update == UpdateTimer::Due =>
            {
                let coa = r.coa;
                self.send_fresh(now, Target::CareOf(coa));
            }
            _ => {}
        }
    }

    /// The next signalling frame to send. Drain [`poll_event`](Self::poll_event)
    /// (and persist) first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        let update = match self.keys.update {
            UpdateTimer::At(t) => Some(t),
            _ => None,
        };
        match (self.registration.deadline(), update) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What the engine counted.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Which key the node transmits with and which it accepts.
    pub fn keys(&self) -> KeyView {
        self.keys.view()
    }

    /// The registration state.
    pub fn registration(&self) -> RegistrationView {
        RegistrationView {
            state: self.registration.clone(),
            care_of_address: self.registration.care_of_address(),
            last_sequence: self.last_seq,
        }
    }

    /// Changes the binding lifetime asked for (RFC 6275 §6.1.7) and the key update
    /// interval (patent (3)) of a running node (issue 11, item 5: the daemon's
    /// SIGHUP). Both apply from the next Binding Update and the next key installed;
    /// the running registration and key update timer keep their deadlines.
    pub fn set_timers(
        &mut self,
        requested_lifetime: Duration,
        key_update_interval: Option<Duration>,
    ) {
        self.config.requested_lifetime = requested_lifetime;
        self.config.key_update_interval = key_update_interval;
    }

    /// The record a `Persist` event would carry now.
    pub fn record(&self) -> MnRecord {
        self.keys.record(self.bu_mark)
    }

    pub(crate) fn emit_persist(&mut self) {
        self.counters.persists += 1;
        let record = self.record();
        self.events.push_back(Event::Persist(record));
    }

    fn schedule_update(&mut self, now: Time) {
        self.keys.update = match (self.config.request_mode, self.config.key_update_interval) {
            (RequestMode::Explicit, Some(interval)) => UpdateTimer::At(now + interval),
            _ => UpdateTimer::Off,
        };
    }

    /// The request of an initialization BU: explicit mode carries a fresh timestamp,
    /// strictly above the last one sent.
    fn init_request(&mut self, now: Time) -> KeyRequest {
        let timestamp = match self.config.request_mode {
            RequestMode::Explicit => {
                let ts = now.to_ntp().max(self.last_timestamp.saturating_add(1));
                self.last_timestamp = ts;
                Some(ts)
            }
            RequestMode::Implicit => None,
        };
        KeyRequest::Initialization { timestamp }
    }

    /// The request of a new BU (not a retransmission): an initialization without
    /// dynamic keys; a Key Update Request when the update timer is due (explicit).
    fn fresh_request(&mut self, now: Time) -> KeyRequest {
        if !self.keys.has_dynamic() {
            return self.init_request(now);
        }
        let due = match self.keys.update {
            UpdateTimer::Due | UpdateTimer::Requested => true,
            UpdateTimer::At(t) => now >= t,
            UpdateTimer::Off => false,
        };
        if !due {
            return KeyRequest::Plain;
        }
        self.keys.update = UpdateTimer::Requested;
        match self.config.request_mode {
            RequestMode::Explicit => KeyRequest::KeyUpdate,
            // No option to ask with: a BU under newest is the request, the HA's
            // timer (due right after an initialization) grants it.
            RequestMode::Implicit => KeyRequest::Plain,
        }
    }

    /// The same request again (after a 135 or a refusal): an initialization gets a
    /// fresh timestamp, and without dynamic keys every BU is one.
    fn repeat_request(&mut self, now: Time, previous: KeyRequest) -> KeyRequest {
        match previous {
            _ if !self.keys.has_dynamic() => self.init_request(now),
            KeyRequest::Initialization { .. } => self.init_request(now),
            other => other,
        }
    }

    /// A new Binding Update for `target`, retransmission timer restarted
    /// (RFC 6275 §11.8). Unanswered key resends of an outstanding BU carry over.
    fn send_fresh(&mut self, now: Time, target: Target) {
        let key_resends = match &self.registration {
            Registration::AwaitingAck(a) => a.key_resends,
            _ => 0,
        };
        let request = self.fresh_request(now);
        let attempt = Attempt {
            timeout: self.config.retransmit.initial,
            retries: 0,
            key_resends,
        };
        self.transmit_bu(now, target, request, attempt);
    }

    /// No BA in time (RFC 6275 §11.8; docs/key-protocol.md "Mobile node"): the BU
    /// goes again with a new sequence number and a doubled timeout. Under dynamic
    /// keys it is a key resend (explicit: Key Resending Request; implicit: plain
    /// under newest) until `max_key_resends` is reached; then the dynamic keys are
    /// dropped and an initialization goes under init (patent (5), (11)).
    fn retransmit(&mut self, now: Time, a: &AwaitingBindingAck) {
        let timeout = self.config.retransmit.next(a.timeout);
        let (request, key_resends) = if a.refused.is_some() {
            (self.repeat_request(now, a.request), 0)
        } else if self.keys.has_dynamic() {
            if a.key_resends >= self.config.max_key_resends {
                tracing::debug!(
                    resends = a.key_resends,
                    "no BA under dynamic keys: dropping them, initializing"
                );
                self.keys.drop_dynamic(now);
                self.counters.keys_dropped += 1;
                self.events.push_back(Event::KeysDropped);
                self.emit_persist();
                (self.init_request(now), 0)
            } else {
                let request = match self.config.request_mode {
                    RequestMode::Explicit => KeyRequest::KeyResending,
                    RequestMode::Implicit => KeyRequest::Plain,
                };
                (request, a.key_resends + 1)
            }
        } else {
            (self.init_request(now), 0)
        };
        self.counters.bu_retransmitted += 1;
        let attempt = Attempt {
            timeout,
            retries: a.retries + 1,
            key_resends,
        };
        self.transmit_bu(now, a.target, request, attempt);
    }

    /// Takes the next BU sequence number, raising the persisted mark when it is
    /// reached; returns the number and whether the mark moved.
    fn take_seq(&mut self) -> (SequenceNumber, bool) {
        let seq = self.next_seq;
        self.next_seq = seq.next();
        self.last_seq = Some(seq);
        let reached = seq == self.bu_mark || seq.is_newer_than(self.bu_mark);
        if reached {
            self.bu_mark = seq.wrapping_add(BU_SEQUENCE_BLOCK);
        }
        (seq, reached)
    }

    /// Builds, seals and queues a BU; the registration awaits its BA.
    fn transmit_bu(&mut self, now: Time, target: Target, request: KeyRequest, attempt: Attempt) {
        let (seq, mut persist) = self.take_seq();
        let (coa, lifetime) = match target {
            Target::CareOf(coa) => (
                coa,
                lifetime_secs_to_units(
                    u32::try_from(self.config.requested_lifetime.as_secs()).unwrap_or(u32::MAX),
                ),
            ),
            Target::Home => (self.config.home_address, 0),
        };
        let key_option = match request {
            KeyRequest::Initialization {
                timestamp: Some(timestamp),
            } => Some(KeyOption::KeyInitialization { timestamp }),
            KeyRequest::KeyUpdate => Some(KeyOption::KeyUpdateRequest),
            KeyRequest::KeyResending => Some(KeyOption::KeyResendingRequest),
            KeyRequest::Initialization { timestamp: None } | KeyRequest::Plain => None,
        };
        let body: Option<KeyBody> = key_option.as_ref().map(KeyOption::encode);
        let option_storage: [MobilityOption<'_>; 1];
        let options: &[MobilityOption<'_>] = match &body {
            Some(b) => {
                option_storage = [b.to_option(self.config.vendor_id)];
                &option_storage
            }
            None => &[],
        };
        let update = BindingUpdateRepr {
            sequence: seq,
            flags: BuFlags::A | BuFlags::H,
            lifetime,
        };
        let frame = BindingUpdateFrame::new(
            coa,
            self.config.home_agent,
            self.config.home_address,
            update,
            options,
        );
        persist |= self.keys.reserve_transmit(self.config.sequence_block);
        if persist {
            self.emit_persist();
        }
        let sealed = frame.buffer_len().and_then(|len| {
            let mut buf = vec![0; len];
            self.keys
                .with_transmit_sa(|sa| {
                    let spi = sa.spi().get();
                    frame.seal(sa, &mut buf).map(|_| spi)
                })
                .map(|spi| (buf, spi))
        });
        match sealed {
            Ok((buf, spi)) => {
                self.counters.bu_sent += 1;
                tracing::debug!(%seq, ?request, ?target, "BU sent");
                self.transmits.push_back(Transmit {
                    destination: self.config.home_agent,
                    frame: buf,
                    spi: Some(spi),
                });
            }
            // Only an exhausted transmit SA gets here; the retransmission timer runs
            // on, and unanswered resends end in a re-initialization.
            Err(error) => tracing::warn!(%error, %seq, "BU could not be sealed"),
        }
        self.registration = Registration::AwaitingAck(AwaitingBindingAck {
            target,
            seq,
            request,
            sent_at: now,
            timeout: attempt.timeout,
            retransmit_at: now + attempt.timeout,
            retries: attempt.retries,
            key_resends: attempt.key_resends,
            refused: None,
        });
    }

    /// A BA opened under an accepted key (RFC 6275 §11.7.3; docs/key-protocol.md).
    fn on_ack(
        &mut self,
        now: Time,
        ack: BindingAckRepr,
        options: BaOptions,
    ) -> Result<(), DropReason> {
        let Registration::AwaitingAck(a) = &self.registration else {
            return Err(DropReason::NoOutstandingUpdate);
        };
        let a = a.clone();
        if ack.status == BaStatus::SequenceNumberOutOfWindow {
            // §11.7.3: take the HA's last accepted number and resend at once.
            self.counters.ba_refused += 1;
            tracing::debug!(ha_seq = %ack.sequence, "BA 135: resynchronizing");
            self.next_seq = ack.sequence.next();
            let request = self.repeat_request(now, a.request);
            let attempt = Attempt {
                timeout: a.timeout,
                retries: a.retries,
                key_resends: a.key_resends,
            };
            self.transmit_bu(now, a.target, request, attempt);
            return Ok(());
        }
        if ack.sequence != a.seq {
            return Err(DropReason::SequenceMismatch);
        }
        if let KeyRequest::Initialization {
            timestamp: Some(ts),
        } = a.request
        {
            // The answer must echo the timestamp; a refusal may come without one.
            let echoed = match options.init_echo {
                Some(echo) => echo == ts,
                None => !ack.status.is_accepted(),
            };
            if !echoed {
                return Err(DropReason::InitEchoMismatch);
            }
        }
        if !ack.status.is_accepted() {
            self.on_refusal(now, ack.status, a);
            return Ok(());
        }
        let installed = match &options.distribution {
            Some(kd) => self.keys.install(
                &self.config.home_address,
                kd,
                a.request == KeyRequest::KeyResending,
                now,
            )?,
            None => Installed::Ignored,
        };
        self.counters.ba_accepted += 1;
        match (installed, &options.distribution) {
            (Installed::New { generation, kind }, _) => {
                self.counters.keys_installed += 1;
                tracing::debug!(generation, ?kind, "keys installed");
                if kind == DistributionKind::Initialization
                    && self.config.rekey_after_initialization
                {
                    // The init key seals the initialization exchange and nothing
                    // more (issue 12, item 9): ask for generation 2 at once, so the
                    // HA stops transmitting with init (it holds no anterior yet).
                    self.keys.update = UpdateTimer::Due;
                } else {
                    self.schedule_update(now);
                }
                self.events
                    .push_back(Event::KeysInstalled { generation, kind });
                self.emit_persist();
            }
            (Installed::Ignored, Some(kd)) => {
                self.counters.keys_ignored += 1;
                tracing::debug!(
                    generation = kd.generation,
                    "Key Distribution not newer: ignored"
                );
            }
            (Installed::Ignored, None) => {}
        }
        if self.keys.update == UpdateTimer::Requested {
            // The update was not granted: ask again later, not in a loop (implicit
            // mode has no timer of its own: the HA's decides).
            self.keys.update = match self.config.request_mode {
                RequestMode::Explicit => UpdateTimer::At(now + self.config.retransmit.max),
                RequestMode::Implicit => UpdateTimer::Off,
            };
        }
        match a.target {
            Target::CareOf(coa) => {
                let lifetime = Duration::from_secs(u64::from(ack.lifetime_secs()));
                let mut refresh_after =
                    lifetime.saturating_mul(self.config.refresh_percent.min(100)) / 100;
                if let Some(advice) = options.refresh_advice {
                    refresh_after = refresh_after.min(advice);
                }
                let refresh_after = refresh_after.max(self.config.retransmit.initial);
                self.registration = Registration::Registered(Registered {
                    coa,
                    seq: a.seq,
                    lifetime,
                    expires_at: a.sent_at + lifetime,
                    refresh_at: a.sent_at + refresh_after,
                });
                self.events.push_back(Event::Registered { coa, lifetime });
                if self.keys.update == UpdateTimer::Due {
                    self.send_fresh(now, Target::CareOf(coa));
                }
            }
            Target::Home => {
                self.registration = Registration::AtHome;
                self.events.push_back(Event::Deregistered);
            }
        }
        Ok(())
    }

    /// A refusal other than 135: surfaced, then retried after MAX_BINDACK_TIMEOUT —
    /// except a deregistration the HA has no binding for (133), which is done.
    fn on_refusal(&mut self, now: Time, status: BaStatus, a: AwaitingBindingAck) {
        self.counters.ba_refused += 1;
        tracing::debug!(?status, "BU refused");
        self.events.push_back(Event::Refused { status });
        if a.target == Target::Home && status == BaStatus::NotHomeAgentForThisMobileNode {
            self.registration = Registration::AtHome;
            self.events.push_back(Event::Deregistered);
            return;
        }
        let timeout = self.config.retransmit.max;
        self.registration = Registration::AwaitingAck(AwaitingBindingAck {
            timeout,
            retransmit_at: now + timeout,
            key_resends: 0,
            refused: Some(status),
            ..a
        });
    }
}

/// The shared sans-IO contract ([`mip6_wire::engine`]), so one driver shell and one
/// test stepper serve both engines. Each method is the inherent one of the same name;
/// movement ([`MobileNode::set_care_of_address`]) is the mobile node's own input.
impl<A: EspAead> mip6_wire::engine::Engine for MobileNode<A> {
    type Event = Event;
    type DropReason = DropReason;
    type DataError = crate::event::DataError;

    fn handle(&mut self, now: Time, frame: &mut [u8]) -> Received {
        MobileNode::handle(self, now, frame)
    }

    fn seal_data(
        &mut self,
        now: Time,
        buf: &mut [u8],
        inner_len: usize,
    ) -> Result<crate::event::DataFrame, Self::DataError> {
        MobileNode::seal_data(self, now, buf, inner_len)
    }

    fn handle_timeout(&mut self, now: Time) {
        MobileNode::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        MobileNode::poll_timeout(self)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        MobileNode::poll_transmit(self)
    }

    fn poll_event(&mut self) -> Option<Event> {
        MobileNode::poll_event(self)
    }
}
