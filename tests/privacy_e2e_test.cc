// What the real server leaves on disk and in its log (issue 11, referential
// Q1.5): after predictions, outcomes, a graceful stop, more predictions and
// a SIGKILL (so that the ingest log, pending blocks and join marks all hold
// records), the test reads every file of the data folder and the server's
// log, and each column family through RocksDB itself, and finds no raw
// prediction id anywhere, and no raw feature value or group attribute
// outside the monitors' aggregates. The server still recovers every event,
// and refuses to start under another secret.

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"

namespace vigie {
namespace {

constexpr int kPredictions = 2000;
constexpr int kLabelled = 1000;
constexpr int kLate = 300;
constexpr int kLateOutcomes = 100;

std::string Id(int i) { return absl::StrFormat("pid-zq7x-%05d", i); }
std::string Postcode(int i) { return absl::StrFormat("pc-zq7x-%05d", i); }
// Exact in binary, so that its 8 bytes are what any serialization holds.
double Income(int i) { return 40000.0625 + 1.25 * i; }
std::string Group(int i) { return i % 2 == 0 ? "grp-zq7x-a" : "grp-zq7x-b"; }

v1::Event Prediction(int i) {
  v1::Event event;
  v1::Prediction& p = *event.mutable_prediction();
  p.set_model_id("credit");
  p.set_prediction_id(Id(i));
  p.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  p.mutable_binary()->set_score((i % 100) / 100.0);
  (*p.mutable_groups())["segment"] = Group(i);
  (*p.mutable_features())["income"].set_numeric(Income(i));
  (*p.mutable_features())["postcode"].set_categorical(Postcode(i));
  return event;
}

v1::Event Outcome(int i) {
  v1::Event event;
  v1::Outcome& o = *event.mutable_outcome();
  o.set_model_id("credit");
  o.set_prediction_id(Id(i));
  o.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  o.set_binary(i % 3 == 0);
  return event;
}

absl::StatusOr<v1::IngestReply> Send(const std::string& address,
                                     std::vector<v1::Event> events) {
  ASSIGN_OR_RETURN(auto client, tools::VigieClient::Connect(address));
  testutil::VectorSource source(events);
  ASSIGN_OR_RETURN(tools::StreamResult result,
                   client->StreamEvents(source, tools::StreamOptions()));
  return result.reply;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string DoubleBytes(double value) {
  std::string bytes(sizeof value, '\0');
  std::memcpy(bytes.data(), &value, sizeof value);
  return bytes;
}

// Files under `dir` (recursively) whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (Slurp(entry.path().string()).find(needle) != std::string::npos) {
      found.push_back(entry.path().filename().string());
    }
  }
  return found;
}

// Every value of every column family of the store at `dir`, by family,
// read by RocksDB itself (the write-ahead log replayed).
std::map<std::string, std::vector<std::string>> ReadStore(
    const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::OpenForReadOnly(
      rocksdb::DBOptions(), dir, families, &handles, &raw);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  std::map<std::string, std::vector<std::string>> values;
  if (!opened.ok()) return values;
  std::unique_ptr<rocksdb::DB> db(raw);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handle));
    auto& family = values[handle->GetName()];
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      family.push_back(it->key().ToString() + it->value().ToString());
    }
    db->DestroyColumnFamilyHandle(handle);
  }
  return values;
}

class PrivacyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteConfig(dir_.Join("vigie.yaml"), dir_.Join("secret"));
    std::ofstream(dir_.Join("secret"))
        << "3f1c9a7e5b2d4f6081a3c5e7092b4d6f8a1c3e5f7092b4d6f8a1c3e5f7092b4d\n";
  }

  static void WriteConfig(const std::string& path, const std::string& secret) {
    // A checkpoint only at a graceful stop (or every hour), so that the
    // ingest log still holds what came after it when the server is killed.
    std::ofstream(path) << "checkpoint_interval: 1h\n"
                        << "privacy:\n  secret_file: " << secret << "\n";
  }

  absl::StatusOr<testutil::ServerProcess> Start(const std::string& config) {
    return testutil::ServerProcess::Start(VIGIE_SERVER_BINARY, data(), log(),
                                          {"--config=" + config});
  }
  std::string data() const { return dir_.Join("data"); }
  std::string log() const { return dir_.Join("server.log"); }

  testutil::TempDir dir_;
};

