//! Every limit of the catalogue's data files, in one place.

/// Bytes of one data file at most; a larger file is one problem ("the file is larger than …")
/// and none of its rows is read.
pub const FILE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Problems one check of the data files reports at most; the ones after it are not reported
/// (fixing the first hundred usually fixes the rest).
pub const PROBLEMS_MAX: usize = 100;
