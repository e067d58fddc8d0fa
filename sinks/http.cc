#include "sinks/http.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vigie::sinks {

absl::Status SplitHttpUrl(absl::string_view url, absl::string_view what,
                          std::string* origin, std::string* path) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") || rest.empty() ||
      rest.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " url must be http://host[:port][/path], got \"", url, "\""));
  }
  const size_t slash = rest.find('/');
  *origin = absl::StrCat("http://", rest.substr(0, slash));
  *path = slash == absl::string_view::npos
              ? ""
              : std::string(absl::StripSuffix(rest.substr(slash), "/"));
  return absl::OkStatus();
}

std::unique_ptr<httplib::Client> NewHttpClient(const std::string& origin,
                                               absl::Duration timeout) {
  auto client = std::make_unique<httplib::Client>(origin);
  const int64_t micros = absl::ToInt64Microseconds(timeout);
  const time_t seconds = static_cast<time_t>(micros / 1000000);
  const time_t rest = static_cast<time_t>(micros % 1000000);
  client->set_connection_timeout(seconds, rest);
  client->set_read_timeout(seconds, rest);
  client->set_write_timeout(seconds, rest);
  return client;
}

absl::Status PostJson(httplib::Client& client, const std::string& path,
                      const std::string& body, absl::string_view name) {
  const httplib::Result result = client.Post(path, body, "application/json");
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(name, ": ", httplib::to_string(result.error())));
  }
  if (result->status < 200 || result->status >= 300) {
    return absl::UnavailableError(absl::StrCat(
        name, ": HTTP ", result->status, " ", result->body.substr(0, 200)));
  }
  return absl::OkStatus();
}

}  // namespace vigie::sinks