TEST_F(PrivacyE2eTest, NoRawIdOrEventOnDiskOrInTheLog) {
  const std::string config = dir_.Join("vigie.yaml");
  {
    ASSERT_OK_AND_ASSIGN(auto server, Start(config));
    std::vector<v1::Event> events;
    for (int i = 0; i < kPredictions; ++i) events.push_back(Prediction(i));
    for (int i = 0; i < kLabelled; ++i) events.push_back(Outcome(i));
    ASSERT_OK_AND_ASSIGN(v1::IngestReply reply, Send(server.address(), events));
    ASSERT_EQ(reply.accepted(), kPredictions + kLabelled);
    ASSERT_EQ(reply.joined(), kLabelled);
    // A graceful stop checkpoints: pending blocks and join marks.
    server.Signal(SIGTERM);
    server.Wait();
  }
  {
    ASSERT_OK_AND_ASSIGN(auto server, Start(config));
    std::vector<v1::Event> events;
    for (int i = kPredictions; i < kPredictions + kLate; ++i) {
      events.push_back(Prediction(i));
    }
    ASSERT_OK_AND_ASSIGN(v1::IngestReply reply, Send(server.address(), events));
    ASSERT_EQ(reply.accepted(), kLate);
    // Acknowledged, so in the ingest log, and no checkpoint for an hour.
    server.Signal(SIGKILL);
    server.Wait();
  }

  // The store, family by family. Each of the three kinds of record that
  // hold events is there, so that finding nothing in it means something.
  const auto families = ReadStore(data());
  ASSERT_FALSE(families.empty());
  for (const char* family : {"ingest_log", "pending", "join_marks"}) {
    ASSERT_TRUE(families.contains(family)) << family;
    EXPECT_FALSE(families.at(family).empty()) << family;
  }
  for (const auto& [family, values] : families) {
    // The monitors' aggregates may hold feature values (sketches) and group
    // labels (the keys of their counts); alerts, the labels of the groups
    // whose figures they are about. Nothing else may.
    const bool aggregates = family == "panes" || family == "archives" ||
                            family == "references" ||
                            family == "reference_versions";
    const bool alerts = family == "alerts" || family == "alert_history";
    for (const std::string& value : values) {
      ASSERT_EQ(value.find("pid-zq7x"), std::string::npos) << family;
      if (aggregates) continue;
      ASSERT_EQ(value.find("pc-zq7x"), std::string::npos) << family;
      if (!alerts) {
        ASSERT_EQ(value.find("grp-zq7x"), std::string::npos) << family;
      }
      for (int i = 0; i < kPredictions + kLate; ++i) {
        ASSERT_EQ(value.find(DoubleBytes(Income(i))), std::string::npos)
            << family << " holds income " << Income(i);
      }
    }
  }

  // Every file, the write-ahead log and RocksDB's own logs included.
  EXPECT_TRUE(FilesContaining(data(), "pid-zq7x").empty());

  // A restart replays the sealed ingest log and joins outcomes with
  // predictions read back from sealed blocks.
  {
    ASSERT_OK_AND_ASSIGN(auto server, Start(config));
    std::vector<v1::Event> events;
    for (int i = kLabelled; i < kLabelled + kLateOutcomes; ++i) {
      events.push_back(Outcome(i));
    }
    ASSERT_OK_AND_ASSIGN(v1::IngestReply reply, Send(server.address(), events));
    EXPECT_EQ(reply.joined(), kLateOutcomes);
    ASSERT_OK_AND_ASSIGN(auto client,
                         tools::VigieClient::Connect(server.address()));
    v1::GetMetricsRequest request;
    request.set_model_id("credit");
    ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply metrics,
                         client->GetMetrics(request));
    EXPECT_EQ(metrics.counters().predictions(),
              static_cast<uint64_t>(kPredictions + kLate));
    EXPECT_EQ(metrics.counters().joined(),
              static_cast<uint64_t>(kLabelled + kLateOutcomes));
    EXPECT_EQ(metrics.counters().pending_predictions(),
              static_cast<uint64_t>(kPredictions + kLate - kLabelled -
                                    kLateOutcomes));
    server.Signal(SIGKILL);
    server.Wait();
  }
  EXPECT_TRUE(FilesContaining(data(), "pid-zq7x").empty());

  // The server's log, at its default level.
  const std::string logged = Slurp(log());
  ASSERT_FALSE(logged.empty());
  EXPECT_EQ(logged.find("pid-zq7x"), std::string::npos);
  EXPECT_EQ(logged.find("pc-zq7x"), std::string::npos);
  EXPECT_EQ(logged.find("40000.0625"), std::string::npos);

  // The scan itself finds what is there: the ids are in the test's own
  // log of what it sent.
  std::ofstream(dir_.Join("data/canary")) << Id(7);
  EXPECT_EQ(FilesContaining(data(), "pid-zq7x"),
            std::vector<std::string>{"canary"});
}

