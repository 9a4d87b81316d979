//! Key-encryption keys: from `STRATUS_MASTER_KEYS`, from `STRATUS_MASTER_KEY_FILE`, or (the
//! embedded default) from a key file generated once in the data directory. Never from the
//! database.

use crate::config::Settings;
use anyhow::{bail, Context};
use app::backend::secrets::Keyring;
use secrecy::ExposeSecret;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

pub fn load(settings: &Settings) -> anyhow::Result<Keyring> {
    if let Some(keys) = &settings.master_keys {
        return Keyring::parse(keys.expose_secret(), "STRATUS_MASTER_KEYS")
            .map_err(anyhow::Error::msg);
    }
    let (path, source) = match &settings.master_key_file {
        Some(path) => (path.clone(), "STRATUS_MASTER_KEY_FILE"),
        None => (
            settings.data_dir.join("master.keys"),
            "the generated key file",
        ),
    };
    if !path.exists() {
        if settings.master_key_file.is_some() {
            bail!("STRATUS_MASTER_KEY_FILE={} does not exist", path.display());
        }
        generate(&path)?;
    }
    let mode = std::fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the key file is readable by other users; chmod 600 it");
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {source} {}", path.display()))?;
    let keyring = Keyring::parse(&text, &format!("{source} ({})", path.display()))
        .map_err(anyhow::Error::msg)?;
    if settings.master_key_file.is_none() {
        tracing::warn!(path = %path.display(),
            "using the key file generated for this machine; production must supply its own keys (STRATUS_MASTER_KEYS or STRATUS_MASTER_KEY_FILE)");
    }
    Ok(keyring)
}

fn generate(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the key file {}", path.display()))?;
    let id = format!("k{}", time::OffsetDateTime::now_utc().unix_timestamp());
    writeln!(
        file,
        "# Stratus key-encryption keys: id:base64, the first is active. Keep this file secret."
    )?;
    writeln!(file, "{}", Keyring::generate_line(&id))?;
    tracing::warn!(path = %path.display(), "generated a new key-encryption key file (mode 0600)");
    Ok(())
}
