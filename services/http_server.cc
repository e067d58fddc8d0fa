#include "services/http_server.h"

#include <httplib.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/report/report_links.h"
#include "services/report/report_page.h"

namespace vigie::services {
namespace {

int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// An HTML page, or a page saying why there is none.
void SendPage(const absl::StatusOr<std::string>& page, httplib::Response& res) {
  // The pages carry their style inline and need nothing else: a browser
  // refuses anything more, should a producer's string ever slip through
  // unescaped.
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; "
                 "img-src data:; base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (page.ok()) {
    res.set_content(*page, "text/html; charset=utf-8");
    return;
  }
  res.status = HttpStatus(page.status());
  const char* title = res.status == 404   ? "Not found"
                      : res.status == 400 ? "Bad request"
                      : res.status == 503 ? "Unavailable"
                                          : "Error";
  res.set_content(
      report::RenderErrorPage(title, std::string(page.status().message())),
      "text/html; charset=utf-8");
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, Handlers handlers,
    const std::optional<Tls>& tls) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_address must be host:port, got \"", address, "\""));
  }
  const std::string host = address.substr(0, colon);
  std::unique_ptr<HttpServer> http(new HttpServer());
  if (tls.has_value()) {
    auto https = std::make_unique<httplib::SSLServer>(
        tls->cert_file.c_str(), tls->key_file.c_str(),
        tls->client_ca_file.empty() ? nullptr : tls->client_ca_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "HTTPS: cannot load the certificate ", tls->cert_file, ", key ",
          tls->key_file,
          tls->client_ca_file.empty()
              ? std::string()
              : absl::StrCat(" or client CA ", tls->client_ca_file)));
    }
    http->server_ = std::move(https);
  } else {
    http->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *http->server_;
  server.Get("/metrics", [metrics = std::move(handlers.metrics)](
                             const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [ready = std::move(handlers.ready)](
                            const httplib::Request&, httplib::Response& res) {
    const absl::Status status = ready();
    if (status.ok()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content(absl::StrCat("not ready: ", status.message(), "\n"),
                      "text/plain");
    }
  });
  if (handlers.index) {
    server.Get("/", [index = std::move(handlers.index)](
                        const httplib::Request&, httplib::Response& res) {
      SendPage(index(), res);
    });
  }
  if (handlers.report) {
    server.Get(R"(/models/([^/]+))", [report = std::move(handlers.report)](
                                         const httplib::Request& req,
                                         httplib::Response& res) {
      std::string model_id;
      if (!report::DecodePathSegment(req.matches[1].str(), &model_id)) {
        SendPage(absl::InvalidArgumentError("the model id in the path is badly "
                                            "percent-encoded"),
                 res);
        return;
      }
      SendPage(report(model_id), res);
    });
  }
  const int bound = port == 0 ? server.bind_to_any_port(host)
                              : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               " for HTTP (address in use?)"));
  }
  http->address_ = absl::StrCat(host, ":", bound);
  http->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // Serving once this returns.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server.is_running()) {
    if (absl::Now() > deadline) {
      return absl::UnavailableError(absl::StrCat(
          "the HTTP server on ", http->address_, " did not start"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return http;
}

HttpServer::~HttpServer() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigie::services
