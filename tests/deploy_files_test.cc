// deploy/'s files against what they describe: the Dockerfile's runtime
// packages against the libraries the built binaries need (readelf, dpkg),
// the compose file's wiring against its Vigie configuration (loaded by
// Vigie's reader) and Prometheus's, and the Grafana dashboard's queries
// against what the real server's /metrics exports.

#include <httplib.h>
#include <stdio.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

const std::string kDeploy = std::string(VIGIE_SOURCE_DIR) + "/deploy";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  pclose(pipe);
  return out;
}

// The Debian package that ships the library `name` (e.g. libfoo.so.1) as
// `binary` loads it (the path the dynamic loader resolves).
std::string PackageOf(const std::string& binary, const std::string& name) {
  // dpkg knows a file by the path its package installed, which with merged
  // /usr may be the link's or its target's.
  const std::string line = Output(absl::StrCat(
      "f=$(ldd '", binary, "' | awk '$1 == \"", name,
      "\" {print $3}'); [ -n \"$f\" ] && { dpkg -S \"$f\" 2>/dev/null || "
      "dpkg -S \"$(readlink -f \"$f\")\" 2>/dev/null; } | head -n 1"));
  return std::string(line.substr(0, line.find(':')));
}

TEST(DeployFilesTest, TheImageInstallsEveryLibraryTheBinariesNeed) {
  const std::string dockerfile = ReadFile(kDeploy + "/Dockerfile");
  ASSERT_FALSE(dockerfile.empty());
  // The runtime stage: after the second FROM.
  const size_t runtime = dockerfile.find("FROM debian:12-slim");
  ASSERT_NE(runtime, std::string::npos);
  EXPECT_NE(dockerfile.find("FROM debian:12 AS build"), std::string::npos);
  const std::string stage = dockerfile.substr(runtime);
  const size_t from = stage.find("--no-install-recommends");
  const size_t to = stage.find("&& rm -rf /var/lib/apt/lists");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  std::set<std::string> installed;
  for (absl::string_view word :
       absl::StrSplit(stage.substr(from + 23, to - from - 23),
                      absl::ByAnyChar(" \n\\"), absl::SkipEmpty())) {
    installed.insert(std::string(word));
  }
  // In every Debian image already.
  for (const char* base : {"libc6", "libgcc-s1", "libstdc++6"}) {
    installed.insert(base);
  }
  EXPECT_NE(stage.find("USER 10001"), std::string::npos) << "not non-root";
  EXPECT_NE(stage.find("EXPOSE 50051 9464"), std::string::npos);

  for (const std::string binary : {VIGIE_SERVER_BINARY, VIGIECTL_BINARY}) {
    const std::string dynamic = Output("readelf -d '" + binary + "'");
    std::regex needed(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
    int libraries = 0;
    for (std::sregex_iterator it(dynamic.begin(), dynamic.end(), needed), end;
         it != end; ++it) {
      ++libraries;
      const std::string library = (*it)[1];
      const std::string package = PackageOf(binary, library);
      EXPECT_FALSE(package.empty()) << library << " belongs to no package";
      EXPECT_TRUE(installed.contains(package))
          << binary << " needs " << library << " from " << package
          << ", which deploy/Dockerfile's runtime stage does not install";
    }
    EXPECT_GT(libraries, 5) << binary;
  }
}

TEST(DeployFilesTest, ComposeWiresVigieToItsNeighbours) {
  const YAML::Node compose = YAML::LoadFile(kDeploy + "/compose/compose.yaml");
  std::set<std::string> services;
  for (const auto& service : compose["services"]) {
    services.insert(service.first.as<std::string>());
  }
  EXPECT_EQ(services, (std::set<std::string>{"vigie", "kafka", "prometheus",
                                             "alertmanager", "grafana"}));
  EXPECT_EQ(
      compose["services"]["vigie"]["build"]["dockerfile"].as<std::string>(),
      "deploy/Dockerfile");

  ASSERT_OK_AND_ASSIGN(
      services::ServerConfig config,
      services::LoadServerConfig(kDeploy + "/compose/vigie.yaml"));
  // Vigie reaches the broker and the Alertmanager by their service names.
  EXPECT_TRUE(services.contains(config.kafka_ingest.brokers.substr(
      0, config.kafka_ingest.brokers.find(':'))));
  EXPECT_TRUE(absl::StartsWith(config.alerting.alertmanager_url,
                               "http://alertmanager:"));
  // Prometheus scrapes Vigie's HTTP port.
  const std::string port =
      config.http_address.substr(config.http_address.rfind(':') + 1);
  const YAML::Node prometheus =
      YAML::LoadFile(kDeploy + "/compose/prometheus.yml");
  EXPECT_EQ(prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0]
                .as<std::string>(),
            "vigie:" + port);
}

TEST(DeployFilesTest, TheDashboardQueriesWhatVigieExports) {
  google::protobuf::Struct dashboard;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          ReadFile(kDeploy + "/grafana/vigie-dashboard.json"), &dashboard)
          .ok());
  std::set<std::string> families;
  std::set<std::string> metrics;
  const std::regex family(R"(\b(vigie_[a-z_]+))");
  const std::regex metric(R"(metric="([^"]+)\")");
  int panels = 0;
  for (const auto& panel :
       dashboard.fields().at("panels").list_value().values()) {
    ++panels;
    EXPECT_FALSE(
        panel.struct_value().fields().at("description").string_value().empty());
    for (const auto& target :
         panel.struct_value().fields().at("targets").list_value().values()) {
      const std::string expr =
          target.struct_value().fields().at("expr").string_value();
      for (std::sregex_iterator it(expr.begin(), expr.end(), family), end;
           it != end; ++it) {
        families.insert((*it)[1]);
      }
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end;
           it != end; ++it) {
        metrics.insert((*it)[1]);
      }
    }
  }
  EXPECT_GE(panels, 8);

  // What the real server exports once a binary classifier's stream came.
  testutil::TempDir dir;
  common::FakeClock clock;
  absl::StatusOr<services::ServerConfig> config =
      services::DefaultServerConfig();
  ASSERT_OK(config.status());
  config->data_dir = dir.Join("state");
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(*config, &clock));
  tools::SimulatorOptions options;
  options.num_predictions = 2000;
  ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
  std::vector<v1::Event> events;
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (v1::Event& event : record.events) events.push_back(std::move(event));
  }
  server.SendAll(std::move(events));
  httplib::Client http(absl::StrCat("http://", server.server().http_address()));
  httplib::Result scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped);
  std::set<std::string> exported_families;
  std::set<std::string> exported_metrics;
  for (absl::string_view line : absl::StrSplit(scraped->body, '\n')) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      exported_families.insert(std::string(line.substr(0, line.find(' '))));
    }
  }
  const std::string& body = scraped->body;
  for (std::sregex_iterator it(body.begin(), body.end(), metric), end;
       it != end; ++it) {
    exported_metrics.insert((*it)[1]);
  }
  for (const std::string& name : families) {
    EXPECT_TRUE(exported_families.contains(name))
        << "the dashboard queries " << name
        << ", which /metrics does not export";
  }
  for (const std::string& name : metrics) {
    EXPECT_TRUE(exported_metrics.contains(name))
        << "the dashboard reads metric=\"" << name
        << "\", which /metrics does not export for a binary classifier";
  }
}

}  // namespace
}  // namespace vigie
