#pragma once

#include <httplib.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace vigie::testutil {

// A real HTTP server on a loopback port, for tests of webhook delivery: it
// answers 503 to its first `failures` POSTs to /hook (`failures` < 0: to
// all) and 200 after, keeping the bodies it accepted.
class HttpReceiver {
 public:
  explicit HttpReceiver(int failures = 0) : failures_(failures) {
    server_.Post("/hook", [this](const httplib::Request& request,
                                 httplib::Response& response) {
      absl::MutexLock lock(&mu_);
      ++requests_;
      if (failures_ < 0 || requests_ <= failures_) {
        response.status = 503;
        response.set_content("busy", "text/plain");
        return;
      }
      bodies_.push_back(request.body);
      response.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) absl::SleepFor(absl::Milliseconds(1));
  }
  ~HttpReceiver() {
    server_.stop();
    thread_.join();
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/hook");
  }
  int requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<std::string> bodies() {
    absl::MutexLock lock(&mu_);
    return bodies_;
  }

 private:
  const int failures_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  int requests_ = 0;
  std::vector<std::string> bodies_;
};

}  // namespace vigie::testutil
