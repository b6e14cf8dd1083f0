//! TLV-encoded options of the Hop-by-Hop and Destination Options headers
//! (RFC 8200 §4.2), and the action the two high-order bits of an option type
//! ask for when a node does not recognize the option.
//!
//! [`Options`] walks an options area without allocating and yields each
//! option, padding included, with its offset; it stops at the first option
//! that overruns the area. It interprets nothing: which options a header
//! recognizes is up to its parser ([`super::home_address`] recognizes the
//! Home Address option; [`super::chain`] recognizes none in Hop-by-Hop).
//!
//! Not supported: emitting arbitrary options (only [`super::home_address`]
//! emits, with PadN); checking that PadN content is zero (RFC 8200 §4.2 says
//! receivers ignore it).

use core::fmt;

use crate::error::{Layer, LenError};

/// An option type octet (RFC 8200 §4.2, IANA "Destination Options and
/// Hop-by-Hop Options"). Open: every `u8` is a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionType(pub u8);

impl OptionType {
    /// Pad1: a single octet of padding, no length or data (RFC 8200 §4.2).
    pub const PAD1: OptionType = OptionType(0);
    /// PadN: two or more octets of padding (RFC 8200 §4.2).
    pub const PADN: OptionType = OptionType(1);
    /// Home Address option (RFC 6275 §6.3).
    pub const HOME_ADDRESS: OptionType = OptionType(0xC9);

    /// What a node that does not recognize this option must do: the two
    /// high-order bits of the type (RFC 8200 §4.2).
    pub const fn action(self) -> UnrecognizedAction {
        match self.0 >> 6 {
            0 => UnrecognizedAction::Skip,
            1 => UnrecognizedAction::Discard,
            2 => UnrecognizedAction::DiscardSendIcmp,
            _ => UnrecognizedAction::DiscardSendIcmpUnlessMulticast,
        }
    }

    /// The third-highest bit: the option data may change en route, so AH
    /// treats it as zeros (RFC 8200 §4.2).
    pub const fn may_change_en_route(self) -> bool {
        self.0 & 0x20 != 0
    }
}

impl fmt::Debug for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PAD1 => f.write_str("Pad1"),
            Self::PADN => f.write_str("PadN"),
            Self::HOME_ADDRESS => f.write_str("HomeAddress(0xc9)"),
            OptionType(t) => write!(f, "OptionType({t:#04x})"),
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The action RFC 8200 §4.2 prescribes for an unrecognized option, from the
/// two high-order bits of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnrecognizedAction {
    /// `00`: skip the option and keep processing the header.
    Skip,
    /// `01`: discard the packet.
    Discard,
    /// `10`: discard the packet and send an ICMPv6 Parameter Problem, code 2,
    /// pointing at the option type, whatever the destination.
    DiscardSendIcmp,
    /// `11`: discard the packet and send an ICMPv6 Parameter Problem, code 2,
    /// only if the destination was not a multicast address.
    DiscardSendIcmpUnlessMulticast,
}

/// One option as found on the wire (RFC 8200 §4.2), padding included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Offset of the Option Type octet, relative to the start of the
    /// extension header that holds the options area.
    pub offset: usize,
    /// Option Type.
    pub option_type: OptionType,
    /// Option Data (`Opt Data Len` octets; empty for Pad1).
    pub data: &'a [u8],
}

/// Iterator over the options of an options area (RFC 8200 §4.2). Yields
/// `Err` once, for the first option that overruns the area, then stops.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    area: &'a [u8],
    pos: usize,
    base: usize,
    layer: Layer,
    failed: bool,
}

impl<'a> Options<'a> {
    /// Walks `area`, the octets after the 2-octet Next Header / Hdr Ext Len
    /// of a Hop-by-Hop or Destination Options header. `base` is the offset of
    /// `area` from the start of that header (2 for a whole header), so that
    /// offsets are relative to the header; `layer` names truncation errors.
    pub const fn new(area: &'a [u8], base: usize, layer: Layer) -> Self {
        Options {
            area,
            pos: 0,
            base,
            layer,
            failed: false,
        }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>, LenError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.area.get(self.pos..)?;
        let (&ty, after_type) = rest.split_first()?;
        let offset = self.base + self.pos;
        let option_type = OptionType(ty);
        if option_type == OptionType::PAD1 {
            self.pos += 1;
            return Some(Ok(RawOption {
                offset,
                option_type,
                data: &[],
            }));
        }
        let Some((&len, data_area)) = after_type.split_first() else {
            self.failed = true;
            return Some(Err(LenError::fixed(self.layer, offset, 2, rest.len())));
        };
        let len = usize::from(len);
        let Some(data) = data_area.get(..len) else {
            self.failed = true;
            return Some(Err(LenError::by_field(
                self.layer,
                offset,
                2 + len,
                rest.len(),
                "Opt Data Len",
            )));
        };
        self.pos += 2 + len;
        Some(Ok(RawOption {
            offset,
            option_type,
            data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_bits() {
        assert_eq!(OptionType(0x05).action(), UnrecognizedAction::Skip);
        assert_eq!(OptionType(0x45).action(), UnrecognizedAction::Discard);
        assert_eq!(
            OptionType(0x85).action(),
            UnrecognizedAction::DiscardSendIcmp
        );
        assert_eq!(
            OptionType::HOME_ADDRESS.action(),
            UnrecognizedAction::DiscardSendIcmpUnlessMulticast
        );
        assert!(!OptionType::HOME_ADDRESS.may_change_en_route());
        assert!(OptionType(0x3E).may_change_en_route());
    }

    #[test]
    fn walks_pad1_padn_and_data() {
        // Pad1, PadN(2 data octets), option 0x07 with data [9,8,7], Pad1.
        let area = [0, 1, 2, 0, 0, 7, 3, 9, 8, 7, 0];
        let v: Vec<_> = Options::new(&area, 2, Layer::DestinationOptions)
            .map(Result::unwrap)
            .collect();
        assert_eq!(v.len(), 4);
        assert_eq!((v[0].offset, v[0].option_type), (2, OptionType::PAD1));
        assert_eq!((v[1].offset, v[1].option_type), (3, OptionType::PADN));
        assert_eq!(v[1].data, &[0, 0]);
        assert_eq!((v[2].offset, v[2].option_type), (7, OptionType(7)));
        assert_eq!(v[2].data, &[9, 8, 7]);
        assert_eq!(v[3].offset, 12);
    }

    #[test]
    fn overruns_are_errors_then_stop() {
        let area = [0, 7, 5, 1, 2];
        let mut it = Options::new(&area, 2, Layer::ExtensionHeader);
        assert!(it.next().unwrap().is_ok());
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(
            e,
            LenError::by_field(Layer::ExtensionHeader, 3, 7, 4, "Opt Data Len")
        );
        assert!(it.next().is_none());

        let area = [0, 7];
        let mut it = Options::new(&area, 2, Layer::ExtensionHeader);
        it.next();
        assert_eq!(
            it.next().unwrap().unwrap_err(),
            LenError::fixed(Layer::ExtensionHeader, 3, 2, 1)
        );
        assert!(it.next().is_none());
    }
}
