//! The option area of a parsed Mobility Header and an iterator over it (RFC 6275 §6.2).
//!
//! The iterator yields `Result<MobilityOption, OptionError>` and stops after the first
//! error (an option cut short by the end of the Mobility Header, an Option Length
//! running past it, or a wrong length for BRA / Alternate CoA / Nonce Indices /
//! Vendor-Specific), whose offset is the offending option's first octet counted from
//! the start of the Mobility Header. It yields Pad1 and PadN too, so the list is
//! complete; use [`MobilityOption::option_type`] to skip them. Nothing allocates.
//!
//! **Alignment on receipt: enforced.** RFC 6275 §6.2 gives each option an alignment
//! (xn+y from the start of the Mobility Header); a Mobility Header whose options break
//! it was not built by a conforming sender, so [`Options::validate`] (and with it
//! [`Repr::parse`](super::Repr::parse)) rejects it with [`OptionError::Misaligned`] at
//! the option's offset. The iterator itself reads options wherever they are, so a
//! caller holding unchecked octets can still look at them.

use super::error::OptionError;
use super::option::{MobilityOption, OptionType};

/// The mobility options of one Mobility Header: the octets after the message's fixed
/// part up to the end Header Len gives (padding included), and their offset in the MH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options<'a> {
    bytes: &'a [u8],
    start: usize,
}

impl<'a> Options<'a> {
    /// Option octets `bytes`, which begin `start` octets into the Mobility Header.
    pub const fn new(bytes: &'a [u8], start: usize) -> Self {
        Options { bytes, start }
    }

    /// The option octets, as on the wire.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Offset of the first option octet from the start of the Mobility Header.
    pub const fn start(&self) -> usize {
        self.start
    }

    /// True when there are no option octets at all.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Iterates over the options, padding included.
    pub fn iter(&self) -> OptionIter<'a> {
        OptionIter {
            bytes: self.bytes,
            pos: 0,
            start: self.start,
            done: false,
        }
    }

    /// Walks every option; the first error, if any: the error the iterator yields, or
    /// an option off its RFC 6275 §6.2 alignment (the same answer as
    /// [`check_alignment`](Self::check_alignment)).
    ///
    /// This is the check [`Repr::parse`](super::Repr::parse) runs on every received
    /// Mobility Header, so it only reads types and lengths: options that look well
    /// formed are stepped over without being built, and only a suspect one goes
    /// through [`MobilityOption::parse`] to produce the precise error.
    pub fn validate(&self) -> Result<(), OptionError> {
        let bytes = self.bytes;
        let mut pos = 0;
        while let Some(&kind) = bytes.get(pos) {
            if kind == 0 {
                pos += 1;
                continue;
            }
            let total = bytes.get(pos + 1).map(|&len| 2 + usize::from(len));
            let plausible = match (kind, total) {
                (_, None) => false,
                (2, Some(t)) => t == 4,
                (3, Some(t)) => t == 18,
                (4, Some(t)) => t == 6,
                (19, Some(t)) => t >= 7,
                (_, Some(_)) => true,
            };
            match total {
                Some(t) if plausible && pos + t <= bytes.len() => {
                    check_aligned(kind, self.start + pos)?;
                    pos += t;
                }
                _ => {
                    let rest = bytes.get(pos..).unwrap_or_default();
                    let (option, used) = MobilityOption::parse(rest, self.start + pos)?;
                    check_aligned(option.option_type().into(), self.start + pos)?;
                    pos += used;
                }
            }
        }
        Ok(())
    }

    /// The first option not at its RFC 6275 §6.2 alignment, as
    /// [`OptionError::Misaligned`] (or the first parse error).
    pub fn check_alignment(&self) -> Result<(), OptionError> {
        for item in self.iter().with_offsets() {
            let (offset, option) = item?;
            let a = option.alignment();
            if !a.is_aligned(offset) {
                return Err(OptionError::Misaligned {
                    option_type: option.option_type(),
                    offset,
                    multiple: a.multiple,
                    remainder: a.remainder,
                });
            }
        }
        Ok(())
    }
}

/// The RFC 6275 §6.2 alignment of the option type `kind` at `offset` in the MH.
fn check_aligned(kind: u8, offset: usize) -> Result<(), OptionError> {
    let (multiple, remainder) = match kind {
        2 | 4 => (2, 0),
        3 => (8, 6),
        5 => (8, 2),
        19 => (4, 2),
        _ => return Ok(()),
    };
    if offset % multiple == remainder {
        Ok(())
    } else {
        Err(OptionError::Misaligned {
            option_type: OptionType::from(kind),
            offset,
            multiple,
            remainder,
        })
    }
}

impl<'a> IntoIterator for Options<'a> {
    type Item = Result<MobilityOption<'a>, OptionError>;
    type IntoIter = OptionIter<'a>;
    fn into_iter(self) -> OptionIter<'a> {
        self.iter()
    }
}

/// Iterator over mobility options (RFC 6275 §6.2); stops after the first error.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    start: usize,
    done: bool,
}

impl<'a> OptionIter<'a> {
    /// Offset, from the Mobility Header start, of the option the next call reads.
    pub const fn next_offset(&self) -> usize {
        self.start + self.pos
    }

