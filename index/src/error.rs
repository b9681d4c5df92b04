//! The one error type of the crate. tantivy's own errors are rendered to text here, so that no
//! tantivy type appears in the public API.

use std::path::PathBuf;

/// What can go wrong with the search index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The user's query cannot be understood (unbalanced quotes or parentheses, too long, a dangling
    /// operator). The message is meant for the user; the API answers 400 with it.
    #[error("invalid query: {message}")]
    Query { message: String },

    /// Another process holds the index writer.
    #[error(
        "search index at {}: another process is writing to it; \
         stop the other `snodo` process (only one may write to the index) and try again",
        path.display()
    )]
    Locked { path: PathBuf },

    /// Reading or writing the files next to the index (version file, generation pointer).
    #[error("search index at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The search engine failed. The message carries tantivy's description.
    #[error("search index: {message}")]
    Engine { message: String },

    /// The index was written by a later version of Snodo, with a schema this build cannot read.
    /// Rebuilding it would take it away from the build that wrote it, so this build leaves it.
    #[error(
        "search index at {}: written by a newer Snodo (index schema version {found}; this build \
         reads version {reads}); run the newer build, or remove this directory so that this \
         build rebuilds the index from the store",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: u32,
        reads: u32,
    },

    /// A stored document could not be decoded; rebuilding the index (`snodo reindex`) fixes it.
    #[error("search index: a stored document is unreadable ({message}); run `snodo reindex`")]
    Corrupt { message: String },
}

impl IndexError {
    pub(crate) fn query(message: impl Into<String>) -> Self {
        IndexError::Query {
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Renders a tantivy error as an [`IndexError::Engine`]. A function rather than a `From` impl, so
/// that no tantivy type shows up in this crate's public trait impls either.
pub(crate) fn engine(e: tantivy::TantivyError) -> IndexError {
    IndexError::Engine {
        message: e.to_string(),
    }
}
