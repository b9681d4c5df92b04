//! How the index's files are read: mapped, except the stored text, which is read.
//!
//! Term dictionaries, postings, positions, norms and fast fields are small next to the stored
//! text and are read again by every search, so they are mapped. The stored text (`.store`,
//! 2.4 GB of the 3.1 GB index at 1M records) is read a 4 KB block at a time for the twenty
//! records of a page, scattered over the file: mapped, each of those reads faulted in and kept
//! counted against the process the pages the kernel maps around it. Reading those blocks with
//! `pread` goes through the same page cache without that. This is Elasticsearch's `hybridfs`
//! choice (stored fields read, the rest mapped).
//!
//! A merge copies each input's whole stored text into its output unchanged (tantivy's
//! `StoreWriter::stack`). Those bytes are handed out mapped; the writer that receives them
//! copies them file to file (`copy_file_range` on Linux), and unmaps their pages once tantivy
//! has read them for its checksum: left mapped, every page of every input stayed counted
//! against the process until the merge ended, 2.7 GB at the end of a 1M harvest for text the
//! process only copies. Likewise a merge reads its inputs' postings and positions once, front
//! to back: a window at a time into a buffer ([`ReadThrough`]), not mapped; and it maps the
//! rest of its inputs apart from the searches' mappings, so that what it read is unmapped when
//! it ends.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Advice, AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes,
    TerminatingWrite, WatchCallback, WatchHandle, WritePtr,
};
use tantivy::HasLen;

/// Extensions of the files read with `pread` rather than mapped.
const READ_NOT_MAPPED: &[&str] = &["store"];
/// Extensions of the files a merge reads through once, in order: postings and positions.
const READ_THROUGH: &[&str] = &["idx", "pos"];

/// A directory of index files, all mapped but the stored text.
#[derive(Clone, Debug)]
pub(crate) struct IndexFiles {
    root: PathBuf,
    mapped: MmapDirectory,
    /// The same files mapped apart for merges, so that what a merge reads is unmapped when it
    /// ends: through the mappings searches share, the pages a merge read stayed counted against
    /// the process until the searcher let go of the merged-away segments (80 MB in the middle
    /// of a 1M harvest).
    merging: MmapDirectory,
    lent: Arc<Lent>,
    /// Files opened by merges to read through, for tests.
    read_through: Arc<AtomicU64>,
}

impl IndexFiles {
    pub(crate) fn open(root: &Path) -> tantivy::Result<Self> {
        // Random-access advice: no read-ahead around a word's postings.
        let mapped = MmapDirectory::open_with_madvice(root, Advice::Random)?;
        // A merge reads its inputs in order.
        let merging = MmapDirectory::open_with_madvice(root, Advice::Sequential)?;
        Ok(IndexFiles {
            root: root.to_path_buf(),
            mapped,
            merging,
            lent: Arc::default(),
            read_through: Arc::default(),
        })
    }
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

fn read_not_mapped(path: &Path) -> bool {
    has_extension(path, READ_NOT_MAPPED)
}

/// Whether this thread is one of tantivy's merge threads (`merge_thread_{i}`), which open the
/// segments they merge themselves. A tantivy that named them otherwise would leave merges'
/// reads in the mappings searches use: bigger, but not wrong (a test watches for it).
fn on_merge_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("merge_thread"))
}

impl IndexFiles {
    fn open_file(&self, path: &Path) -> Result<File, OpenReadError> {
        File::open(self.root.join(path)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        })
    }
}

