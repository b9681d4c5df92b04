//! How the index's files are read: mapped, except the stored text, which is read.
//!
//! Term dictionaries, postings, positions, norms and fast fields are small next to the stored
//! text and are read again by every search, so they are mapped. The stored text (`.store`,
//! 2.4 GB of the 3.1 GB index at 1M records) is read a 4 KB block at a time for the twenty
//! records of a page, scattered over the file: mapped, each of those reads faulted in and kept
//! counted against the process the pages the kernel maps around it. Reading those blocks with
//! `pread` goes through the same page cache without that. This is Elasticsearch's `hybridfs`
//! choice (stored fields read, the rest mapped).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Advice, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback,
    WatchHandle, WritePtr,
};
use tantivy::HasLen;

/// Extensions of the files read with `pread` rather than mapped.
const READ_NOT_MAPPED: &[&str] = &["store"];

/// A directory of index files, all mapped but the stored text.
#[derive(Clone, Debug)]
pub(crate) struct IndexFiles {
    root: PathBuf,
    mapped: MmapDirectory,
}

impl IndexFiles {
    pub(crate) fn open(root: &Path) -> tantivy::Result<Self> {
        // Random-access advice: no read-ahead around a word's postings.
        let mapped = MmapDirectory::open_with_madvice(root, Advice::Random)?;
        Ok(IndexFiles {
            root: root.to_path_buf(),
            mapped,
        })
    }
}

fn read_not_mapped(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| READ_NOT_MAPPED.contains(&e))
}

impl Directory for IndexFiles {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if !read_not_mapped(path) {
            return self.mapped.get_file_handle(path);
        }
        let full = self.root.join(path);
        match File::open(&full) {
            Ok(file) => {
                let handle = ReadFile::new(file, self.mapped.clone(), path.to_path_buf())
                    .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?;
                Ok(Arc::new(handle))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(OpenReadError::FileDoesNotExist(path.to_path_buf()))
            }
            Err(e) => Err(OpenReadError::wrap_io_error(e, path.to_path_buf())),
        }
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(watch_callback)
    }
}

/// Reads longer than this are served from the file mapped, not copied into a buffer.
const LARGEST_READ: usize = 1 << 20;

/// A file whose bytes are read on demand, each read into its own buffer; except the rare large
/// read, which comes from the file mapped: merging segments copies each input's whole stored
/// text (tantivy's `StoreReader::block_data`), and at 1M records two merges at once then held
/// 390 MB of copies on the heap for a moment, where mapped pages are the kernel's to drop.
#[derive(Debug)]
struct ReadFile {
    file: File,
    len: usize,
    directory: MmapDirectory,
    path: PathBuf,
    /// The file mapped, on the first large read.
    mapped: OnceLock<Arc<dyn FileHandle>>,
}

impl ReadFile {
    fn new(file: File, directory: MmapDirectory, path: PathBuf) -> io::Result<Self> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("an index file larger than this machine can address"))?;
        Ok(ReadFile {
            file,
            len,
            directory,
            path,
            mapped: OnceLock::new(),
        })
    }

    fn mapped(&self) -> io::Result<&Arc<dyn FileHandle>> {
        if let Some(handle) = self.mapped.get() {
            return Ok(handle);
        }
        let handle = self
            .directory
            .get_file_handle(&self.path)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(self.mapped.get_or_init(|| handle))
    }
}

impl HasLen for ReadFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.start > range.end || range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "bytes {}..{} asked of an index file of {} bytes",
                    range.start, range.end, self.len
                ),
            ));
        }
        if range.len() > LARGEST_READ {
            return self.mapped()?.read_bytes(range);
        }
        let mut buffer = vec![0; range.len()];
        read_at(&self.file, &mut buffer, range.start as u64)?;
        Ok(OwnedBytes::new(buffer))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_read(buffer, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tantivy::directory::TerminatingWrite;

    fn written(dir: &Path, name: &str, bytes: &[u8]) -> IndexFiles {
        let files = IndexFiles::open(dir).unwrap();
        let mut out = files.open_write(Path::new(name)).unwrap();
        out.write_all(bytes).unwrap();
        out.flush().unwrap();
        out.into_inner().ok().unwrap().terminate().unwrap();
        files
    }

    #[test]
    fn stored_text_is_read_and_the_rest_mapped_with_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for name in ["a.store", "a.idx"] {
            let files = written(dir.path(), name, &bytes);
            let slice = files.open_read(Path::new(name)).unwrap();
            assert_eq!(slice.len(), bytes.len());
            assert_eq!(slice.read_bytes().unwrap().as_slice(), &bytes[..]);
            let part = slice.slice(4_000..4_100).read_bytes().unwrap();
            assert_eq!(part.as_slice(), &bytes[4_000..4_100]);
            assert!(slice.slice(10..10).read_bytes().unwrap().is_empty());
        }
        assert!(read_not_mapped(Path::new("abc.store")));
        assert!(!read_not_mapped(Path::new("abc.idx")));
    }

    /// A read of more than [`LARGEST_READ`] bytes (a merge copying a whole stored text) comes
    /// from the file mapped, with the same bytes, and does not land on the heap.
    #[test]
    fn a_large_read_of_stored_text_comes_from_the_mapped_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..3 * LARGEST_READ as u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let files = written(dir.path(), "c.store", &bytes);
        let handle = files.get_file_handle(Path::new("c.store")).unwrap();
        let whole = handle.read_bytes(0..bytes.len()).unwrap();
        assert_eq!(whole.as_slice(), &bytes[..]);
        let part = handle.read_bytes(100..100 + 2 * LARGEST_READ).unwrap();
        assert_eq!(part.as_slice(), &bytes[100..100 + 2 * LARGEST_READ]);
        // the large reads share one mapping; a small one is read into a buffer of its own
        let direct = files.mapped.get_file_handle(Path::new("c.store")).unwrap();
        let mapped_at = direct.read_bytes(0..1).unwrap().as_slice().as_ptr();
        assert_eq!(whole.as_slice().as_ptr(), mapped_at);
        let small = handle.read_bytes(0..4096).unwrap();
        assert_ne!(small.as_slice().as_ptr(), mapped_at);
        assert_eq!(small.as_slice(), &bytes[..4096]);
    }

    #[test]
    fn a_read_past_the_end_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let files = written(dir.path(), "b.store", b"twelve bytes");
        let handle = files.get_file_handle(Path::new("b.store")).unwrap();
        let err = handle.read_bytes(4..40).unwrap_err();
        assert!(err.to_string().contains("of 12 bytes"), "{err}");
    }

    #[test]
    fn a_missing_stored_text_file_is_reported_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let files = IndexFiles::open(dir.path()).unwrap();
        let err = files.get_file_handle(Path::new("none.store")).unwrap_err();
        assert!(matches!(err, OpenReadError::FileDoesNotExist(_)), "{err}");
    }
}
