#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace vigie::storage {

// Whether files in the directory `dir` (which must exist) can be written
// with direct I/O (O_DIRECT), bypassing the operating system's page cache.
// Some file systems refuse it (tmpfs before Linux 6.6, some network and
// FUSE file systems); RocksDB would then fail its first flush rather than
// fall back, so the state store asks first. Writes one 4 KiB block to a
// probe file and removes it. false when the file system refuses the flag
// or the write (EINVAL); an error for anything else, such as a directory
// that cannot be written.
absl::StatusOr<bool> DirectIoSupported(const std::string& dir);

}  // namespace vigie::storage
