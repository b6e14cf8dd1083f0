//! Reading a Binding Acknowledgement's options (RFC 6275 §6.1.8, §6.2.4; RFC 5094 and
//! docs/architecture.md's key-management options): the Binding Refresh Advice, the echoed Key
//! Initialization timestamp and the Key Distribution.
//!
//! Strict: a malformed option, a malformed key option of our vendor, or a second
//! echo / Key Distribution makes the whole BA a [`DropReason::BadOption`]. Key Update
//! and Resending Requests (BU-only sub-types) in a BA are ignored, as are other
//! vendors' options (RFC 5094 §3) and unknown option types (RFC 6275 §6.2.1).

use core::time::Duration;

use mip6_wire::mh::{self, KeyDistribution, KeyOption, MobilityOption};

use crate::counters::DropReason;

/// The options of a BA that matter to the mobile node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BaOptions {
    /// Binding Refresh Advice: refresh after this long (RFC 6275 §6.2.4).
    pub refresh_advice: Option<Duration>,
    /// The echoed Key Initialization timestamp.
    pub init_echo: Option<u64>,
    /// The Key Distribution.
    pub distribution: Option<KeyDistribution>,
}

/// Reads the options of a BA.
pub(crate) fn parse(mh: &mh::Repr<'_>, vendor_id: u32) -> Result<BaOptions, DropReason> {
    let mut out = BaOptions::default();
    for option in mh.options() {
        let option = option.map_err(|_| DropReason::BadOption)?;
        if let MobilityOption::BindingRefreshAdvice { refresh_interval } = option {
            out.refresh_advice = Some(Duration::from_secs(4 * u64::from(refresh_interval)));
            continue;
        }
        match KeyOption::from_option(&option, vendor_id).map_err(|_| DropReason::BadOption)? {
            Some(KeyOption::KeyInitialization { timestamp }) => {
                if out.init_echo.replace(timestamp).is_some() {
                    return Err(DropReason::BadOption);
                }
            }
            Some(KeyOption::KeyDistribution(kd)) => {
                if out.distribution.replace(kd).is_some() {
                    return Err(DropReason::BadOption);
                }
            }
            Some(KeyOption::KeyUpdateRequest | KeyOption::KeyResendingRequest) | None => {}
        }
    }
    Ok(out)
}
