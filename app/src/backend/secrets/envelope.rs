//! Envelope encryption: a fresh random data key per secret encrypts the value (AES-256-GCM);
//! a key-encryption key (KEK) from configuration wraps the data key. Associated data binds
//! both ciphertexts to the tenant, the secret and its purpose, so a ciphertext copied into
//! another row does not decrypt.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use uuid::Uuid;

/// The stored format; bump when the layout or the associated data change.
pub const FORMAT: i16 = 1;

/// A key-encryption key with its id (the id is stored beside every secret it wraps).
pub struct Kek {
    pub id: String,
    key: Key<Aes256Gcm>,
}

/// The configured KEKs; the first one wraps new data keys, the others only unwrap.
pub struct Keyring {
    keys: Vec<Kek>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses `id:base64` pairs separated by commas or newlines (`#` starts a comment).
    /// `source` names where they came from, for the error message.
    pub fn parse(spec: &str, source: &str) -> Result<Keyring, String> {
        let keys = crate::backend::secrets::keyfile::parse(spec, source)?
            .into_iter()
            .map(|(id, bytes)| Kek {
                id,
                key: *Key::<Aes256Gcm>::from_slice(&bytes),
            })
            .collect();
        Ok(Keyring { keys })
    }

    /// A new random key, as a line for `STRATUS_MASTER_KEYS` or a key file.
    pub fn generate_line(id: &str) -> String {
        crate::backend::secrets::keyfile::generate_line(id)
    }

    pub fn active(&self) -> &Kek {
        &self.keys[0]
    }

    /// Keys for keyed digests (not encryption), one per key in the ring, the active one first:
    /// HMAC-SHA256 of `label` under each key-encryption key, so each use gets its own key and
    /// nothing stored in the database can recompute them.
    pub fn derived_keys(&self, label: &str) -> Vec<[u8; 32]> {
        use hmac::{Hmac, Mac};
        self.keys
            .iter()
            .map(|k| {
                let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(k.key.as_slice())
                    .expect("HMAC takes a key of any length");
                mac.update(b"stratus/derived/v1/");
                mac.update(label.as_bytes());
                mac.finalize().into_bytes().into()
            })
            .collect()
    }

    /// A 256-bit secret for another purpose (the database role's password, say): the active
    /// key's [`Keyring::derived_keys`]. It changes when the active key does.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        self.derived_keys(label)[0]
    }

    fn find(&self, id: &str) -> Result<&Kek, SealError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))
    }
}

/// What a secret is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub tenant_id: Uuid,
    pub secret_id: Uuid,
    pub purpose: &'a str,
}

impl Binding<'_> {
    fn aad(&self, part: &str) -> Vec<u8> {
        format!(
            "stratus/secret/v{FORMAT}/{part}/{}/{}/{}",
            self.tenant_id, self.secret_id, self.purpose
        )
        .into_bytes()
    }
}

/// An encrypted secret as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Sealed {
    pub format: i16,
    pub kek_id: String,
    pub dek_nonce: Vec<u8>,
    pub wrapped_dek: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("it was encrypted with key {0:?}, which is not configured (STRATUS_MASTER_KEYS)")]
    UnknownKey(String),
    #[error("it does not decrypt: it was altered, or belongs to another tenant or secret")]
    Tampered,
    #[error("its stored format {0} is not supported by this version")]
    Format(i16),
}

fn wrap(kek: &Kek, binding: &Binding, dek: &Key<Aes256Gcm>) -> (Vec<u8>, Vec<u8>) {
    let nonce = Aes256Gcm::generate_nonce(OsRng);
    let wrapped = Aes256Gcm::new(&kek.key)
        .encrypt(
            &nonce,
            Payload {
                msg: dek.as_slice(),
                aad: &binding.aad("dek"),
            },
        )
        .expect("AES-GCM encryption of 32 bytes cannot fail");
    (nonce.to_vec(), wrapped)
}

fn unwrap(
    keyring: &Keyring,
    binding: &Binding,
    sealed: &Sealed,
) -> Result<Key<Aes256Gcm>, SealError> {
    if sealed.format != FORMAT {
        return Err(SealError::Format(sealed.format));
    }
    let kek = keyring.find(&sealed.kek_id)?;
    if sealed.dek_nonce.len() != 12 {
        return Err(SealError::Tampered);
    }
    let dek = Aes256Gcm::new(&kek.key)
        .decrypt(
            Nonce::from_slice(&sealed.dek_nonce),
            Payload {
                msg: &sealed.wrapped_dek,
                aad: &binding.aad("dek"),
            },
        )
        .map_err(|_| SealError::Tampered)?;
    if dek.len() != 32 {
        return Err(SealError::Tampered);
    }
    Ok(*Key::<Aes256Gcm>::from_slice(&dek))
}

