#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/config.h"
#include "services/pipeline.h"

namespace grpc {
class Server;
}

namespace vigie::storage {
class StateStore;
}

namespace vigie::sinks {
class AlertDispatcher;
class DeadLetterFile;
}  // namespace vigie::sinks

namespace vigie::services {

class Acknowledgements;
class KafkaIngest;
class PaneExchange;
class AlertRouter;
class AlertWatchers;
class HttpServer;
class Silences;
class VigieService;

// A running Vigie: the state store in config.data_dir, the pipeline over it,
// the gRPC server on config.grpc_address, the HTTP server (metrics and
// probes) on config.http_address, and a maintenance thread that
// checkpoints every config.checkpoint_interval and expires pending joins
// every config.expiry_sweep_interval.
//
// Thread-safe. Destroying it shuts it down.
class VigieServer {
 public:
  // Opens the state (kUnavailable if another process holds it), loads it and
  // starts serving. A port of 0 in grpc_address picks a free port.
  static absl::StatusOr<std::unique_ptr<VigieServer>> Start(
      ServerConfig config, const common::Clock* clock);
  ~VigieServer();
  VigieServer(const VigieServer&) = delete;
  VigieServer& operator=(const VigieServer&) = delete;

  // The port gRPC listens on, and "host:port".
  int port() const { return port_; }
  const std::string& address() const { return address_; }
  // HTTP's "host:port" (the port chosen); empty without HTTP server.
  std::string http_address() const;

  // Ends the WatchAlerts streams (UNAVAILABLE), stops accepting calls,
  // lets calls in flight finish for up to `grace` (then cancels them),
  // stops the maintenance thread, takes a last
  // checkpoint (so that the next start replays nothing) and closes the
  // state. From its start /readyz answers 503 "shutting down", until the
  // server is destroyed. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

  Pipeline& pipeline() { return *pipeline_; }
  // The state the pipeline keeps (until Shutdown closes it).
  storage::StateStore& store() { return *store_; }
  // Null unless the configuration enables Kafka ingest.
  const KafkaIngest* kafka_ingest() const { return kafka_ingest_.get(); }

 private:
  VigieServer() = default;
  void MaintenanceLoop(absl::Duration checkpoint_interval,
                       absl::Duration sweep_interval);

  std::unique_ptr<storage::StateStore> store_;
  // Declared before the pipeline, which calls it: destroyed after it.
  std::unique_ptr<sinks::DeadLetterFile> dead_letters_;
  std::unique_ptr<sinks::AlertDispatcher> dispatcher_;
  // Where the pipeline's alerts go (watchers, then the dispatcher unless
  // silenced); also before the pipeline.
  std::unique_ptr<Silences> silences_;
  std::unique_ptr<Acknowledgements> acknowledgements_;
  std::unique_ptr<AlertWatchers> watchers_;
  std::unique_ptr<AlertRouter> router_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<VigieService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<KafkaIngest> kafka_ingest_;
  std::unique_ptr<PaneExchange> exchange_;
  // Started first, stopped last: its probes answer while the state loads.
  // Its handlers read the parts above only while phase_ is kReady.
  std::unique_ptr<HttpServer> http_;
  enum Phase { kLoading, kReady, kStopping };
  std::atomic<Phase> phase_{kLoading};
  // Held (shared) by a /metrics render; Shutdown takes it once after
  // leaving kReady, so that no render still reads what it takes down.
  absl::Mutex http_mu_;
  ServerConfig::Metrics metrics_options_;
  int port_ = 0;
  std::string address_;
  absl::Notification stop_;
  std::thread maintenance_;
  bool shut_down_ = false;
};

}  // namespace vigie::services
