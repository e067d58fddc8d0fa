#include "services/server.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/acknowledgements.h"
#include "services/alert_router.h"
#include "services/alert_watchers.h"
#include "services/grpc_service.h"
#include "services/http_server.h"
#include "services/kafka_ingest.h"
#include "services/metrics_export.h"
#include "services/pane_exchange.h"
#include "services/report/report_data.h"
#include "services/report/report_page.h"
#include "services/secret_file.h"
#include "services/silences.h"
#include "sinks/alert_dispatcher.h"
#include "sinks/alertmanager.h"
#include "sinks/dead_letters.h"
#include "sinks/kafka.h"
#include "sinks/webhook.h"
#include "storage/state_store.h"

namespace vigie::services {
namespace {

// Large enough for batches of thousands of events with features.
constexpr int kMaxMessageBytes = 64 << 20;

// The dispatcher of the configured alert sinks, which dead-letters to
// `dead_letters`; null when there are none.
absl::StatusOr<std::unique_ptr<sinks::AlertDispatcher>> StartDispatcher(
    const ServerConfig::Alerting& alerting,
    sinks::DeadLetterFile* dead_letters) {
  std::vector<std::unique_ptr<sinks::AlertSink>> sinks;
  if (!alerting.alertmanager_url.empty()) {
    sinks::AlertmanagerOptions options;
    options.url = alerting.alertmanager_url;
    options.timeout = alerting.alertmanager_timeout;
    options.external_url = alerting.external_url;
    // Alertmanager resolves a firing alert by itself if it is not sent
    // again within this, should Vigie stop.
    options.ends_after =
        std::max(absl::Minutes(5), 4 * alerting.resend_interval);
    ASSIGN_OR_RETURN(std::unique_ptr<sinks::AlertmanagerSink> sink,
                     sinks::AlertmanagerSink::Create(options));
    VIGIE_LOG(Info, "alerts go to ", sink->name());
    sinks.push_back(std::move(sink));
  }
  for (const ServerConfig::Alerting::Webhook& webhook : alerting.webhooks) {
    sinks::WebhookOptions options;
    options.url = webhook.url;
    options.timeout = webhook.timeout;
    ASSIGN_OR_RETURN(std::unique_ptr<sinks::WebhookSink> sink,
                     sinks::WebhookSink::Create(options));
    VIGIE_LOG(Info, "alerts go to ", sink->name());
    sinks.push_back(std::move(sink));
  }
  if (!alerting.kafka.brokers.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<sinks::KafkaSink> sink,
                     sinks::KafkaSink::Create(alerting.kafka));
    VIGIE_LOG(Info, "alerts go to ", sink->name());
    sinks.push_back(std::move(sink));
  }
  if (sinks.empty()) return nullptr;
  sinks::DispatcherOptions options;
  options.resend_interval = alerting.resend_interval;
  options.max_attempts = alerting.max_attempts;
  options.dead_letter = [dead_letters](
                            const std::string& sink,
                            absl::Span<const vigie::v1::Alert> alerts,
                            const absl::Status& error) {
    if (absl::Status written =
            dead_letters->Write(sink, alerts, error, absl::Now());
        !written.ok()) {
      VIGIE_LOG(Error, "cannot record ", alerts.size(),
                " dead-lettered alerts: ", written.ToString());
    } else {
      VIGIE_LOG(Error, alerts.size(), " alerts ", sink, " never took are in ",
                dead_letters->path());
    }
  };
  return std::make_unique<sinks::AlertDispatcher>(std::move(sinks), options);
}

// gRPC's credentials for `tls` (plaintext when it is off).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcCredentials(
    const ServerConfig::Tls& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls.client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(std::string cert,
                   ReadSecretFile(tls.cert_file, "tls.cert_file"));
  ASSIGN_OR_RETURN(std::string key,
                   ReadSecretFile(tls.key_file, "tls.key_file"));
  options.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  if (!tls.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs,
                     ReadSecretFile(tls.client_ca_file, "tls.client_ca_file"));
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<VigieServer>> VigieServer::Start(
    ServerConfig config, const common::Clock* clock) {
  std::unique_ptr<VigieServer> server(new VigieServer());
  server->metrics_options_ = config.metrics;
  if (!config.http_address.empty()) {
    HttpServer::Handlers handlers;
    VigieServer* raw = server.get();
    handlers.ready = [raw]() -> absl::Status {
      switch (raw->phase_.load()) {
        case kReady:
          return absl::OkStatus();
        case kLoading:
          return absl::UnavailableError(
              "loading the state (replaying the ingest log)");
        default:
          return absl::UnavailableError("shutting down");
      }
    };
    handlers.metrics = [raw] {
      absl::ReaderMutexLock lock(&raw->http_mu_);
      if (raw->phase_.load() != kReady) {
        // Not serving yet (or any more): only that it is up.
        return absl::StrCat(
            "# HELP vigie_build_info Vigie's version, as a label.\n"
            "# TYPE vigie_build_info gauge\n"
            "vigie_build_info{version=\"",
            VIGIE_VERSION, "\"} 1\n");
      }
      MetricsSources sources;
      sources.pipeline = raw->pipeline_.get();
      sources.store = raw->store_.get();
      sources.kafka = raw->kafka_ingest_.get();
      sources.dispatcher = raw->dispatcher_.get();
      return RenderMetrics(sources, raw->metrics_options_);
    };
    const bool model_wide = config.kafka_ingest.enabled() &&
                            !config.kafka_ingest.panes_topic.empty();
    handlers.index = [raw, clock]() -> absl::StatusOr<std::string> {
      absl::ReaderMutexLock lock(&raw->http_mu_);
      if (raw->phase_.load() != kReady) {
        return absl::UnavailableError(
            "Vigie is not ready: it is loading its state, or shutting down");
      }
      return report::RenderIndexPage(raw->pipeline_->ModelIds(), clock->Now());
    };
    handlers.report =
        [raw, clock, model_wide](
            const std::string& model_id) -> absl::StatusOr<std::string> {
      absl::ReaderMutexLock lock(&raw->http_mu_);
      if (raw->phase_.load() != kReady) {
        return absl::UnavailableError(
            "Vigie is not ready: it is loading its state, or shutting down");
      }
      Pipeline* pipeline = raw->pipeline_.get();
      report::ReportQueries queries;
      queries.metrics = [pipeline](const vigie::v1::GetMetricsRequest& r) {
        return pipeline->GetMetrics(r);
      };
      queries.alerts = [pipeline](const vigie::v1::ListAlertsRequest& r)
          -> absl::StatusOr<vigie::v1::ListAlertsReply> {
        return pipeline->ListAlerts(r);
      };
      report::ReportOptions options;
      options.model_wide = model_wide;
      ASSIGN_OR_RETURN(
          report::ReportData data,
          report::GatherReport(queries, model_id, options, clock->Now()));
      return report::RenderReportPage(data);
    };
    std::optional<HttpServer::Tls> https;
    if (config.tls.enabled()) {
      https = HttpServer::Tls{config.tls.cert_file, config.tls.key_file,
                              config.tls.client_ca_file};
    }
    ASSIGN_OR_RETURN(
        server->http_,
        HttpServer::Start(config.http_address, std::move(handlers), https));
    VIGIE_LOG(Info,
              "serving HTTP (/metrics, /healthz, /readyz, /models/...) on ",
              server->http_->address());
    if (config.external_url.empty()) {
      // The alerts' links to the report pages (Alert.report_url). A
      // wildcard address is no place to browse to: the host's name is.
      std::string address = server->http_->address();
      const size_t colon = address.rfind(':');
      const std::string host = address.substr(0, colon);
      if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
        char name[256] = {};
        if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') {
          address = absl::StrCat(name, address.substr(colon));
        }
      }
      config.external_url =
          absl::StrCat(config.tls.enabled() ? "https://" : "http://", address);
    }
  }
  storage::StateStoreOptions store_options;
  store_options.path = config.data_dir;
  store_options.block_cache_bytes = config.block_cache_bytes;
  store_options.write_buffer_bytes = config.write_buffer_bytes;
  // Above the log that accumulates between two checkpoints, so that its
  // records are deleted before their memtable is flushed.
  store_options.ingest_log_buffer_bytes = static_cast<size_t>(
      std::max(2 * config.checkpoint_bytes, uint64_t{4} << 20));
  store_options.sync_commits = config.sync_writes;
  store_options.direct_io = config.direct_io;
  ASSIGN_OR_RETURN(server->store_, storage::StateStore::Open(store_options));
  if (config.direct_io && !server->store_->direct_io()) {
    VIGIE_LOG(Warning, "the file system of ", config.data_dir,
              " refuses direct I/O: table files go through the page cache "
              "(storage.direct_io)");
  }
  const std::string requested = config.grpc_address;
  const absl::Duration checkpoint = config.checkpoint_interval;
  const absl::Duration sweep = config.expiry_sweep_interval;
  const KafkaIngestOptions kafka_ingest = config.kafka_ingest;
  const ServerConfig::Tls tls = config.tls;
  const std::string bearer_token_file = config.bearer_token_file;
  server->dead_letters_ = std::make_unique<sinks::DeadLetterFile>(
      config.data_dir + "/dead_letters.jsonl");
  ASSIGN_OR_RETURN(
      server->dispatcher_,
      StartDispatcher(config.alerting, server->dead_letters_.get()));
  ASSIGN_OR_RETURN(
      server->pipeline_,
      Pipeline::Create(std::move(config), server->store_.get(), clock));
  ASSIGN_OR_RETURN(server->silences_, Silences::Load(server->store_.get()));
  ASSIGN_OR_RETURN(server->acknowledgements_,
                   Acknowledgements::Load(server->store_.get()));
  server->watchers_ = std::make_unique<AlertWatchers>();
  AlertRouter::Delivery delivery;
  if (sinks::AlertDispatcher* dispatcher = server->dispatcher_.get();
      dispatcher != nullptr) {
    delivery.deliver = [dispatcher](const vigie::v1::Alert& alert,
                                    bool transition) {
      dispatcher->Update(alert, transition);
    };
    delivery.withdraw = [dispatcher](const std::string& fingerprint) {
      dispatcher->Withdraw(fingerprint);
    };
  }
  server->router_ = std::make_unique<AlertRouter>(
      server->silences_.get(), server->acknowledgements_.get(),
      server->watchers_.get(), std::move(delivery), clock);
  if (kafka_ingest.enabled() && !kafka_ingest.panes_topic.empty()) {
    // Every replica evaluates the model-wide windows; only the group's
    // leader delivers (KafkaIngest's "Leadership"), from when it leads.
    server->router_->SetDelivering(false);
  }
  {
    // Seeded before the listener replays the firing alerts into it.
    vigie::v1::ListAlertsRequest all;
    all.set_include_resolved(true);
    const vigie::v1::ListAlertsReply listed =
        server->pipeline_->ListAlerts(all);
    server->router_->Seed({listed.alerts().begin(), listed.alerts().end()});
  }
  server->pipeline_->SetAlertListener(
      [router = server->router_.get()](const vigie::v1::Alert& alert,
                                       bool transition) {
        router->Update(alert, transition);
      });
  server->router_->StartTimer();
  server->service_ = std::make_unique<VigieService>(
      server->pipeline_.get(),
      VigieService::AlertParts{server->router_.get(), server->silences_.get(),
                               server->acknowledgements_.get(), clock});

  // The standard health checking protocol (grpc.health.v1.Health) and
  // server reflection, so that grpc_health_probe and grpcurl work. Both are
  // switched on process-wide by gRPC's own functions, before building.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  if (!bearer_token_file.empty()) {
    ASSIGN_OR_RETURN(
        std::string token,
        ReadSecretFile(bearer_token_file, "auth.bearer_token_file"));
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "auth.bearer_token_file \"", bearer_token_file, "\" holds no token"));
    }
    server->service_->RequireBearerToken(std::move(token));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   GrpcCredentials(tls));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(requested, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", requested,
                     " (address in use, or not a host:port)"));
  }
  const size_t colon = requested.rfind(':');
  server->address_ =
      absl::StrCat(requested.substr(0, colon), ":", server->port_);
  if (kafka_ingest.enabled() && !kafka_ingest.panes_topic.empty()) {
    PaneExchangeOptions exchange;
    exchange.brokers = kafka_ingest.brokers;
    exchange.topic = kafka_ingest.panes_topic;
    exchange.replica = kafka_ingest.replica_id;
    exchange.group_id = kafka_ingest.group_id;
    if (exchange.replica.empty()) {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      exchange.replica = host;
    }
    exchange.properties = kafka_ingest.properties;
    ASSIGN_OR_RETURN(server->exchange_, PaneExchange::Start(exchange, clock));
    server->pipeline_->SetPaneExchange(server->exchange_.get());
  }
  if (kafka_ingest.enabled()) {
    // Last: it ingests at once, and a failure to start it stops the
    // server rather than leave it serving without its main input.
    std::function<void(bool)> on_leadership;
    if (server->exchange_ != nullptr) {
      on_leadership = [router = server->router_.get()](bool leads) {
        router->SetDelivering(leads);
      };
    }
    ASSIGN_OR_RETURN(
        server->kafka_ingest_,
        KafkaIngest::Start(kafka_ingest, server->pipeline_.get(),
                           server->store_.get(), std::move(on_leadership)));
  }
  server->maintenance_ = std::thread([raw = server.get(), checkpoint, sweep] {
    raw->MaintenanceLoop(checkpoint, sweep);
  });
  VIGIE_LOG(Info, "serving gRPC on ", server->address_, ", state in ",
            store_options.path);
  server->phase_.store(kReady);
  return server;
}

