// vigie: the monitoring server. With no flags it runs on its embedded
// defaults: state in ./vigie-data, gRPC on 127.0.0.1:50051, the default
// policy of the Labelia referential, Kafka off.

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "services/config.h"
#include "services/server.h"

ABSL_FLAG(std::string, config, "",
          "Path of the server configuration (YAML; see deploy/vigie.yaml). "
          "Empty: the embedded defaults.");
ABSL_FLAG(std::string, data_dir, "",
          "Directory of the state (RocksDB). Overrides the configuration's "
          "data_dir.");
ABSL_FLAG(std::string, grpc_address, "",
          "host:port to serve gRPC on (port 0: any free port). Overrides the "
          "configuration's grpc_address.");
ABSL_FLAG(std::string, http_address, "",
          "host:port to serve /metrics, /healthz and /readyz on (port 0: any "
          "free port; \"off\": no HTTP server). Overrides the "
          "configuration's http_address.");
ABSL_FLAG(std::string, http_port_file, "",
          "When set, the HTTP port actually bound is written to this file "
          "once the server is ready.");
ABSL_FLAG(std::string, kafka_brokers, "",
          "Bootstrap brokers (host:port,...) to consume events from. "
          "Overrides the configuration's kafka_ingest.brokers, which must "
          "list the topics.");
ABSL_FLAG(std::string, port_file, "",
          "When set, the gRPC port actually bound is written to this file "
          "once the server is ready (for scripts and tests using port 0).");
ABSL_FLAG(std::string, log_level, "",
          "Lowest level logged: debug, info, warning or error. Overrides "
          "the configuration's log.level (default: info).");
ABSL_FLAG(std::string, log_format, "",
          "text or json (one object per line, for log collectors). "
          "Overrides the configuration's log.format (default: text).");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM or SIGINT, seconds calls in flight get to finish. "
          "SIGHUP reloads the policy from --config.");

