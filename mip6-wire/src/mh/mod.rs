//! Mobility Header (RFC 6275 §6.1), mobility options (RFC 6275 §6.2; Vendor-Specific,
//! RFC 5094), Binding Update sequence numbers (RFC 6275 §9.5.1), the MH checksum
//! (RFC 6275 §6.1.1) and our key-management options (docs/architecture.md "Key-management
//! options").
//!
//! | module | job |
//! | --- | --- |
//! | `packet` | [`Packet`]: zero-copy view of the common header, Header Len check, checksum fill/verify |
//! | `repr` | [`Repr`] / [`Message`] / [`OptionList`]: the whole MH, parse (checksum-verifying) and emit |
//! | `mh_type` | [`MhType`] open enum |
//! | `rr`, `bu`, `ba`, `be` | message bodies: BRR, HoTI/CoTI, HoT/CoT, BU (+[`BuFlags`]), BA (+[`BaFlags`]), BE |
//! | `status` | [`BaStatus`] (every IANA name 0..=178), [`BeStatus`] |
//! | `seq` | [`SequenceNumber`], modulo-2^16 "newer than" |
//! | `checksum` | [`compute_checksum`], [`verify_checksum`] over the pseudo-header the caller picks |
//! | `option` | [`MobilityOption`], [`OptionType`], [`Alignment`], [`VendorSpecific`] |
//! | `option_iter` | [`Options`], [`OptionIter`]: zero-alloc option walk; misaligned options rejected by `validate` |
//! | `option_emit` | [`emit_options`], [`options_buffer_len`]: alignment and padding on emit |
//! | `key` | [`KeyOption`] sub-types 1–4 in a Vendor-Specific option of a configurable vendor ID |
//! | `error` | [`Error`] (MH), [`OptionError`], [`KeyError`] |
//!
//! Offsets in errors count from the first octet of the Mobility Header (key-option
//! errors: from the Vendor-Specific option's first octet); use `shifted` to re-base.
//!
//! **Panics.** Parsing never panics and never allocates, whatever the input. Emit
//! panics only on caller error (buffer shorter than `buffer_len()`, option data over
//! 255 octets, Mobility Header over 2048 octets), as smoltcp's emit does.
//!
//! Not supported: MH types above 7 beyond carrying them raw ([`Message::Unknown`]),
//! mobility options other than 0–5 and 19 beyond carrying them raw, the
//! return-routability and Binding Authorization Data cryptography (RFC 6275 §5.2), and
//! the flag bits of later RFCs beyond carrying them.

#[macro_use]
mod macros;

mod ba;
mod be;
mod bu;
pub(crate) mod checksum;
mod error;
mod key;
mod mh_type;
mod option;
mod option_emit;
mod option_iter;
mod packet;
mod repr;
mod rr;
mod seq;
mod status;

pub use ba::{BaFlags, BindingAckRepr, BA_LEN};
pub use be::{BindingErrorRepr, BE_LEN};
pub use bu::{lifetime_secs_to_units, lifetime_units_to_secs, BindingUpdateRepr, BuFlags, BU_LEN};
pub use checksum::{compute_checksum, verify_checksum, MH_NEXT_HEADER};
pub use error::{Error, KeyError, OptionError};
pub use key::{
    sub_type as key_sub_type, KeyBody, KeyDistribution, KeyOption, Suite, DEFAULT_VENDOR_ID,
    KEY_BODY_MAX,
};
pub use mh_type::MhType;
pub use option::{
    Alignment, MobilityOption, OptionType, VendorSpecific, MAX_OPTION_DATA, VSO_HEADER_LEN,
};
pub use option_emit::{emit_options, options_buffer_len};
pub use option_iter::{OptionIter, Options, WithOffsets};
pub use packet::{
    Packet, CHECKSUM_OFFSET, COMMON_HEADER_LEN, HEADER_LEN_OFFSET, IPPROTO_NONE, MAX_LEN,
};
pub use repr::{Message, OptionList, OptionListIter, Repr};
pub use rr::{TestInitRepr, TestRepr, BRR_LEN, TEST_INIT_LEN, TEST_LEN};
pub use seq::SequenceNumber;
pub use status::{BaStatus, BeStatus};