impl Directory for IndexFiles {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let merge = on_merge_thread();
        if !read_not_mapped(path) {
            if !merge {
                return self.mapped.get_file_handle(path);
            }
            if !has_extension(path, READ_THROUGH) {
                return self.merging.get_file_handle(path);
            }
            self.read_through.fetch_add(1, Ordering::Relaxed);
            let file = self.open_file(path)?;
            let through = ReadThrough::new(file)
                .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?;
            return Ok(Arc::new(through));
        }
        let file = self.open_file(path)?;
        let handle = ReadFile::new(file, self, path, merge)
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?;
        Ok(Arc::new(handle))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        // As tantivy's own: a new file, made durable by `terminate` and `sync_directory`.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => OpenWriteError::FileAlreadyExists(path.into()),
                _ => OpenWriteError::wrap_io_error(e, path.to_path_buf()),
            })?;
        Ok(io::BufWriter::new(Box::new(WriteFile {
            file,
            lent: Arc::clone(&self.lent),
            behind: None,
        })))
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
#[cfg(not(test))]
pub(crate) const LARGEST_READ: usize = 1 << 20;
/// Small enough for tests' merges to reach.
#[cfg(test)]
pub(crate) const LARGEST_READ: usize = 64 << 10;

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
    /// The file's path, for a writer to copy from.
    full: PathBuf,
    /// The file mapped, on the first large read.
    mapped: OnceLock<Arc<dyn FileHandle>>,
    lent: Arc<Lent>,
    /// This file's entry in `lent` once mapped.
    lent_id: OnceLock<u64>,
}

impl ReadFile {
    /// `merge`: opened by a merge, whose large reads map the file apart from searches'.
    fn new(file: File, files: &IndexFiles, path: &Path, merge: bool) -> io::Result<Self> {
        let len = file_len(&file)?;
        Ok(ReadFile {
            file,
            len,
            directory: if merge { &files.merging } else { &files.mapped }.clone(),
            path: path.to_path_buf(),
            full: files.root.join(path),
            mapped: OnceLock::new(),
            lent: Arc::clone(&files.lent),
            lent_id: OnceLock::new(),
        })
    }

    fn mapped(&self) -> io::Result<&Arc<dyn FileHandle>> {
        if let Some(handle) = self.mapped.get() {
            return Ok(handle);
        }
        let handle = self
            .directory
            .get_file_handle(&self.path)
            .map_err(|e| io::Error::other(format!("{}: {e}", self.path.display())))?;
        let handle = self.mapped.get_or_init(|| handle);
        // Slicing a mapping touches none of its pages.
        let start = handle.read_bytes(0..self.len)?.as_slice().as_ptr() as usize;
        self.lent_id
            .get_or_init(|| self.lent.add(start..start + self.len, self.full.clone()));
        Ok(handle)
    }
}

impl Drop for ReadFile {
    fn drop(&mut self) {
        // The mapping may outlive this handle in the bytes it lent, but no longer as a
        // registered one: a writer handed them then copies them from memory.
        if let Some(id) = self.lent_id.get() {
            self.lent.remove(*id);
        }
    }
}

impl HasLen for ReadFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        check_range(&range, self.len)?;
        if range.len() > LARGEST_READ {
            return self.mapped()?.read_bytes(range);
        }
        read_bytes_at(&self.file, range)
    }
}

fn file_len(file: &File) -> io::Result<usize> {
    usize::try_from(file.metadata()?.len())
        .map_err(|_| io::Error::other("an index file larger than this machine can address"))
}

fn check_range(range: &Range<usize>, len: usize) -> io::Result<()> {
    if range.start > range.end || range.end > len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "bytes {}..{} asked of an index file of {len} bytes",
                range.start, range.end
            ),
        ));
    }
    Ok(())
}

/// `range` of `file`, read into a buffer of its own.
fn read_bytes_at(file: &File, range: Range<usize>) -> io::Result<OwnedBytes> {
    let mut buffer = vec![0; range.len()];
    read_at(file, &mut buffer, range.start as u64)?;
    Ok(OwnedBytes::new(buffer))
}

