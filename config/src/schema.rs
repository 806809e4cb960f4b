//! The JSON Schema of the file format, for editor completion and validation.
//!
//! Generated from the same types the files are read into, with their `///` docs as
//! descriptions, so it cannot drift from what the loader accepts (except for checks a
//! schema cannot express, such as `kind` coming first in a detector or unique rule names).

use crate::model::FileModel;

/// The JSON Schema (draft 2020-12) of a configuration file.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(FileModel)).expect("a schema is plain JSON")
}
