#include "tests/testutil/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigie::testutil {

absl::StatusOr<ServerProcess> ServerProcess::Start(
    const std::string& binary, const std::string& data_dir,
    const std::string& log_path, std::vector<std::string> extra_args,
    absl::Duration timeout) {
  const std::string port_file = data_dir + ".port";
  std::remove(port_file.c_str());
  std::vector<std::string> args = {
      binary, "--data_dir=" + data_dir, "--grpc_address=127.0.0.1:0",
      "--http_address=127.0.0.1:0", "--port_file=" + port_file};
  for (std::string& arg : extra_args) args.push_back(std::move(arg));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return absl::InternalError("cannot open " + log_path);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);

  ServerProcess process;
  process.pid_ = pid;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      process.address_ = absl::StrCat("127.0.0.1:", port);
      return process;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "server exited at start with status ", status, "; see ", log_path));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError("server did not report its port; see " +
                                     log_path);
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      address_(std::move(other.address_)) {}

ServerProcess& ServerProcess::operator=(ServerProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      Signal(SIGKILL);
      Wait();
    }
    pid_ = std::exchange(other.pid_, -1);
    address_ = std::move(other.address_);
  }
  return *this;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    Signal(SIGKILL);
    Wait();
  }
}

void ServerProcess::Signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ServerProcess::Wait() {
  int status = 0;
  while (pid_ > 0 && ::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

}  // namespace vigie::testutil