/// The stored text files mapped for large reads: where each lies in memory, to find the file
/// and offset of bytes a writer is handed. An entry lives as long as its [`ReadFile`], which
/// keeps the mapping alive, so an address range found here is that file's.
#[derive(Debug, Default)]
struct Lent {
    files: Mutex<Vec<LentFile>>,
    next_id: AtomicU64,
    /// Bytes copied file to file, for tests.
    copied: AtomicU64,
}

#[derive(Debug)]
struct LentFile {
    id: u64,
    memory: Range<usize>,
    path: PathBuf,
}

impl Lent {
    fn files(&self) -> std::sync::MutexGuard<'_, Vec<LentFile>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, memory: Range<usize>, path: PathBuf) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.files().push(LentFile { id, memory, path });
        id
    }

    fn remove(&self, id: u64) {
        self.files().retain(|f| f.id != id);
    }

    /// The file and offset `bytes` were mapped from, if they were.
    fn find(&self, bytes: &[u8]) -> Option<(PathBuf, u64)> {
        let start = bytes.as_ptr() as usize;
        let files = self.files();
        let file = holding(&files, start..start + bytes.len())?;
        Some((file.path.clone(), (start - file.memory.start) as u64))
    }

    /// Unmaps the pages of `run`, if it still lies in a lent file.
    fn release(&self, run: Range<usize>) {
        let files = self.files();
        if let Some(file) = holding(&files, run.clone()) {
            // SAFETY: the entry found is removed (under this lock) before its mapping is
            // dropped, so the mapping stays while the lock is held; stored text is mapped
            // read-only from its file, from `memory.start`.
            unsafe { unmap_pages(run, file.memory.start) };
        }
    }

    #[cfg(test)]
    fn copied(&self) -> u64 {
        self.copied.load(Ordering::Relaxed)
    }
}

/// The lent file whose mapping holds all of `memory`.
fn holding(files: &[LentFile], memory: Range<usize>) -> Option<&LentFile> {
    files
        .iter()
        .find(|f| f.memory.start <= memory.start && memory.end <= f.memory.end)
}

/// A lent run is written this much at a time: a caller that reads what it writes (tantivy's
/// `FooterProxy` hashes every byte) reads each piece before the next write, which then releases
/// that piece's pages.
const COPY_CHUNK: usize = 4 * LARGEST_READ;
/// Writes smaller than this are not looked up among the lent runs.
const COPY_MIN: usize = 64 << 10;
/// Pages are released in whole multiples of this, a multiple of any page size in use.
const RELEASE_ALIGN: usize = 64 << 10;

/// A new index file. Handed a run of a mapped stored text (a merge stacking an input's blocks),
/// it copies those bytes from their file, in the kernel where it can, rather than reading them
/// through the mapping; and once the caller has read them too, it releases their pages from
/// this process. At 1M records the stored text read through the mapping by the end of a
/// compaction was 2.7 GB counted against the process, for bytes it only copies.
struct WriteFile {
    file: File,
    lent: Arc<Lent>,
    /// The lent bytes written last, read by the caller by the next call.
    behind: Option<Range<usize>>,
}

impl WriteFile {
    fn copy_from(
        &mut self,
        mut source: File,
        path: &Path,
        offset: u64,
        len: usize,
    ) -> io::Result<()> {
        source.seek(SeekFrom::Start(offset))?;
        let copied = io::copy(&mut source.take(len as u64), &mut self.file)?;
        if copied != len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended {copied} bytes after {offset}, {len} expected",
                    path.display()
                ),
            ));
        }
        self.lent.copied.fetch_add(copied, Ordering::Relaxed);
        Ok(())
    }

    fn release_behind(&mut self) {
        if let Some(run) = self.behind.take() {
            self.lent.release(run);
        }
    }
}

