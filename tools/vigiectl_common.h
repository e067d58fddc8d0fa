#pragma once

// What vigiectl's subcommands share: exit codes, errors, the connection to
// the server, the output format.

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "tools/client.h"

namespace vigie::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Whether `name` is one of the flags every subcommand takes: where the
// server is and how to reach it.
bool IsConnectionFlag(const std::string& name);
// Prints the message and a pointer to `vigiectl help`; kExitUsage.
int UsageError(absl::string_view message);
// Prints the status; kExitFailure.
int Failure(const absl::Status& status);
bool StderrIsTerminal();
// A client for --server, with the TLS and token flags.
absl::StatusOr<std::unique_ptr<VigieClient>> ConnectToServer();
// --format where it is text (the default) or json.
absl::StatusOr<std::string> OutputFormat();
// Prints `message` with `text`, or as JSON, as `format` says.
int PrintAs(const std::string& format, const google::protobuf::Message& message,
            const std::function<void()>& text);
// If one of the flags `set` is neither a connection flag nor --timeout nor
// one `command` takes (`allowed`), the usage error naming it (kExitUsage).
std::optional<int> RejectFlagsOutside(const std::set<std::string>& set,
                                      const std::set<std::string>& allowed,
                                      absl::string_view command);

}  // namespace vigie::tools
