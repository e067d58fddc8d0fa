#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigie::bench {

// The resident memory of a process, from /proc/<pid>/status.
struct ProcessMemory {
  uint64_t rss_kb = 0;  // VmRSS: resident now.
  uint64_t hwm_kb = 0;  // VmHWM: the peak resident size so far.
};

// kNotFound if the process is gone or the kernel has no /proc.
absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid);

// CPU time (user + system, every thread) `pid` has used so far, from
// /proc/<pid>/stat. kNotFound if the process is gone.
absl::StatusOr<absl::Duration> ReadProcessCpuTime(pid_t pid);

// Bytes `pid` has caused to be written to storage so far (write_bytes of
// /proc/<pid>/io: what reached the block layer, page cache write-back
// included), as Vigie's own vigie_process_written_bytes_total counts them.
// kNotFound if the process is gone.
absl::StatusOr<uint64_t> ReadProcessWrittenBytes(pid_t pid);

// The real `vigie` binary as a child process serving gRPC on a free
// loopback port; it is killed if this process dies. A small equivalent of
// tests/testutil/ServerProcess, which links GoogleTest and so is absent from
// builds without tests. Not thread-safe.
class ServerChild {
 public:
  // Starts `binary` with --data_dir, --grpc_address=127.0.0.1:0,
  // --port_file=`port_file`, --log_level=warning and `extra_args`, its
  // stderr appended to `log_path`, and waits up to `timeout` for it to write
  // its port.
  static absl::StatusOr<ServerChild> Start(
      const std::string& binary, const std::string& data_dir,
      const std::string& port_file, const std::string& log_path,
      absl::Duration timeout, std::vector<std::string> extra_args = {});
  ServerChild(ServerChild&& other) noexcept;
  ServerChild& operator=(ServerChild&& other) = delete;
  ~ServerChild();  // SIGKILLs a process still running.

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

  // Sends SIGTERM and waits up to `timeout` for a clean exit, then SIGKILLs.
  // OK only if the server exited by itself with status 0.
  absl::Status Stop(absl::Duration timeout);

  // SIGKILLs the server, as a crash would (nothing flushed, no shutdown),
  // and reaps it. Does nothing if it is not running.
  void Kill();

 private:
  ServerChild() = default;
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace vigie::bench
