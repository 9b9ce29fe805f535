//! Bytes as base64 text for serde (`#[serde(with = "lang::base64_bytes")]`): a stored request's
//! source and stdin may be any bytes, and JSON has no byte strings. A dozen lines, where
//! `serde_with` would be a dependency with a hundred other adapters.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD.decode(text).map_err(serde::de::Error::custom)
}