void VigieServer::MaintenanceLoop(absl::Duration checkpoint_interval,
                                  absl::Duration sweep_interval) {
  absl::Time next_sweep = absl::Now() + sweep_interval;
  while (!stop_.WaitForNotificationWithTimeout(checkpoint_interval)) {
    // Rules of models that must send events are evaluated with time, not
    // only with events: silence is what they watch (rule O2).
    pipeline_->EvaluateLiveness();
    if (absl::Status status = pipeline_->Checkpoint(); !status.ok()) {
      VIGIE_LOG(Error,
                "checkpoint failed (the ingest log keeps every "
                "acknowledged call; retrying): ",
                status.ToString());
    }
    if (absl::Now() < next_sweep) continue;
    next_sweep = absl::Now() + sweep_interval;
    if (absl::StatusOr<uint64_t> swept = pipeline_->SweepExpired();
        !swept.ok()) {
      VIGIE_LOG(Error, "expiry sweep failed: ", swept.status().ToString());
    }
  }
}

void VigieServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  // Not ready from now on: /readyz says so, and /metrics reads nothing
  // that is being taken down.
  phase_.store(kStopping);
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    // Health checks say NOT_SERVING while calls in flight finish.
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  { absl::MutexLock wait_for_renders(&http_mu_); }
  // A server whose Start failed part way has only some parts to stop.
  // Watch streams never end by themselves: ended first, so that they do
  // not hold the server's grace period.
  if (watchers_ != nullptr) {
    watchers_->Shutdown(absl::UnavailableError("the server is shutting down"));
  }
  if (server_ != nullptr) {
    VIGIE_LOG(Info, "shutting down");
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(grace));
    server_->Wait();
  }
  // Ingests what it gathered and leaves its group before the last
  // checkpoint.
  kafka_ingest_.reset();
  stop_.Notify();
  if (maintenance_.joinable()) maintenance_.join();
  if (router_ != nullptr) router_->StopTimer();  // It may deliver.
  if (pipeline_ != nullptr) {
    if (absl::Status status = pipeline_->Checkpoint(); !status.ok()) {
      VIGIE_LOG(Error,
                "last checkpoint failed (the next start replays the "
                "ingest log): ",
                status.ToString());
    }
  }
  pipeline_.reset();
  exchange_.reset();  // After the pipeline, which publishes to it.
  // After the pipeline, which notifies it; makes a last delivery attempt.
  dispatcher_.reset();
  router_.reset();
  acknowledgements_.reset();
  silences_.reset();
  store_.reset();  // Closes RocksDB: every commit is already in its WAL.
  // The HTTP server stays up, saying "not ready", until the server is
  // destroyed: probes see a stopped server, not a vanished one.
}

std::string VigieServer::http_address() const {
  return http_ != nullptr ? http_->address() : std::string();
}

VigieServer::~VigieServer() {
  Shutdown();
  http_.reset();  // Before the members its handlers read.
}

}  // namespace vigie::services
