#include "services/event_bytes.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/pipeline.h"
#include "storage/record_codec.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::services {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr int64_t kT0 = 1'767'571'200;  // 2026-01-05T00:00:00Z.

vigie::v1::Prediction Base(const std::string& model, const std::string& id) {
  vigie::v1::Prediction p;
  p.set_model_id(model);
  p.set_prediction_id(id);
  p.mutable_event_time()->set_seconds(kT0);
  (*p.mutable_groups())["sex"] = "F";
  (*p.mutable_features())["income"].set_numeric(42.5);
  (*p.mutable_features())["city"].set_categorical("Lyon");
  return p;
}

// `bytes` as a length-delimited field 1: an event in a request, or a
// prediction in an event.
std::string Field1(const std::string& bytes) {
  std::string out;
  storage::AppendField(&out, 1, bytes);
  return out;
}

// Bytes of an Event holding `prediction`, with `extra` appended inside the
// prediction: how a client may encode what protobuf parses as one message.
std::string EventBytes(const vigie::v1::Prediction& prediction,
                       const std::string& extra = "") {
  return Field1(prediction.SerializeAsString() + extra);
}

class EventBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config;
    ModelConfig binary;
    binary.id = "credit";
    binary.decision_threshold = 0.5;
    config.models.push_back(binary);
    ModelConfig multiclass;
    multiclass.id = "triage";
    multiclass.task = "multiclass";
    multiclass.monitors.classes = {"low", "mid", "high"};
    config.models.push_back(multiclass);
    config.accept_undeclared_models = false;
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(store_, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         Pipeline::Create(config, store_.get(), &clock_));
  }

  testutil::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(kT0)};
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST(EventBytesOfTest, FindsEachEventAndRefusesWhatWouldNotLineUp) {
  vigie::v1::IngestRequest request;
  *request.add_events()->mutable_prediction() = Base("credit", "a");
  request.add_events()->mutable_outcome()->set_prediction_id("a");
  const std::string bytes = request.SerializeAsString();
  const std::vector<absl::string_view> events = EventBytesOf(bytes);
  ASSERT_EQ(events.size(), 2u);
  vigie::v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(std::string(events[1])));
  EXPECT_EQ(parsed.outcome().prediction_id(), "a");
  // Field 1 as a varint is an unknown field to protobuf, not an event.
  EXPECT_TRUE(EventBytesOf(bytes + std::string("\x08\x01", 2)).empty());
  EXPECT_TRUE(EventBytesOf(bytes + "\x0a\x05"
                                   "ab")
                  .empty());  // Truncated.
}

TEST(AppendPredictionEventTest, OnlyAnEventOfOnePredictionField) {
  std::string body;
  vigie::v1::Event outcome;
  outcome.mutable_outcome()->set_prediction_id("a");
  EXPECT_FALSE(AppendPredictionEvent(&body, outcome.SerializeAsString(), "")
                   .has_value());
  const std::string twice =
      EventBytes(Base("credit", "a")) + EventBytes(Base("credit", "b"));
  EXPECT_FALSE(AppendPredictionEvent(&body, twice, "").has_value());
  EXPECT_TRUE(body.empty());
}

