#include "tests/testutil/alertmanager_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigie::testutil {
namespace {

// A loopback port free now: the kernel's pick for a socket bound to port 0.
// Another process could take it before Alertmanager does; unlikely enough
// for a test.
absl::StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    ::close(fd);
    return absl::InternalError("bind to a free port failed");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

void KillAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string AlertmanagerProcess::Binary() {
  for (const char* path :
       {"/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<AlertmanagerProcess>> AlertmanagerProcess::Start(
    const std::string& dir, absl::Duration timeout) {
  const std::string binary = Binary();
  if (binary.empty()) {
    return absl::NotFoundError("prometheus-alertmanager is not installed");
  }
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  const std::string config = dir + "/alertmanager.yml";
  {
    // One receiver without integrations: alerts are kept and listed by the
    // API, sent nowhere. Grouping waits are short so that a test sees
    // changes quickly.
    std::ofstream out(config);
    out << "route:\n"
           "  receiver: nowhere\n"
           "  group_wait: 1s\n"
           "  group_interval: 1s\n"
           "  repeat_interval: 1h\n"
           "receivers:\n"
           "  - name: nowhere\n";
    if (!out) return absl::InternalError("cannot write " + config);
  }
  std::unique_ptr<AlertmanagerProcess> owned(new AlertmanagerProcess());
  AlertmanagerProcess& process = *owned;
  process.log_path_ = dir + "/alertmanager.log";
  process.url_ = absl::StrCat("http://127.0.0.1:", *port);
  std::vector<std::string> args = {
      binary,
      "--config.file=" + config,
      "--storage.path=" + dir + "/alertmanager-data",
      absl::StrCat("--web.listen-address=127.0.0.1:", *port),
      "--cluster.listen-address=",
      "--log.level=warn"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log =
      ::open(process.log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return absl::InternalError("cannot open " + process.log_path_);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  process.pid_ = pid;

  httplib::Client client(process.url_);
  client.set_connection_timeout(1, 0);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (auto result = client.Get("/-/ready"); result && result->status == 200) {
      return owned;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      return absl::InternalError(
          absl::StrCat("alertmanager exited at start with status ", status,
                       "; see ", process.log_path_));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("alertmanager not ready; see " +
                                     process.log_path_);
}

AlertmanagerProcess::AlertmanagerProcess(AlertmanagerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      url_(std::move(other.url_)),
      log_path_(std::move(other.log_path_)) {}

AlertmanagerProcess::~AlertmanagerProcess() { KillAndReap(pid_); }

}  // namespace vigie::testutil