impl Write for WriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.release_behind();
        if buf.len() >= COPY_MIN {
            if let Some((path, offset)) = self.lent.find(buf) {
                // A file gone since it was mapped is still mapped: copied from memory then.
                match File::open(&path) {
                    Ok(source) => {
                        let n = buf.len().min(COPY_CHUNK);
                        self.copy_from(source, &path, offset, n)?;
                        let start = buf.as_ptr() as usize;
                        self.behind = Some(start..start + n);
                        return Ok(n);
                    }
                    Err(e) => tracing::debug!(
                        error = %e, path = %path.display(),
                        "stored text copied from memory, its file could not be opened"
                    ),
                }
            }
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl TerminatingWrite for WriteFile {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.release_behind();
        self.file.flush()?;
        self.file.sync_data()
    }
}

impl Drop for WriteFile {
    fn drop(&mut self) {
        self.release_behind();
    }
}

/// A file a merge reads through once, front to back (each term's postings or positions in
/// turn), read a window at a time into a buffer rather than mapped. Mapped pages stay counted
/// against the process until unmapped, and a compaction of 1M records read 0.6 GB of its
/// inputs' postings and positions, all of it counted until the merge ended; unmapping behind
/// the merge still left 4–6 MB a file mapped (the page cache's large folios map whole).
#[derive(Debug)]
struct ReadThrough {
    file: File,
    len: usize,
    /// The bytes last read, and where they start: a term's postings are sliced from it.
    window: Mutex<(usize, OwnedBytes)>,
}

/// Bytes read at a time by [`ReadThrough`].
const THROUGH_WINDOW: usize = 256 << 10;

impl ReadThrough {
    fn new(file: File) -> io::Result<Self> {
        let len = file_len(&file)?;
        Ok(ReadThrough {
            file,
            len,
            window: Mutex::new((0, OwnedBytes::empty())),
        })
    }
}

impl HasLen for ReadThrough {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadThrough {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        check_range(&range, self.len)?;
        if range.len() >= THROUGH_WINDOW {
            return read_bytes_at(&self.file, range);
        }
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (start, bytes) = &*window;
        if !(*start <= range.start && range.end <= start + bytes.len()) {
            let end = (range.start + THROUGH_WINDOW).min(self.len);
            *window = (range.start, read_bytes_at(&self.file, range.start..end)?);
        }
        let (start, bytes) = &*window;
        Ok(bytes.slice(range.start - start..range.end - start))
    }
}

/// Unmaps from this process the pages of `memory`, part of a file mapped read-only from
/// `mapping_start`: from the [`RELEASE_ALIGN`] boundary at or before its start (the page
/// shared with bytes before it too, never before the mapping) to the one at or before its end.
/// Read again, they are mapped again from the page cache, with the same bytes.
///
/// # Safety
/// `mapping_start..memory.end` must lie in a read-only file mapping that stays mapped during
/// the call.
#[cfg(unix)]
unsafe fn unmap_pages(memory: Range<usize>, mapping_start: usize) {
    let start = (memory.start / RELEASE_ALIGN * RELEASE_ALIGN).max(mapping_start);
    let end = memory.end / RELEASE_ALIGN * RELEASE_ALIGN;
    if start < end {
        // SAFETY: by the caller's contract the range is mapped, from a file, read-only, and
        // starts on a page (the mapping's start or a multiple of every page size in use):
        // MADV_DONTNEED only drops its page table entries, and no byte read there changes.
        let failed =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) }
                != 0;
        if failed {
            tracing::debug!(error = %io::Error::last_os_error(), "stored text pages kept mapped");
        }
    }
}