    /// The same iteration, each option paired with its offset in the Mobility Header.
    pub fn with_offsets(self) -> WithOffsets<'a> {
        WithOffsets { inner: self }
    }

    fn next_with_offset(&mut self) -> Option<Result<(usize, MobilityOption<'a>), OptionError>> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.next_offset();
        // Padding is most of a typical option area (RFC 6275 §6.2.2–6.2.3): step over
        // it without the general parse.
        match *rest {
            [0, ..] => {
                self.pos += 1;
                return Some(Ok((offset, MobilityOption::Pad1)));
            }
            [1, len, ..] if rest.len() >= 2 + usize::from(len) => {
                self.pos += 2 + usize::from(len);
                return Some(Ok((offset, MobilityOption::PadN(len))));
            }
            _ => {}
        }
        match MobilityOption::parse(rest, offset) {
            Ok((option, used)) => {
                self.pos += used;
                Some(Ok((offset, option)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<MobilityOption<'a>, OptionError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_with_offset().map(|r| r.map(|(_, o)| o))
    }
}

impl core::iter::FusedIterator for OptionIter<'_> {}

/// [`OptionIter`] yielding `(offset from the MH start, option)`.
#[derive(Debug, Clone)]
pub struct WithOffsets<'a> {
    inner: OptionIter<'a>,
}

impl<'a> Iterator for WithOffsets<'a> {
    type Item = Result<(usize, MobilityOption<'a>), OptionError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next_with_offset()
    }
}

impl core::iter::FusedIterator for WithOffsets<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Layer, LenError};
    use crate::mh::option::OptionType;

    #[test]
    fn yields_every_option_with_offsets() {
        // Options of a BU starting at MH offset 12 (RFC 6275 §6.1.7): PadN(0), Alternate
        // CoA at 14 (8n+6), PadN(0) to 32... here a short made-up list: Pad1, Nonce
        // Indices, Unknown 200 with 1 octet, PadN(1).
        let bytes = [0, 4, 4, 0, 1, 0, 2, 200, 1, 0xab, 1, 1, 0];
        let o = Options::new(&bytes, 12);
        let got: Vec<_> = o.iter().with_offsets().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                (12, MobilityOption::Pad1),
                (
                    13,
                    MobilityOption::NonceIndices {
                        home_nonce_index: 1,
                        care_of_nonce_index: 2
                    }
                ),
                (
                    19,
                    MobilityOption::Unknown {
                        option_type: 200,
                        data: &[0xab]
                    }
                ),
                (22, MobilityOption::PadN(1)),
            ]
        );
        // Nonce Indices at 13 is not at 2n: the iterator reads it, validation refuses.
        assert_eq!(o.validate(), o.check_alignment());
        assert_eq!(
            o.check_alignment(),
            Err(OptionError::Misaligned {
                option_type: OptionType::NonceIndices,
                offset: 13,
                multiple: 2,
                remainder: 0
            })
        );
        assert!(Options::new(&bytes[1..], 12).check_alignment().is_ok());
        assert!(Options::new(&bytes[1..], 12).validate().is_ok());
    }

    #[test]
    fn stops_at_first_error_with_its_offset() {
        // PadN(0) at 12, then an option at 14 whose Option Length (9) overruns the end.
        let bytes = [1, 0, 7, 9, 1, 2, 3, 0, 0, 0];
        let mut it = Options::new(&bytes, 12).iter();
        assert_eq!(it.next(), Some(Ok(MobilityOption::PadN(0))));
        assert_eq!(
            it.next(),
            Some(Err(OptionError::Len(LenError::by_field(
                Layer::MobilityOption,
                14,
                11,
                8,
                "Option Length"
            ))))
        );
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
        // A lone non-Pad1 octet at the end: its length octet is missing.
        let e = Options::new(&[0, 0, 5], 6).validate().unwrap_err();
        assert_eq!(
            e,
            OptionError::Len(LenError::fixed(Layer::MobilityOption, 8, 2, 1))
        );
        // Overlong Alternate CoA (Option Length 17) inside the header.
        let mut long = [0u8; 19];
        long[0] = 3;
        long[1] = 17;
        assert!(matches!(
            Options::new(&long, 14).validate(),
            Err(OptionError::BadLength {
                offset: 14,
                length: 17,
                ..
            })
        ));
        assert!(Options::new(&[], 8).iter().next().is_none());
    }

    proptest::proptest! {
        /// The fast validation agrees with the iterator plus the alignment check:
        /// same first error, or none.
        #[test]
        fn validate_agrees_with_the_iterator(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(0u8), proptest::prelude::Just(1u8),
                    proptest::prelude::Just(2u8), proptest::prelude::Just(3u8),
                    proptest::prelude::Just(4u8), proptest::prelude::Just(5u8),
                    proptest::prelude::Just(19u8), 0u8..=255
                ],
                0..64,
            ),
            start in 0usize..64,
        ) {
            let o = Options::new(&bytes, start);
            proptest::prop_assert_eq!(o.validate(), o.check_alignment());
        }
    }
}
