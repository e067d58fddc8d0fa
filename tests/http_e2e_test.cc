// The HTTP endpoints of the real server on loopback: probes, and /metrics
// read as Prometheus would, its numbers checked against the test's own
// tally of the stream it sent over gRPC.

#include <httplib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/simulator.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie {
namespace {

// One sample of the exposition text.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses Prometheus's text format as a scraper would, failing the test on
// a line it would refuse: a sample before its family's TYPE, a series
// twice, a malformed label or value.
std::vector<Sample> Parse(const std::string& text) {
  std::vector<Sample> samples;
  std::set<std::string> typed;
  std::set<std::string> series;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 4u) << line;
      EXPECT_TRUE(parts.size() == 4 &&
                  (parts[3] == "gauge" || parts[3] == "counter"))
          << line;
      if (parts.size() >= 3) typed.insert(parts[2]);
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;
    Sample sample;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    if (space == absl::string_view::npos) continue;
    sample.name = std::string(line.substr(0, std::min(brace, space)));
    if (brace != absl::string_view::npos) {
      // name="value",... with \\, \" and \n escaped.
      size_t i = brace + 1;
      while (i < space && line[i] != '}') {
        const size_t eq = line.find('=', i);
        EXPECT_NE(eq, absl::string_view::npos) << line;
        if (eq == absl::string_view::npos) break;
        const std::string name(line.substr(i, eq - i));
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        EXPECT_TRUE(sample.labels.emplace(name, value).second) << line;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
    }
    const std::string value(line.substr(space + 1));
    EXPECT_TRUE(absl::SimpleAtod(value, &sample.value) || value == "NaN" ||
                value == "+Inf" || value == "-Inf")
        << line;
    EXPECT_TRUE(typed.contains(sample.name)) << "no TYPE before " << line;
    EXPECT_TRUE(series.insert(std::string(line.substr(0, space))).second)
        << "series twice: " << line;
    samples.push_back(std::move(sample));
  }
  return samples;
}

// The samples named `name` whose labels include `labels`.
std::vector<Sample> Find(const std::vector<Sample>& samples,
                         const std::string& name,
                         const std::map<std::string, std::string>& labels) {
  std::vector<Sample> found;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = sample.labels.find(k);
      match = match && it != sample.labels.end() && it->second == v;
    }
    if (match) found.push_back(sample);
  }
  return found;
}

class HttpE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tools::SimulatorOptions options;
    options.num_predictions = 3000;
    options.seed = 17;
    ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
    tools::EventRecord record;
    while (simulator->Next(&record)) {
      for (v1::Event& event : record.events) {
        if (event.has_prediction()) {
          const v1::Prediction& p = event.prediction();
          const std::string& sex = p.groups().at("sex");
          ++predictions_[sex];
          if (p.binary().score() >= 0.5) ++selected_[sex];
        }
        events_.push_back(std::move(event));
      }
    }
  }

  services::ServerConfig Config(uint32_t max_series = 10'000) {
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    EXPECT_TRUE(config.ok()) << config.status();
    config->data_dir = dir_.Join("state");
    // One window longer than the whole stream (about a day of event time),
    // one shorter.
    config->metrics.windows = {absl::Hours(24 * 30), absl::Hours(1)};
    config->metrics.max_series = max_series;
    return *config;
  }

  httplib::Client Http(testutil::LoopbackServer& server) {
    const std::string address = server.server().http_address();
    return httplib::Client(absl::StrCat("http://", address));
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::vector<v1::Event> events_;
  std::map<std::string, uint64_t> predictions_;
  std::map<std::string, uint64_t> selected_;
};

