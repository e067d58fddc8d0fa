#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace httplib {
class Client;
}

namespace vigie::sinks {

// Splits "http://host[:port][/path]" into the client's origin
// ("http://host:port") and the path ("/path", without a trailing '/', or
// empty). kInvalidArgument, naming `what`, for anything else (https is not
// supported: put a TLS proxy in front).
absl::Status SplitHttpUrl(absl::string_view url, absl::string_view what,
                          std::string* origin, std::string* path);

// An HTTP client of `origin` whose connect, read and write each time out
// after `timeout`.
std::unique_ptr<httplib::Client> NewHttpClient(const std::string& origin,
                                               absl::Duration timeout);

// POSTs `body` as JSON to `path`; kUnavailable, naming `name` (the sink),
// when there is no answer or it is not a 2xx.
absl::Status PostJson(httplib::Client& client, const std::string& path,
                      const std::string& body, absl::string_view name);

}  // namespace vigie::sinks
