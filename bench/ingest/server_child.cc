#include "bench/ingest/server_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace vigie::bench {
namespace {

// True, with its wait status, if `pid` has exited; never blocks.
bool Reaped(pid_t pid, int* status) {
  return ::waitpid(pid, status, WNOHANG) == pid;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status))
    return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

}  // namespace

absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in)
    return absl::NotFoundError(absl::StrCat("no /proc/", pid, "/status"));
  ProcessMemory memory;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    uint64_t* field = nullptr;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) field = &memory.rss_kb;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) field = &memory.hwm_kb;
    if (field == nullptr) continue;
    // "   123456 kB"
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), field)) {
      return absl::InternalError(absl::StrCat("cannot parse '", line, "'"));
    }
  }
  return memory;
}

absl::StatusOr<absl::Duration> ReadProcessCpuTime(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::NotFoundError(absl::StrCat("no /proc/", pid, "/stat"));
  }
  // "pid (comm) state ...": comm may hold spaces, so fields are counted
  // after its closing parenthesis; utime and stime are fields 14 and 15.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return absl::InternalError(absl::StrCat("cannot parse '", line, "'"));
  }
  const std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(line).substr(close + 2), ' ', absl::SkipEmpty());
  uint64_t utime = 0;
  uint64_t stime = 0;
  // Field 3 (state) is fields[0], so field n is fields[n - 3].
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InternalError(absl::StrCat("cannot parse '", line, "'"));
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(utime + stime) /
                       static_cast<double>(ticks > 0 ? ticks : 100));
}

absl::StatusOr<uint64_t> ReadProcessWrittenBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/io"));
  std::string line;
  while (in && std::getline(in, line)) {
    absl::string_view rest = line;
    uint64_t bytes = 0;
    if (absl::ConsumePrefix(&rest, "write_bytes:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &bytes)) {
      return bytes;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no write_bytes in /proc/", pid, "/io"));
}

absl::StatusOr<ServerChild> ServerChild::Start(
    const std::string& binary, const std::string& data_dir,
    const std::string& port_file, const std::string& log_path,
    absl::Duration timeout, std::vector<std::string> extra_args) {
  std::remove(port_file.c_str());
  std::vector<std::string> args = {binary,
                                   "--data_dir=" + data_dir,
                                   "--grpc_address=127.0.0.1:0",
                                   "--http_address=127.0.0.1:0",
                                   "--port_file=" + port_file,
                                   "--log_level=warning"};
  for (std::string& arg : extra_args) args.push_back(std::move(arg));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return absl::InternalError("cannot open " + log_path);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The server dies
    // with us, so that a killed run (a CTest timeout) leaves no server
    // behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);

  ServerChild child;
  child.pid_ = pid;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    // The server writes the file under another name and renames it, so a
    // port read here is whole.
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      child.address_ = absl::StrCat("127.0.0.1:", port);
      return child;
    }
    int status = 0;
    if (Reaped(pid, &status)) {
      child.pid_ = -1;
      return absl::InternalError(absl::StrCat("server exited at start (",
                                              DescribeExit(status), "); see ",
                                              log_path));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("server did not write its port within ",
                   absl::FormatDuration(timeout), "; see ", log_path));
}

ServerChild::ServerChild(ServerChild&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      address_(std::move(other.address_)) {}

ServerChild::~ServerChild() { Kill(); }

void ServerChild::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

absl::Status ServerChild::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("server not running");
  ::kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (absl::Now() < deadline) {
    if (Reaped(pid_, &status)) {
      pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return absl::OkStatus();
      }
      return absl::InternalError(
          absl::StrCat("server stopped with ", DescribeExit(status)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("server did not stop within ",
                                                  absl::FormatDuration(timeout),
                                                  " of SIGTERM; killed"));
}

}  // namespace vigie::bench
