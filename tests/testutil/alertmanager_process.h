#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigie::testutil {

// A real Prometheus Alertmanager (the Debian package's binary) as a child
// process on a free loopback port, with a configuration of one receiver that
// goes nowhere, clustering off, and its state in `dir`. For tests of alert
// delivery. Not thread-safe.
class AlertmanagerProcess {
 public:
  // The binary, or empty when it is not installed (deploy/setup.sh installs
  // it; a test skips with a message without it).
  static std::string Binary();
  // What a test that needs it says when it skips without it.
  static constexpr const char* kNotInstalled =
      "prometheus-alertmanager is not installed (run deploy/setup.sh)";
  // Starts it and waits up to `timeout` until it reports ready. Its output
  // goes to `dir`/alertmanager.log.
  static absl::StatusOr<std::unique_ptr<AlertmanagerProcess>> Start(
      const std::string& dir, absl::Duration timeout = absl::Seconds(30));
  AlertmanagerProcess(AlertmanagerProcess&& other) noexcept;
  AlertmanagerProcess& operator=(AlertmanagerProcess&&) = delete;
  ~AlertmanagerProcess();  // SIGKILLs it.

  // "http://127.0.0.1:<port>".
  const std::string& url() const { return url_; }
  const std::string& log_path() const { return log_path_; }

 private:
  AlertmanagerProcess() = default;
  pid_t pid_ = -1;
  std::string url_;
  std::string log_path_;
};

}  // namespace vigie::testutil