/// Encrypts `plaintext` under a fresh data key wrapped by the active KEK.
pub fn seal(keyring: &Keyring, binding: &Binding, plaintext: &[u8]) -> Sealed {
    let dek = Aes256Gcm::generate_key(OsRng);
    let (dek_nonce, wrapped_dek) = wrap(keyring.active(), binding, &dek);
    let nonce = Aes256Gcm::generate_nonce(OsRng);
    let ciphertext = Aes256Gcm::new(&dek)
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &binding.aad("value"),
            },
        )
        .expect("AES-GCM encryption cannot fail for in-memory values");
    Sealed {
        format: FORMAT,
        kek_id: keyring.active().id.clone(),
        dek_nonce,
        wrapped_dek,
        nonce: nonce.to_vec(),
        ciphertext,
    }
}

pub fn open(keyring: &Keyring, binding: &Binding, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
    let dek = unwrap(keyring, binding, sealed)?;
    if sealed.nonce.len() != 12 {
        return Err(SealError::Tampered);
    }
    Aes256Gcm::new(&dek)
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &binding.aad("value"),
            },
        )
        .map_err(|_| SealError::Tampered)
}

/// Re-wraps the data key under the active KEK; the value's ciphertext is unchanged.
pub fn rewrap(keyring: &Keyring, binding: &Binding, sealed: &Sealed) -> Result<Sealed, SealError> {
    let dek = unwrap(keyring, binding, sealed)?;
    let (dek_nonce, wrapped_dek) = wrap(keyring.active(), binding, &dek);
    Ok(Sealed {
        kek_id: keyring.active().id.clone(),
        dek_nonce,
        wrapped_dek,
        ..sealed.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(tenant: Uuid, secret: Uuid) -> Binding<'static> {
        Binding {
            tenant_id: tenant,
            secret_id: secret,
            purpose: "user",
        }
    }

    #[test]
    fn round_trip_tamper_and_rebinding() {
        let keyring = Keyring::parse(&Keyring::generate_line("k1"), "test").unwrap();
        let (t, s) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = seal(&keyring, &binding(t, s), b"hunter2hunter2");
        assert_eq!(
            open(&keyring, &binding(t, s), &sealed).unwrap(),
            b"hunter2hunter2"
        );
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));

        let other_tenant = binding(Uuid::new_v4(), s);
        assert_eq!(
            open(&keyring, &other_tenant, &sealed),
            Err(SealError::Tampered)
        );
        let other_purpose = Binding {
            purpose: "cloud-account",
            ..binding(t, s)
        };
        assert_eq!(
            open(&keyring, &other_purpose, &sealed),
            Err(SealError::Tampered)
        );
        for field in 0..3 {
            let mut flipped = sealed.clone();
            let bytes = match field {
                0 => &mut flipped.ciphertext,
                1 => &mut flipped.wrapped_dek,
                _ => &mut flipped.nonce,
            };
            bytes[0] ^= 1;
            assert_eq!(
                open(&keyring, &binding(t, s), &flipped),
                Err(SealError::Tampered)
            );
        }
        let wrong_key = Sealed {
            kek_id: "nope".into(),
            ..sealed.clone()
        };
        assert_eq!(
            open(&keyring, &binding(t, s), &wrong_key),
            Err(SealError::UnknownKey("nope".into()))
        );
    }

    #[test]
    fn rotation_rewraps_under_the_new_key() {
        let old = Keyring::generate_line("old");
        let new = Keyring::generate_line("new");
        let before = Keyring::parse(&old, "test").unwrap();
        let (t, s) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = seal(&before, &binding(t, s), b"value");
        let during = Keyring::parse(&format!("{new},{old}"), "test").unwrap();
        let rotated = rewrap(&during, &binding(t, s), &sealed).unwrap();
        assert_eq!(rotated.kek_id, "new");
        assert_eq!(rotated.ciphertext, sealed.ciphertext);
        let after = Keyring::parse(&new, "test").unwrap();
        assert_eq!(open(&after, &binding(t, s), &rotated).unwrap(), b"value");
        assert!(open(&after, &binding(t, s), &sealed).is_err());
    }

    #[test]
    fn malformed_keys_are_named() {
        assert!(Keyring::parse("k1:notbase64!!", "STRATUS_MASTER_KEYS")
            .unwrap_err()
            .contains("STRATUS_MASTER_KEYS"));
        assert!(Keyring::parse("k1:AAAA", "X")
            .unwrap_err()
            .contains("32 bytes"));
        assert!(Keyring::parse("justakey", "X")
            .unwrap_err()
            .contains("id:base64"));
        assert!(Keyring::parse("", "X").is_err());
        let file = format!(
            "# keys, newest first: id:base64\n{}\n{}  # retired, kept for reading\n",
            Keyring::generate_line("b"),
            Keyring::generate_line("a")
        );
        assert_eq!(Keyring::parse(&file, "X").unwrap().active().id, "b");
    }
}