#[cfg(not(unix))]
unsafe fn unmap_pages(_: Range<usize>, _: usize) {}

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

    /// Bytes that tell their positions apart.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

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
        let bytes = pattern(10_000);
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
        let bytes = pattern(3 * LARGEST_READ);
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

    /// What a merge does with an input's stored text: the large run it reads is written to the
    /// new file by a file-to-file copy, byte for byte, between what the buffered writer held.
    #[test]
    fn a_large_run_of_stored_text_is_written_by_copying_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(3 * LARGEST_READ);
        let files = written(dir.path(), "in.store", &bytes);
        let handle = files.get_file_handle(Path::new("in.store")).unwrap();
        let run = handle.read_bytes(7..7 + 2 * LARGEST_READ + 5).unwrap();

        let mut out = files.open_write(Path::new("out.store")).unwrap();
        out.write_all(b"head").unwrap();
        out.write_all(run.as_slice()).unwrap();
        out.write_all(b"tail").unwrap();
        out.flush().unwrap();
        out.into_inner().ok().unwrap().terminate().unwrap();

        assert_eq!(files.lent.copied(), run.len() as u64);
        let written = std::fs::read(dir.path().join("out.store")).unwrap();
        assert_eq!(written.len(), 8 + run.len());
        assert_eq!(&written[..4], b"head");
        assert_eq!(&written[4..4 + run.len()], &bytes[7..7 + run.len()]);
        assert_eq!(&written[4 + run.len()..], b"tail");
    }

    /// The resident size of this process's mapping holding `address`, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn resident_bytes_of_mapping_at(address: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            if let Some((Ok(start), Ok(end))) =
                range.map(|(a, b)| (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)))
            {
                inside = start <= address && address < end;
            } else if inside {
                if let Some(kb) = line.strip_prefix("Rss:") {
                    return kb
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<usize>()
                        .unwrap()
                        * 1024;
                }
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    /// Through tantivy's own writer, which hashes every byte written, a merge's large run of
    /// stored text ends written whole and none of its pages left counted against the process.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_copied_run_of_stored_text_leaves_no_page_mapped() {
        use tantivy::directory::ManagedDirectory;
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(16 * LARGEST_READ);
        let files = written(dir.path(), "in.store", &bytes);
        let handle = files.get_file_handle(Path::new("in.store")).unwrap();
        let run = handle.read_bytes(0..bytes.len()).unwrap();
        let at = run.as_slice().as_ptr() as usize;
        assert_eq!(resident_bytes_of_mapping_at(at), 0, "nothing read yet");

        let managed = ManagedDirectory::wrap(Box::new(files.clone())).unwrap();
        let mut out = managed.open_write(Path::new("out.store")).unwrap();
        out.write_all(run.as_slice()).unwrap();
        out.flush().unwrap();
        out.into_inner().ok().unwrap().terminate().unwrap();

        assert_eq!(files.lent.copied(), bytes.len() as u64);
        let written = std::fs::read(dir.path().join("out.store")).unwrap();
        assert!(written.len() > bytes.len(), "a footer follows");
        assert_eq!(&written[..bytes.len()], &bytes[..]);
        // At most the piece at either end, smaller than a release's alignment.
        let resident = resident_bytes_of_mapping_at(at);
        assert!(
            resident < 2 * RELEASE_ALIGN,
            "{resident} bytes still mapped"
        );
        // Read again, the bytes are there, and counted.
        assert_eq!(run.as_slice(), &bytes[..]);
        assert_eq!(resident_bytes_of_mapping_at(at), bytes.len());
    }

    /// A merge reading postings front to back, a term at a time, gets the bytes it asks for
    /// from a window read ahead, and after a jump back (a footer read first) as well.
    #[test]
    fn reading_through_reads_the_same_bytes_a_window_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(3 * THROUGH_WINDOW + 77);
        written(dir.path(), "p.idx", &bytes);
        let through = ReadThrough::new(File::open(dir.path().join("p.idx")).unwrap()).unwrap();
        let end = bytes.len();
        assert_eq!(through.len(), end);
        assert_eq!(
            through.read_bytes(end - 8..end).unwrap().as_slice(),
            &bytes[end - 8..]
        );
        let mut held = Vec::new();
        for start in (0..end).step_by(3_000) {
            let range = start..(start + 3_000).min(end);
            let read = through.read_bytes(range.clone()).unwrap();
            assert_eq!(read.as_slice(), &bytes[range]);
            held.push(read);
        }
        // Bytes handed out stay right once the window has moved on.
        assert_eq!(held[0].as_slice(), &bytes[..3_000]);
        assert_eq!(
            through.read_bytes(10..20).unwrap().as_slice(),
            &bytes[10..20]
        );
        let large = 5..5 + THROUGH_WINDOW + 1;
        assert_eq!(
            through.read_bytes(large.clone()).unwrap().as_slice(),
            &bytes[large]
        );
        assert!(through.read_bytes(end - 1..end + 1).is_err());
        assert!(through.read_bytes(end..end).unwrap().is_empty());
    }

    /// tantivy's merges open their inputs on threads this module knows as merge threads, map
    /// them apart and read postings and positions through; the merged index finds what its
    /// inputs did.
    #[test]
    fn merges_read_postings_and_positions_through() {
        use tantivy::schema::{Schema, STORED, TEXT};
        let dir = tempfile::tempdir().unwrap();
        let files = IndexFiles::open(dir.path()).unwrap();
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", TEXT | STORED);
        let index = tantivy::Index::create(
            files.clone(),
            schema.build(),
            tantivy::IndexSettings::default(),
        )
        .unwrap();
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        for part in 0..2 {
            for i in 0..100 {
                let doc = tantivy::doc!(text => format!("parola{part} numero{i} comune"));
                writer.add_document(doc).unwrap();
            }
            writer.commit().unwrap();
        }
        let segments = index.searchable_segment_ids().unwrap();
        assert_eq!(segments.len(), 2);
        assert_eq!(files.read_through.load(Ordering::Relaxed), 0);
        writer.merge(&segments).wait().unwrap();
        // Postings and positions, of each of the two inputs.
        assert_eq!(files.read_through.load(Ordering::Relaxed), 4);
        // The merge mapped its inputs apart, and nothing it mapped is left.
        let counters = files.merging.get_cache_info().counters;
        assert!(counters.miss >= 4, "{counters:?}");
        assert_eq!(
            files.merging.get_cache_info().mmapped,
            Vec::<PathBuf>::new()
        );
        let reader = index.reader().unwrap();
        let searcher = reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let parser = tantivy::query::QueryParser::for_index(&index, vec![text]);
        let count = |q: &str| {
            searcher
                .search(&parser.parse_query(q).unwrap(), &tantivy::collector::Count)
                .unwrap()
        };
        assert_eq!(count("comune"), 200);
        assert_eq!(count("parola1"), 100);
        assert_eq!(count("\"parola0 numero7\""), 1);
    }

    /// Bytes that outlive their file's handle, or that were never mapped from a file, are
    /// written from memory.
    #[test]
    fn other_large_writes_are_written_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(2 * LARGEST_READ);
        let files = written(dir.path(), "in.store", &bytes);
        let handle = files.get_file_handle(Path::new("in.store")).unwrap();
        let run = handle.read_bytes(0..bytes.len()).unwrap();
        drop(handle);
        assert!(
            files.lent.files().is_empty(),
            "the entry left with its handle"
        );

        let mut out = files.open_write(Path::new("out.store")).unwrap();
        out.write_all(run.as_slice()).unwrap();
        out.write_all(&bytes).unwrap();
        out.flush().unwrap();
        out.into_inner().ok().unwrap().terminate().unwrap();

        assert_eq!(files.lent.copied(), 0);
        let written = std::fs::read(dir.path().join("out.store")).unwrap();
        assert_eq!(written, [&bytes[..], &bytes[..]].concat());
    }

    #[test]
    fn a_new_file_that_exists_already_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = written(dir.path(), "x.idx", b"first");
        let err = files.open_write(Path::new("x.idx")).err();
        assert!(
            matches!(err, Some(OpenWriteError::FileAlreadyExists(_))),
            "{err:?}"
        );
        assert_eq!(std::fs::read(dir.path().join("x.idx")).unwrap(), b"first");
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
