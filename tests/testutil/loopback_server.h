#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"

namespace vigie::testutil {

// The real server in process, on a free loopback port, with a client
// connected: what the end-to-end tests start, feed, query and restart on
// the same data folder. Header-only, for tests that link the services and
// the client.
class LoopbackServer {
 public:
  // Starts on `config` (grpc_address is set to a free loopback port);
  // `clock` must outlive the server.
  absl::Status Start(services::ServerConfig config,
                     const common::Clock* clock) {
    config.grpc_address = "127.0.0.1:0";
    if (!config.http_address.empty()) config.http_address = "127.0.0.1:0";
    config_ = std::move(config);
    clock_ = clock;
    return Start();
  }
  // Stops, then starts again on the same configuration and data folder.
  absl::Status Restart() {
    Stop();
    return Start();
  }
  void Stop() {
    client_.reset();
    server_.reset();
  }
  // Streams `events`; records a test failure unless all are accepted.
  void SendAll(std::vector<v1::Event> events) {
    const size_t n = events.size();
    VectorSource source(std::move(events));
    absl::StatusOr<tools::StreamResult> result =
        client_->StreamEvents(source, {});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->reply.accepted(), n);
    EXPECT_EQ(result->reply.rejected(), 0u);
  }
  // Not with TLS (see Start).
  tools::VigieClient& client() { return *client_; }
  services::VigieServer& server() { return *server_; }

 private:
  absl::Status Start() {
    absl::StatusOr<std::unique_ptr<services::VigieServer>> server =
        services::VigieServer::Start(config_, clock_);
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    // The client speaks plaintext: a test of TLS makes its own.
    if (config_.tls.enabled()) return absl::OkStatus();
    absl::StatusOr<std::unique_ptr<tools::VigieClient>> client =
        tools::VigieClient::Connect(server_->address());
    if (!client.ok()) return client.status();
    client_ = *std::move(client);
    return absl::OkStatus();
  }

  services::ServerConfig config_;
  const common::Clock* clock_ = nullptr;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

}  // namespace vigie::testutil
