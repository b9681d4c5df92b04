//! Snodo's common schema: the participatory spaces users search for, normalised from every platform.
//!
//! This crate owns the shape of a record and the invariants every record keeps (identity, safe text,
//! status computed from dates). It does no I/O: no HTTP, no database, no index, no async runtime —
//! connectors, store, index and API all build on it, so it must stay cheap to depend on.

pub mod licence;
pub mod record;
pub mod status;
pub mod territory;
pub mod text;
pub mod topics;

pub use record::{
    Activity, Kind, LocalizedHtml, LocalizedText, MeetingDetails, MeetingMode, ParentRef,
    ParseKindError, ParseRecordIdError, Phase, Record, RecordId, Territory, METHODS,
};
pub use status::{today_in_italy, Status};
pub use text::SafeHtml;