// Receive makes the same record from the bytes events came in as from the
// parsed events, whatever the encoding: protobuf's parser is the judge.
TEST_F(EventBytesTest, RecordsFromBytesParseAsTheNormalisedEvents) {
  std::vector<std::string> events;
  // A binary score without its decision: validation fills it in.
  vigie::v1::Prediction score_only = Base("credit", "p1");
  score_only.mutable_binary()->set_score(0.7);
  events.push_back(EventBytes(score_only));
  // A decision given: nothing to append.
  vigie::v1::Prediction decided = Base("credit", "p2");
  decided.mutable_binary()->set_score(0.2);
  decided.mutable_binary()->set_decision(true);
  events.push_back(EventBytes(decided));
  // A multiclass prediction without its class.
  vigie::v1::Prediction classes = Base("triage", "p3");
  for (const auto& [label, p] : std::vector<std::pair<std::string, double>>{
           {"low", 0.2}, {"mid", 0.5}, {"high", 0.3}}) {
    vigie::v1::ClassProbability* c =
        classes.mutable_multiclass()->add_probabilities();
    c->set_label(label);
    c->set_probability(p);
  }
  events.push_back(EventBytes(classes));
  // A field given twice and an unknown field: the last model id wins, the
  // unknown field is kept.
  vigie::v1::Prediction twice = Base("other", "p4");
  twice.mutable_binary()->set_score(0.9);
  vigie::v1::Prediction last;
  last.set_model_id("credit");
  events.push_back(EventBytes(
      twice, last.SerializeAsString() + std::string("\xf8\x0f\x07", 3)));
  // Rejected (score out of range), and an outcome: serialized as parsed.
  vigie::v1::Prediction bad = Base("credit", "p5");
  bad.mutable_binary()->set_score(1.5);
  events.push_back(EventBytes(bad));
  vigie::v1::Event outcome;
  outcome.mutable_outcome()->set_model_id("credit");
  outcome.mutable_outcome()->set_prediction_id("p1");
  outcome.mutable_outcome()->set_binary(true);
  events.push_back(outcome.SerializeAsString());

  std::string request_bytes;
  for (const std::string& e : events) request_bytes += Field1(e);
  vigie::v1::IngestRequest parsed_once;
  vigie::v1::IngestRequest parsed_twice;
  ASSERT_TRUE(parsed_once.ParseFromString(request_bytes));
  ASSERT_TRUE(parsed_twice.ParseFromString(request_bytes));
  const Pipeline::Received serialized = pipeline_->Receive(parsed_once);
  const Pipeline::Received copied =
      pipeline_->Receive(parsed_twice, EventBytesOf(request_bytes));

  state::v1::IngestRecord a;
  state::v1::IngestRecord b;
  ASSERT_TRUE(a.ParseFromString(serialized.record));
  ASSERT_TRUE(b.ParseFromString(copied.record));
  vigie::v1::IngestRequest from_serialized;
  vigie::v1::IngestRequest from_copied;
  ASSERT_TRUE(from_serialized.ParseFromString(a.request()));
  ASSERT_TRUE(from_copied.ParseFromString(b.request()));
  ASSERT_EQ(from_copied.events_size(), 6);
  EXPECT_TRUE(MessageDifferencer::Equals(from_serialized, from_copied))
      << from_serialized.DebugString() << "\nvs\n"
      << from_copied.DebugString();
  // What validation filled in is there.
  EXPECT_TRUE(from_copied.events(0).prediction().binary().decision());
  EXPECT_EQ(from_copied.events(2).prediction().multiclass().predicted_class(),
            "mid");
  EXPECT_EQ(from_copied.events(3).prediction().model_id(), "credit");
  // The copy holds the client's bytes, the first model id given with them;
  // serializing keeps only the last.
  EXPECT_NE(copied.record.find(twice.SerializeAsString()), std::string::npos);
  EXPECT_EQ(serialized.record.find("other"), std::string::npos);

  // Each valid prediction's span is its whole normalised prediction.
  ASSERT_EQ(copied.predictions.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const auto [offset, length] = copied.predictions[i];
    const bool valid = i < 4;
    ASSERT_EQ(length > 0, valid) << "event " << i;
    ASSERT_EQ(serialized.predictions[i].second > 0, valid) << "event " << i;
    if (!valid) continue;
    vigie::v1::Prediction span;
    ASSERT_TRUE(span.ParseFromString(copied.record.substr(offset, length)));
    EXPECT_TRUE(MessageDifferencer::Equals(
        span, from_serialized.events(static_cast<int>(i)).prediction()))
        << "event " << i;
  }
}

}  // namespace
}  // namespace vigie::services
