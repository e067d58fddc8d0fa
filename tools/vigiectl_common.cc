#include "tools/vigiectl_common.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/printing.h"
#include "tools/reports.h"
#include "tools/vigiectl_flags.h"

namespace vigie::tools {

bool IsConnectionFlag(const std::string& name) {
  return name == "server" || name == "connect_timeout" || name == "tls_ca" ||
         name == "tls_cert" || name == "tls_key" || name == "tls_server_name" ||
         name == "token_file";
}

int UsageError(absl::string_view message) {
  std::cerr << "vigiectl: " << message << "\nRun 'vigiectl help' for usage.\n";
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  std::cerr << "vigiectl: " << status << "\n";
  return kExitFailure;
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

absl::StatusOr<std::unique_ptr<VigieClient>> ConnectToServer() {
  VigieClient::ConnectOptions options;
  options.timeout = absl::GetFlag(FLAGS_connect_timeout);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("give --tls_cert and --tls_key together");
  }
  if (!options.tls_cert_file.empty() && options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert needs --tls_ca");
  }
  if (const std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    std::ifstream in(file);
    std::string token(std::istreambuf_iterator<char>(in), {});
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token_file \"", file, "\" cannot be read or is empty"));
    }
    options.token = std::move(token);
  }
  return VigieClient::Connect(absl::GetFlag(FLAGS_server), options);
}

absl::StatusOr<std::string> OutputFormat() {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format.empty() || format == "text") return std::string("text");
  if (format == "json") return format;
  return absl::InvalidArgumentError(
      absl::StrCat("--format is text or json here, got '", format, "'"));
}

int PrintAs(const std::string& format, const google::protobuf::Message& message,
            const std::function<void()>& text) {
  if (format == "text") {
    text();
    return kExitOk;
  }
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return Failure(json.status());
  std::cout << *json;
  return kExitOk;
}

std::optional<int> RejectFlagsOutside(const std::set<std::string>& set,
                                      const std::set<std::string>& allowed,
                                      absl::string_view command) {
  for (const std::string& name : set) {
    if (!IsConnectionFlag(name) && name != "timeout" &&
        !allowed.contains(name)) {
      return UsageError(
          absl::StrCat("--", name, " does not apply to ", command));
    }
  }
  return std::nullopt;
}

}  // namespace vigie::tools
