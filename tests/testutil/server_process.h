#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigie::testutil {

// The real `vigie` binary as a child process on a free loopback port, for
// tests that must kill it (SIGKILL) or stop it (SIGTERM) for real.
// Not thread-safe, except Kill(), which may be called from another thread.
class ServerProcess {
 public:
  // Starts `binary` with --data_dir=`data_dir`, a free port and `extra_args`,
  // and waits up to `timeout` for it to report its port. The process's
  // stderr goes to `log_path` (appended).
  static absl::StatusOr<ServerProcess> Start(
      const std::string& binary, const std::string& data_dir,
      const std::string& log_path, std::vector<std::string> extra_args = {},
      absl::Duration timeout = absl::Seconds(60));
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ~ServerProcess();  // SIGKILLs a process still running.

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` (async-signal-safe; callable from another thread).
  void Signal(int signal) const;
  // Waits for the process to exit; its exit status as waitpid reports it.
  int Wait();

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace vigie::testutil
