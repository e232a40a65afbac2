//! The file store as this installation keys it: what the HTTPS file service, retention's
//! purges and the administration commands open, all with the same key.

use parlance_files::FileStore;
use parlance_store::ServerKey;

use crate::StartError;
use crate::config::Config;

/// What the file store's key is derived for from the server key: changing it makes every
/// stored file unreadable.
const FILE_STORE_KEY: &str = "parlance files v1";

/// Opens the file store as `config` says, with its key derived from the server key. Opening
/// touches no upload in progress, so administration commands use it while the server runs.
pub async fn open_file_store(config: &Config, key: &ServerKey) -> Result<FileStore, StartError> {
    Ok(FileStore::open_local(&config.files_dir(), key.derive_key(FILE_STORE_KEY)).await?)
}