namespace {

int Fail(const std::string& message) {
  VIGIE_LOG(Error, message);
  return 1;
}

// On SIGHUP: reads the configuration file again and puts its policy (inline,
// or its policy_file, read again too) in force. A file that does not parse
// or validate changes nothing: the error, with its line, is logged and the
// running policy stays. Only the policy is reloaded; other settings need a
// restart.
void ReloadPolicy(const std::string& config_path,
                  vigie::services::Pipeline& pipeline) {
  if (config_path.empty()) {
    VIGIE_LOG(Warning,
              "SIGHUP: running on the embedded defaults, there is no "
              "configuration file to reload");
    return;
  }
  absl::StatusOr<vigie::services::ServerConfig> config =
      vigie::services::LoadServerConfig(config_path);
  if (!config.ok()) {
    VIGIE_LOG(Error, "SIGHUP: policy not reloaded, the previous one stays: ",
              config.status().ToString());
    return;
  }
  const size_t rules = config->policy.rules.size();
  if (absl::Status status = pipeline.SetPolicy(std::move(config->policy));
      !status.ok()) {
    VIGIE_LOG(Error, "SIGHUP: ", status.ToString());
    return;
  }
  VIGIE_LOG(Info, "SIGHUP: policy reloaded from ", config_path, ": ", rules,
            " rules");
}

// Sets the log level named `level` ("" leaves it); false for an unknown
// name.
bool ApplyLogLevel(const std::string& level) {
  using vigie::common::LogLevel;
  if (level.empty()) return true;
  if (level == "debug") {
    vigie::common::SetMinLogLevel(LogLevel::kDebug);
  } else if (level == "info") {
    vigie::common::SetMinLogLevel(LogLevel::kInfo);
  } else if (level == "warning") {
    vigie::common::SetMinLogLevel(LogLevel::kWarning);
  } else if (level == "error") {
    vigie::common::SetMinLogLevel(LogLevel::kError);
  } else {
    return false;
  }
  return true;
}

// The same for the format.
bool ApplyLogFormat(const std::string& format) {
  using vigie::common::LogFormat;
  if (format.empty()) return true;
  if (format == "text") {
    vigie::common::SetLogFormat(LogFormat::kText);
  } else if (format == "json") {
    vigie::common::SetLogFormat(LogFormat::kJson);
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives each thread that allocates under contention an arena of
  // its own and rarely returns their free memory: gRPC's threads, which
  // parse every request, would each keep a request-sized heap. Two arenas
  // bound that on the two cores Vigie is sized for.
  mallopt(M_ARENA_MAX, 2);
  // Blocks of a megabyte or more (checkpoint batches, request buffers) are
  // mapped apart and unmapped when freed. glibc would otherwise raise this
  // threshold after the first such free and serve them from the heap,
  // which they leave fragmented.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  absl::SetProgramUsageMessage(
      "Vigie, a streaming model-monitoring service.\n"
      "Usage: vigie [--config=vigie.yaml] [--data_dir=DIR] "
      "[--grpc_address=HOST:PORT] [--http_address=HOST:PORT]\n"
      "Every setting is in the configuration file (see deploy/vigie.yaml); "
      "the flags override the few that differ per run.");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return std::string("vigie " VIGIE_VERSION "\n");
  };
  // --help lists the flags defined here (absl looks for a file named after
  // the program otherwise).
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "services/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  // Source paths as in the repository, not as where it was built.
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.rfind("services/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);

  // The flags apply at once (to errors in the configuration too), the
  // configuration's settings once it is read.
  if (!ApplyLogLevel(absl::GetFlag(FLAGS_log_level))) {
    return Fail(
        absl::StrCat("--log_level must be debug, info, warning or error, got '",
                     absl::GetFlag(FLAGS_log_level), "'"));
  }
  if (!ApplyLogFormat(absl::GetFlag(FLAGS_log_format))) {
    return Fail(absl::StrCat("--log_format must be text or json, got '",
                             absl::GetFlag(FLAGS_log_format), "'"));
  }

  // Signals are taken by sigwait below, so every thread started from here
  // on must inherit them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string config_path = absl::GetFlag(FLAGS_config);
  absl::StatusOr<vigie::services::ServerConfig> config =
      config_path.empty() ? vigie::services::DefaultServerConfig()
                          : vigie::services::LoadServerConfig(config_path);
  if (!config.ok()) return Fail(config.status().ToString());
  // Validated values.
  if (absl::GetFlag(FLAGS_log_level).empty()) ApplyLogLevel(config->log.level);
  if (absl::GetFlag(FLAGS_log_format).empty()) {
    ApplyLogFormat(config->log.format);
  }
  if (!absl::GetFlag(FLAGS_data_dir).empty()) {
    config->data_dir = absl::GetFlag(FLAGS_data_dir);
  }
  if (!absl::GetFlag(FLAGS_grpc_address).empty()) {
    config->grpc_address = absl::GetFlag(FLAGS_grpc_address);
  }
  if (const std::string http = absl::GetFlag(FLAGS_http_address);
      !http.empty()) {
    config->http_address = http == "off" ? std::string() : http;
    if (absl::Status s = config->Validate(); !s.ok()) {
      return Fail(absl::StrCat("--http_address: ", s.message()));
    }
  }
  if (!absl::GetFlag(FLAGS_kafka_brokers).empty()) {
    config->kafka_ingest.brokers = absl::GetFlag(FLAGS_kafka_brokers);
    // The configuration was validated without them: topics may be missing.
    if (absl::Status s = config->kafka_ingest.Validate(); !s.ok()) {
      return Fail(absl::StrCat("--kafka_brokers: ", s.message()));
    }
  }
  VIGIE_LOG(Info, "configuration: ",
            config_path.empty() ? "embedded defaults" : config_path, "; ",
            config->models.size(), " declared models, ",
            config->policy.rules.size(), " policy rules (",
            config->policy.referential, ")");

  vigie::common::RealClock clock;
  auto server = vigie::services::VigieServer::Start(*std::move(config), &clock);
  if (!server.ok()) return Fail(server.status().ToString());

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    // Written to a temporary name and renamed, so readers never see half.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    if (std::rename(tmp.c_str(), port_file.c_str()) != 0) {
      return Fail(absl::StrCat("cannot write --port_file ", port_file));
    }
  }

  const std::string http_port_file = absl::GetFlag(FLAGS_http_port_file);
  if (!http_port_file.empty()) {
    const std::string http = (*server)->http_address();
    const std::string tmp = http_port_file + ".tmp";
    std::ofstream(tmp) << http.substr(http.rfind(':') + 1) << "\n";
    if (http.empty() || std::rename(tmp.c_str(), http_port_file.c_str()) != 0) {
      return Fail(absl::StrCat("cannot write --http_port_file ", http_port_file,
                               http.empty() ? " (no HTTP server)" : ""));
    }
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGHUP) break;
    ReloadPolicy(config_path, (*server)->pipeline());
  }
  VIGIE_LOG(Info, "received signal ", signal_number);
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  VIGIE_LOG(Info, "stopped");
  return 0;
}
