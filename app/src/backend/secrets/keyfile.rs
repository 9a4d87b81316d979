//! Lists of 256-bit keys written `id:base64`, one per line or comma-separated, the first active.
//! Used for key-encryption keys (`STRATUS_MASTER_KEYS`) and token signing keys (`STRATUS_JWT_KEYS`).

use base64::Engine;

/// Keys in the order written; `source` names where they came from in error messages, which
/// never include key material.
pub fn parse(spec: &str, source: &str) -> Result<Vec<(String, [u8; 32])>, String> {
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    let entries = spec
        .lines()
        .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty());
    for entry in entries {
        let (id, encoded) = entry.split_once(':').ok_or_else(|| {
            format!(
                "{source}: each key must be written id:base64, got {:?}",
                entry.split(':').next().unwrap_or("").to_string() + ":…"
            )
        })?;
        let id = id.trim();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "{source}: key id {id:?} must be letters, digits, - or _"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| format!("{source}: key {id:?} is not valid base64"))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "{source}: key {id:?} must be 32 bytes (256 bits), got {}",
                bytes.len()
            )
        })?;
        if keys.iter().any(|(k, _)| k == id) {
            return Err(format!("{source}: key id {id:?} appears twice"));
        }
        keys.push((id.to_string(), key));
    }
    if keys.is_empty() {
        return Err(format!("{source}: no key given"));
    }
    Ok(keys)
}

/// A new random key, written as one line of a key list.
pub fn generate_line(id: &str) -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}
