//! Key lists from configuration: key-encryption keys for secrets and signing keys for access
//! tokens. Each comes from an environment variable, a file named by another, or (the embedded
//! default) a file generated once in the data directory. Never from the database.

use crate::config::Settings;
use anyhow::{bail, Context};
use app::backend::identity::jwt::JwtKeys;
use app::backend::secrets::keyfile;
use app::backend::secrets::Keyring;
use secrecy::{ExposeSecret, SecretString};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where one kind of key list is configured.
struct KeySource<'a> {
    inline: Option<&'a SecretString>,
    inline_var: &'static str,
    file: Option<&'a PathBuf>,
    file_var: &'static str,
    /// The generated file's name in the data directory.
    default_name: &'static str,
    header: &'static str,
}

/// The key list's text and a description of where it came from (for error messages).
fn read(settings: &Settings, source: KeySource) -> anyhow::Result<(String, String)> {
    if let Some(keys) = source.inline {
        return Ok((
            keys.expose_secret().to_string(),
            source.inline_var.to_string(),
        ));
    }
    let (path, what) = match source.file {
        Some(path) => (path.clone(), source.file_var),
        None => (
            settings.data_dir.join(source.default_name),
            "the generated key file",
        ),
    };
    if !path.exists() {
        if source.file.is_some() {
            bail!("{}={} does not exist", source.file_var, path.display());
        }
        generate(&path, source.header)?;
    }
    let mode = std::fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the key file is readable by other users; chmod 600 it");
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if source.file.is_none() {
        tracing::warn!(path = %path.display(),
            "using a key file generated for this machine; production must supply its own keys ({} or {})",
            source.inline_var, source.file_var);
    }
    Ok((text, format!("{what} ({})", path.display())))
}

fn generate(path: &Path, header: &str) -> anyhow::Result<()> {
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
        "# {header}: id:base64, the first is active. Keep this file secret."
    )?;
    writeln!(file, "{}", keyfile::generate_line(&id))?;
    tracing::warn!(path = %path.display(), "generated a new key file (mode 0600)");
    Ok(())
}

/// Key-encryption keys for secrets.
pub fn load(settings: &Settings) -> anyhow::Result<Keyring> {
    let (text, source) = read(
        settings,
        KeySource {
            inline: settings.master_keys.as_ref(),
            inline_var: "STRATUS_MASTER_KEYS",
            file: settings.master_key_file.as_ref(),
            file_var: "STRATUS_MASTER_KEY_FILE",
            default_name: "master.keys",
            header: "Stratus key-encryption keys",
        },
    )?;
    Keyring::parse(&text, &source).map_err(anyhow::Error::msg)
}

/// Signing keys for access tokens.
pub fn load_jwt(settings: &Settings) -> anyhow::Result<JwtKeys> {
    let (text, source) = read(
        settings,
        KeySource {
            inline: settings.jwt_keys.as_ref(),
            inline_var: "STRATUS_JWT_KEYS",
            file: settings.jwt_key_file.as_ref(),
            file_var: "STRATUS_JWT_KEY_FILE",
            default_name: "jwt.keys",
            header: "Stratus access-token signing keys",
        },
    )?;
    JwtKeys::parse(&text, &source).map_err(anyhow::Error::msg)
}
