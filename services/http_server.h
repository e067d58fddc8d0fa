#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace vigie::services {

// Vigie's HTTP endpoints (cpp-httplib), on a port of their own:
//   GET /metrics  Prometheus's text format (metrics_export.h)
//   GET /healthz  200 "ok" while the process serves HTTP at all
//   GET /readyz   200 "ready" once the state is loaded and Vigie ingests;
//                 503 with the reason before (loading, replaying) and
//                 while it shuts down
//   GET /         the models, each linking to its report page
//   GET /models/<model id, percent-encoded>
//                 the model's report page (services/report/report_page.h);
//                 404 for an unknown model, 503 before Vigie is ready
// HTML pages are sent with a Content-Security-Policy that allows no
// script and no external asset: the page needs neither.
// Each handler runs on the server's own threads.
class HttpServer {
 public:
  struct Handlers {
    // The /metrics body.
    std::function<std::string()> metrics;
    // ok when ready; otherwise why not (the /readyz body).
    std::function<absl::Status()> ready;
    // The / page. Optional: without it, / is 404.
    std::function<absl::StatusOr<std::string>()> index;
    // The report page of a model (its id decoded). Optional.
    std::function<absl::StatusOr<std::string>(const std::string& model_id)>
        report;
  };

  // HTTPS: PEM files of the certificate chain and key, and of the CA whose
  // certificates clients must present (empty: none asked for).
  struct Tls {
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
  };

  // Listens on `address` (host:port; port 0 picks a free one), over TLS
  // when `tls` is given. kUnavailable when it cannot; kInvalidArgument for
  // certificates that do not load.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, Handlers handlers,
      const std::optional<Tls>& tls = std::nullopt);
  // Stops listening and waits for the handlers in flight.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // host:port, with the port chosen.
  const std::string& address() const { return address_; }

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace vigie::services