TEST_F(PrivacyE2eTest, AnotherSecretIsRefused) {
  {
    ASSERT_OK_AND_ASSIGN(auto server, Start(dir_.Join("vigie.yaml")));
    ASSERT_OK(Send(server.address(), {Prediction(1)}).status());
    server.Signal(SIGTERM);
    server.Wait();
  }
  std::ofstream(dir_.Join("other-secret"))
      << "0000000000000000000000000000000000000000000000000000000000000000";
  WriteConfig(dir_.Join("other.yaml"), dir_.Join("other-secret"));
  EXPECT_FALSE(Start(dir_.Join("other.yaml")).ok());
  EXPECT_NE(Slurp(log()).find("another privacy secret"), std::string::npos)
      << Slurp(log());
}

// PurgeModel: after it, no key or value of any column family names the
// purged model, the other model's state is untouched, a restart brings
// nothing back, and the counts it reports are the test's own tally.
TEST_F(PrivacyE2eTest, PurgeRemovesEveryTraceOfTheModelAndNothingElse) {
  const std::string purged = "model-zq7x-purged";
  auto of = [](const std::string& model, v1::Event event) {
    if (event.has_prediction()) {
      event.mutable_prediction()->set_model_id(model);
    } else {
      event.mutable_outcome()->set_model_id(model);
    }
    return event;
  };
  std::vector<v1::Event> events;
  for (const std::string& model : {purged, std::string("kept")}) {
    for (int i = 0; i < 400; ++i) events.push_back(of(model, Prediction(i)));
    for (int i = 0; i < 150; ++i) events.push_back(of(model, Outcome(i)));
  }
  // Outcomes that wait for a prediction that never comes.
  for (int i = 1000; i < 1020; ++i) events.push_back(of(purged, Outcome(i)));
  v1::GetMetricsReply kept_before;
  {
    ASSERT_OK_AND_ASSIGN(auto server, Start(dir_.Join("vigie.yaml")));
    ASSERT_OK_AND_ASSIGN(v1::IngestReply reply, Send(server.address(), events));
    ASSERT_EQ(reply.rejected(), 0u);
    // A graceful stop, so that pending blocks and join marks are on disk.
    server.Signal(SIGTERM);
    server.Wait();
  }
  ASSERT_OK_AND_ASSIGN(auto server, Start(dir_.Join("vigie.yaml")));
  ASSERT_OK_AND_ASSIGN(auto client,
                       tools::VigieClient::Connect(server.address()));
  v1::GetMetricsRequest kept;
  kept.set_model_id("kept");
  ASSERT_OK_AND_ASSIGN(kept_before, client->GetMetrics(kept));

  v1::PurgeModelRequest request;
  request.set_model_id(purged);
  ASSERT_OK_AND_ASSIGN(v1::PurgeModelReply reply, client->PurgeModel(request));
  EXPECT_EQ(reply.predictions(), 400u);
  EXPECT_EQ(reply.outcomes(), 170u);
  EXPECT_EQ(reply.pending(), 400u - 150u + 20u);
  EXPECT_EQ(reply.join_marks(), 150u);
  EXPECT_GE(reply.panes(), 1u);
  // Nothing is left to purge.
  EXPECT_EQ(client->PurgeModel(request).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply kept_after,
                       client->GetMetrics(kept));
  EXPECT_EQ(kept_after.counters().DebugString(),
            kept_before.counters().DebugString());
  server.Signal(SIGTERM);
  server.Wait();

  const auto families = ReadStore(data());
  size_t kept_values = 0;
  for (const auto& [family, values] : families) {
    for (const std::string& value : values) {
      ASSERT_EQ(value.find(purged), std::string::npos) << family;
      if (value.find("kept") != std::string::npos) ++kept_values;
    }
  }
  EXPECT_GT(kept_values, 0u);

  // A restart loads nothing of it: its outcomes are new again.
  ASSERT_OK_AND_ASSIGN(server, Start(dir_.Join("vigie.yaml")));
  ASSERT_OK_AND_ASSIGN(v1::IngestReply again,
                       Send(server.address(), {of(purged, Outcome(3))}));
  EXPECT_EQ(again.accepted(), 1u);
  EXPECT_EQ(again.joined(), 0u);
  ASSERT_OK_AND_ASSIGN(client, tools::VigieClient::Connect(server.address()));
  v1::GetMetricsRequest of_purged;
  of_purged.set_model_id(purged);
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply fresh,
                       client->GetMetrics(of_purged));
  EXPECT_EQ(fresh.counters().predictions(), 0u);
  EXPECT_EQ(fresh.counters().outcomes(), 1u);
  ASSERT_OK_AND_ASSIGN(kept_after, client->GetMetrics(kept));
  EXPECT_EQ(kept_after.counters().joined(), 150u);
}

}  // namespace
}  // namespace vigie