TEST_F(HttpE2eTest, ProbesAnswerAndMetricsMatchTheStream) {
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config(), &clock_));
  httplib::Client http = Http(server);
  httplib::Result healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz) << httplib::to_string(healthz.error());
  EXPECT_EQ(healthz->status, 200);
  httplib::Result readyz = http.Get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);
  EXPECT_EQ(readyz->body, "ready\n");

  server.SendAll(events_);
  httplib::Result metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::vector<Sample> samples = Parse(metrics->body);

  uint64_t predictions = 0;
  for (const auto& [sex, n] : predictions_) predictions += n;
  const std::vector<Sample> sent =
      Find(samples, "vigie_events_total",
           {{"model", "demo"}, {"kind", "prediction"}});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].value, static_cast<double>(predictions));
  const std::vector<Sample> joined =
      Find(samples, "vigie_joins_total", {{"model", "demo"}});
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].value, static_cast<double>(predictions));

  // Selection rate per sex over the window holding the whole stream, as
  // the test counts it.
  for (const auto& [sex, n] : predictions_) {
    const std::vector<Sample> rate =
        Find(samples, "vigie_monitor_value",
             {{"model", "demo"},
              {"window", "720h"},
              {"metric", "fairness.groups.selection_rate"},
              {"attribute", "sex"},
              {"group", sex}});
    ASSERT_EQ(rate.size(), 1u) << sex;
    EXPECT_DOUBLE_EQ(rate[0].value, static_cast<double>(selected_.at(sex)) /
                                        static_cast<double>(n))
        << sex;
  }
  // Every joined pair had a score: the calibration counted them all.
  const std::vector<Sample> calibrated =
      Find(samples, "vigie_monitor_value",
           {{"window", "720h"}, {"metric", "calibration.count"}});
  ASSERT_EQ(calibrated.size(), 1u);
  EXPECT_EQ(calibrated[0].value, static_cast<double>(predictions));
  // The one-hour window holds fewer predictions than the stream.
  const std::vector<Sample> recent =
      Find(samples, "vigie_monitor_value",
           {{"window", "1h"}, {"metric", "calibration.count"}});
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_LT(recent[0].value, static_cast<double>(predictions));

  // Vigie's own footprint: the per-million figures are its totals over the
  // events it received (every prediction with its outcome, none rejected).
  const std::vector<Sample> cpu =
      Find(samples, "vigie_process_cpu_seconds_total", {});
  const std::vector<Sample> cpu_per_million =
      Find(samples, "vigie_cpu_seconds_per_million_events", {});
  ASSERT_EQ(cpu.size(), 1u);
  ASSERT_EQ(cpu_per_million.size(), 1u);
  EXPECT_GT(cpu[0].value, 0);
  const double millions = 2.0 * static_cast<double>(predictions) / 1e6;
  EXPECT_NEAR(cpu_per_million[0].value, cpu[0].value / millions,
              1e-9 * cpu_per_million[0].value);
  const std::vector<Sample> written =
      Find(samples, "vigie_process_written_bytes_total", {});
  const std::vector<Sample> written_per_million =
      Find(samples, "vigie_written_bytes_per_million_events", {});
  ASSERT_EQ(written.size(), written_per_million.size());
  if (!written.empty()) {
    EXPECT_NEAR(written_per_million[0].value, written[0].value / millions,
                1e-9 * (1 + written_per_million[0].value));
  }

  const std::vector<Sample> dropped =
      Find(samples, "vigie_metrics_series_dropped", {});
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].value, 0);
  EXPECT_EQ(
      Find(samples, "vigie_build_info", {{"version", VIGIE_VERSION}}).size(),
      1u);

  // With a cap below the series there are, the scrape keeps exactly the
  // cap and counts the rest.
  const size_t all = samples.size() - 1;  // Less the dropped count itself.
  server.Stop();
  ASSERT_OK(server.Start(Config(/*max_series=*/100), &clock_));
  httplib::Client capped = Http(server);
  httplib::Result again = capped.Get("/metrics");
  ASSERT_TRUE(again);
  const std::vector<Sample> kept = Parse(again->body);
  const std::vector<Sample> counted =
      Find(kept, "vigie_metrics_series_dropped", {});
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_EQ(kept.size() - 1, 100u);
  // The restart ran no checkpoint series of its own differently: the same
  // families, so the same number of series in all.
  EXPECT_EQ(counted[0].value, static_cast<double>(all - 100));
}

TEST_F(HttpE2eTest, ReadyzSaysNoOnceShutdownBegins) {
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config(), &clock_));
  httplib::Client http = Http(server);
  // An ingest stream left open holds the shutdown in its grace period.
  std::unique_ptr<v1::Vigie::Stub> stub =
      v1::Vigie::NewStub(grpc::CreateChannel(
          server.server().address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::IngestReply reply;
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer =
      stub->Ingest(&context, &reply);
  ASSERT_TRUE(writer->Write(v1::IngestRequest()));
  std::thread stopper([&] { server.server().Shutdown(absl::Seconds(5)); });
  // Polled while the shutdown drains, and once more after it: the server
  // object still exists, so HTTP still answers.
  int status = 0;
  std::string body;
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  while (absl::Now() < deadline && status != 503) {
    if (httplib::Result readyz = http.Get("/readyz"); readyz) {
      status = readyz->status;
      body = readyz->body;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, "not ready: shutting down\n");
  writer->WritesDone();
  writer->Finish().IgnoreError();
  stopper.join();
  httplib::Result after = http.Get("/readyz");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 503);
  httplib::Result healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  // /metrics reads nothing of the stopped parts.
  httplib::Result metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("vigie_build_info"), std::string::npos);
}

TEST_F(HttpE2eTest, NoHttpServerWhenTheAddressIsEmpty) {
  services::ServerConfig config = Config();
  config.http_address = "";
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(config, &clock_));
  EXPECT_EQ(server.server().http_address(), "");
}

}  // namespace
}  // namespace vigie
